/**
 * The transformers weight and config mapping of the MoE layer (any backend):
 * key names and shapes per target and layout, the layer's output against a
 * float64 reference of the transformers block computed from the exported keys
 * (softmax or sigmoid scores, bias for the choice only, top-k, renormalised
 * gates, silu(gate)·up, down, shared experts), exact round trips, and the
 * errors for what a target cannot express. The Python tests run the real
 * transformers blocks (test/python/test_moe_transformers.py).
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {backendTolerance, expectClose} from '@sluice/core/testing';

import type {MixtureOfExpertsConfig} from '../config';
import {mixtureOfExperts, MixtureOfExperts} from '../mixture_of_experts';
import {exportTransformersWeights, importTransformersWeights, moeConfigFromTransformers, transformersConfigJson,
        transformersMoeConfig, weightKeys} from '../transformers';
import {ExpertLayout, TARGETS, TransformersTarget} from '../transformers/targets';

const D = 6, H = 4, E = 4, N = 9;
const PREFIX = 'model.layers.3.';

interface Case {
  target: TransformersTarget;
  layout: ExpertLayout;
  config: Partial<MixtureOfExpertsConfig>;
}

const CASES: Case[] = [
  {target: 'mixtral', layout: 'perExpert', config: {topK: 2}},
  {target: 'mixtral', layout: 'fused', config: {topK: 3}},
  {target: 'qwen3_moe', layout: 'perExpert', config: {topK: 1}},
  {target: 'olmoe', layout: 'fused', config: {topK: 2}},
  {target: 'glm4_moe', layout: 'perExpert', config: {topK: 2, scoring: 'sigmoid', sharedExperts: 1}},
  {target: 'deepseek_v3', layout: 'fused', config: {topK: 2, scoring: 'sigmoid', sharedExperts: 2}},
  {target: 'deepseek_v3', layout: 'perExpert', config: {topK: 1, scoring: 'sigmoid'}},
  // Mixtral renormalises at k = 1 too (every gate 1); Glm4Moe / DeepSeek-V3 with their scaling, groups and no renorm.
  {target: 'mixtral', layout: 'perExpert', config: {topK: 1, normalizeGates: true}},
  {target: 'glm4_moe', layout: 'fused', config: {topK: 2, scoring: 'sigmoid', sharedExperts: 1, normalizeGates: false,
                                                 routedScalingFactor: 2.5, numGroups: 2, topKGroups: 1}},
  {target: 'deepseek_v3', layout: 'perExpert', config: {topK: 2, scoring: 'sigmoid', routedScalingFactor: 1.5,
                                                        numGroups: 2, topKGroups: 1}},
];

function layerFor(c: Case, seed = 3): MixtureOfExperts {
  return mixtureOfExperts({numExperts: E, units: D, hiddenUnits: H, activation: 'swiglu', seed, ...c.config});
}

async function built(c: Case, seed = 3): Promise<MixtureOfExperts> {
  const layer = layerFor(c, seed);
  tf.dispose(layer.apply(tf.zeros([1, D])) as tf.Tensor);
  if (TARGETS[c.target].deepseekStyle) {
    const bias = layer.weights.find(w => w.originalName.endsWith('/selection_bias'))!;
    const values = tf.tensor1d([0.3, -0.2, 0.1, -0.4]);
    bias.write(values);
    values.dispose();
  }
  return layer;
}

type Host = Record<string, Float64Array>;

/** The transformers block's forward in float64, from its keys alone. */
function transformersReference(w: Host, c: Case, x: Float64Array): Float64Array {
  const spec = TARGETS[c.target];
  const m = `${PREFIX}${spec.module[c.layout]}.`;
  const k = c.config.topK!, s = c.config.sharedExperts ?? 0;
  // norm_topk_prob, routed_scaling_factor and n_group / topk_group as transformersMoeConfig writes them.
  const renormalise = c.config.normalizeGates ?? (c.target === 'mixtral' || k > 1);
  const scale = c.config.routedScalingFactor ?? 1;
  const groups = c.config.numGroups ?? 1, keptGroups = c.config.topKGroups ?? groups;
  const silu = (v: number) => v / (1 + Math.exp(-v));
  const matVec = (mat: Float64Array, rows: number, cols: number, v: Float64Array, rowOffset = 0) =>
      Float64Array.from({length: rows}, (_, r) => v.reduce((a, vi, i) => a + mat[(rowOffset + r) * cols + i] * vi, 0));
  const mlp = (gate: Float64Array, up: Float64Array, down: Float64Array, width: number, v: Float64Array) => {
    const g = matVec(gate, width, D, v), u = matVec(up, width, D, v);
    return matVec(down, D, width, g.map((gi, i) => silu(gi) * u[i]));
  };
  const out = new Float64Array(N * D);
  for (let t = 0; t < N; ++t) {
    const v = x.subarray(t * D, (t + 1) * D);
    const logits = matVec(w[`${m}gate.weight`], E, D, v);
    const max = Math.max(...logits);
    const z = logits.reduce((a, l) => a + Math.exp(l - max), 0);
    const scores = spec.scoring === 'softmax' ? logits.map(l => Math.exp(l - max) / z) : logits.map(l => 1 / (1 + Math.exp(-l)));
    const bias = w[`${m}gate.e_score_correction_bias`];
    const biased = Array.from(scores, (p, e) => p + (bias ? bias[e] : 0));
    // DeepSeek-V3's group limit (modeling_deepseek_v3.py, DeepseekV3MoE.route_tokens_to_experts): the groups
    // with the largest sum of their two best biased scores stay eligible.
    const size = E / groups;
    const groupScore = Array.from({length: groups}, (_, g) =>
        biased.slice(g * size, (g + 1) * size).sort((a, b) => b - a).slice(0, 2).reduce((a, b) => a + b, 0));
    const kept = new Set(groupScore.map((v, g) => [v, g]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, keptGroups)
                             .map(([, g]) => g));
    const choice = biased.map((p, e) => [kept.has(Math.floor(e / size)) ? p : -Infinity, e])
                       .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const chosen = choice.slice(0, k).map(([, e]) => e);
    const total = chosen.reduce((a, e) => a + scores[e], 0);
    const y = out.subarray(t * D, (t + 1) * D);
    for (const e of chosen) {
      const gate = scale * (renormalise ? scores[e] / total : scores[e]);
      let h: Float64Array;
      if (c.layout === 'fused') {
        const gu = w[`${m}experts.gate_up_proj`].subarray(e * 2 * H * D, (e + 1) * 2 * H * D);
        h = mlp(gu.subarray(0, H * D), gu.subarray(H * D), w[`${m}experts.down_proj`].subarray(e * D * H, (e + 1) * D * H),
                H, v);
      } else {
        h = mlp(w[`${m}experts.${e}.${spec.gate}.weight`], w[`${m}experts.${e}.${spec.up}.weight`],
                w[`${m}experts.${e}.${spec.down}.weight`], H, v);
      }
      h.forEach((hi, i) => y[i] += gate * hi);
    }
    if (spec.deepseekStyle && s > 0) {
      mlp(w[`${m}shared_experts.gate_proj.weight`], w[`${m}shared_experts.up_proj.weight`],
          w[`${m}shared_experts.down_proj.weight`], s * H, v).forEach((hi, i) => y[i] += hi);
    }
  }
  return out;
}

async function toHost(map: tf.NamedTensorMap): Promise<Host> {
  const out: Host = {};
  for (const [key, t] of Object.entries(map)) out[key] = Float64Array.from(await t.data());
  return out;
}

export function describeTransformersMapping() {
  describeWithFlags('mixtureOfExperts <-> transformers weights', ALL_ENVS, env => {
    const tol = backendTolerance(env.backendName);
    // Made per spec: describeWithFlags gives every spec a fresh engine.
    let x: tf.Tensor, xs: Float64Array;
    beforeEach(async () => {
      x = tf.randomNormal([N, D], 0, 1, 'float32', 21);
      xs = Float64Array.from(await x.data());
    });
    afterEach(() => x.dispose());

    for (const c of CASES) {
      it(`${c.target} ${c.layout}: keys, shapes, and the block's float64 forward equals the layer's`, async () => {
        const layer = await built(c);
        const before = tf.memory().numTensors;
        const weights = await exportTransformersWeights(layer, c.target, {prefix: PREFIX, layout: c.layout});
        const table = weightKeys(layer.moe, D, c.target, c.layout, PREFIX);
        expect(Object.keys(weights)).toEqual(table.map(k => k.key));
        for (const k of table) expect(weights[k.key].shape).toEqual(k.shape);
        const y = layer.apply(x) as tf.Tensor;
        expectClose(await y.data(), transformersReference(await toHost(weights), c, xs), tol, `${c.target} ${c.layout}`);
        tf.dispose([y, ...Object.values(weights)]);
        expect(tf.memory().numTensors).toBe(before);
        layer.dispose();
      });

      it(`${c.target} ${c.layout}: export -> import gives the same weights and outputs`, async () => {
        const layer = await built(c), copy = layerFor(c, 99);
        const weights = await exportTransformersWeights(layer, c.target, {prefix: PREFIX, layout: c.layout});
        const before = tf.memory().numTensors;
        await importTransformersWeights(copy, c.target, weights, {prefix: PREFIX});
        // The import builds the layer (its weights are new tensors) and leaves nothing else behind.
        expect(tf.memory().numTensors).toBe(before + copy.weights.length + 3);  // + the metrics of the building call
        for (const w of layer.weights) {
          const twin = copy.weights.find(v => v.originalName.split('/').pop() === w.originalName.split('/').pop())!;
          expect(Array.from(await twin.read().data())).toEqual(Array.from(await w.read().data()));
        }
        const a = layer.apply(x) as tf.Tensor, b = copy.apply(x) as tf.Tensor;
        expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
        tf.dispose([a, b, ...Object.values(weights)]);
        layer.dispose();
        copy.dispose();
      });
    }

    it('key names follow transformers: Mixtral per expert, Qwen3 fused, DeepSeek-V3 bias and shared experts', () => {
      const keys = (c: Case) => weightKeys(layerFor(c).moe, D, c.target, c.layout, PREFIX).map(k => k.key);
      const mixtral = keys({target: 'mixtral', layout: 'perExpert', config: {topK: 2}});
      expect(mixtral.length).toBe(1 + 3 * E);
      expect(mixtral).toContain('model.layers.3.block_sparse_moe.gate.weight');
      expect(mixtral).toContain('model.layers.3.block_sparse_moe.experts.3.w3.weight');
      expect(keys({target: 'qwen3_moe', layout: 'fused', config: {topK: 2}})).toEqual(
          ['model.layers.3.mlp.gate.weight', 'model.layers.3.mlp.experts.gate_up_proj', 'model.layers.3.mlp.experts.down_proj']);
      expect(keys({target: 'deepseek_v3', layout: 'fused', config: {topK: 2, scoring: 'sigmoid', sharedExperts: 1}}))
          .toEqual(['model.layers.3.mlp.gate.weight', 'model.layers.3.mlp.gate.e_score_correction_bias',
                    'model.layers.3.mlp.experts.gate_up_proj', 'model.layers.3.mlp.experts.down_proj',
                    'model.layers.3.mlp.shared_experts.gate_proj.weight', 'model.layers.3.mlp.shared_experts.up_proj.weight',
                    'model.layers.3.mlp.shared_experts.down_proj.weight']);
    });

    describe('what a target cannot express', () => {
      const bad: Array<[string, TransformersTarget, Partial<MixtureOfExpertsConfig>, RegExp]> = [
        ['gelu experts', 'mixtral', {topK: 2, activation: 'gelu'}, /config.activation must be 'swiglu' for target 'mixtral'.*got 'gelu'/],
        ['an expert-choice router', 'qwen3_moe', {topK: 2, router: 'expertChoice'}, /config.router must be 'topk'.*got 'expertChoice'/],
        ['sigmoid scores on Mixtral', 'mixtral', {topK: 2, scoring: 'sigmoid'}, /config.scoring must be 'softmax' for target 'mixtral', got 'sigmoid'/],
        ['softmax scores on DeepSeek-V3', 'deepseek_v3', {topK: 2}, /config.scoring must be 'sigmoid' for target 'deepseek_v3', got 'softmax'/],
        ['shared experts on Mixtral', 'mixtral', {topK: 2, sharedExperts: 1}, /config.sharedExperts must be 0 for target 'mixtral'.*got 1/],
        ['shared experts on Qwen3', 'qwen3_moe', {topK: 2, sharedExperts: 2}, /config.sharedExperts must be 0 for target 'qwen3_moe'.*got 2/],
        ['unnormalised gates on Mixtral', 'mixtral', {topK: 2, normalizeGates: false},
         /config.normalizeGates must be true for target 'mixtral'.*got false/],
        ['routed scaling on Qwen3', 'qwen3_moe', {topK: 2, routedScalingFactor: 2},
         /config.routedScalingFactor must be 1 for target 'qwen3_moe'.*got 2/],
        ['expert groups on OLMoE', 'olmoe', {topK: 2, numGroups: 2, topKGroups: 1},
         /config.numGroups must be left out for target 'olmoe'.*got 2/],
        ['capacity drops', 'olmoe', {topK: 2, capacityFactor: 1.25}, /config.capacityFactor must be 0 \(dropless\).*got 1.25/],
        ['units other than the input size', 'qwen3_moe', {topK: 2, units: 5}, /config.units must be the input size 6.*got 5/],
      ];
      for (const [what, target, config, message] of bad) {
        it(`${what}: export and import name the field`, async () => {
          const fresh = () => mixtureOfExperts({numExperts: E, units: D, hiddenUnits: H, activation: 'swiglu', ...config});
          // build(), not a call: a capacity config cannot run on webgpu, and no call is needed to export.
          const layer = fresh();
          layer.build([null, D]);
          await expectAsync(exportTransformersWeights(layer, target)).toBeRejectedWithError(message);
          layer.weights.forEach(w => w.dispose());
          const router = tf.zeros([E, D]);
          const before = tf.memory().numTensors;
          await expectAsync(importTransformersWeights(fresh(), target, {'mlp.gate.weight': router,
                                                                        'block_sparse_moe.gate.weight': router}))
              .toBeRejectedWithError(message);
          expect(tf.memory().numTensors).toBe(before);  // refused before the layer was built
          router.dispose();
        });
      }

      it('a selection bias on a target without one', async () => {
        const c: Case = {target: 'glm4_moe', layout: 'perExpert', config: {topK: 2, scoring: 'sigmoid'}};
        const layer = await built(c);
        await expectAsync(exportTransformersWeights(layer, 'glm4_moe')).toBeResolved();
        const qwen = mixtureOfExperts({numExperts: E, units: D, hiddenUnits: H, activation: 'swiglu', topK: 2,
                                       balance: {biasUpdateRate: 0.1}});
        // 16 copies of one token all pick the same 2 of the 4 experts, so the loads are unbalanced for sure (random
        // tokens can land on exactly 8 per expert, and then the bias does not move and there is nothing to refuse).
        const tokens = tf.tidy(() => tf.tile(tf.randomNormal([1, D]), [16, 1]));
        tf.dispose(qwen.apply(tokens, {training: true}) as tf.Tensor);
        tokens.dispose();
        qwen.endStep();  // the aux-loss-free bias moves once per optimizer step
        await expectAsync(exportTransformersWeights(qwen, 'qwen3_moe'))
            .toBeRejectedWithError(/selection_bias must be all zero for target 'qwen3_moe'.*got -?[\d.]+ at expert \d/);
        layer.dispose();
        qwen.dispose();
      });

      it('missing, unexpected and misshapen keys name the first one and both shapes', async () => {
        const c: Case = {target: 'mixtral', layout: 'perExpert', config: {topK: 2}};
        const layer = await built(c);
        const weights = await exportTransformersWeights(layer, 'mixtral', {prefix: PREFIX});
        const target = layerFor(c);
        const without = {...weights};
        delete without['model.layers.3.block_sparse_moe.experts.2.w2.weight'];
        await expectAsync(importTransformersWeights(target, 'mixtral', without, {prefix: PREFIX})).toBeRejectedWithError(
            /weights\['model.layers.3.block_sparse_moe.experts.2.w2.weight'\] must be present \(mixtral, perExpert layout, shape \[6,4\]\), got no such key/);
        const extra = tf.zeros([H, D]);
        await expectAsync(importTransformersWeights(target, 'mixtral', {...weights,
          'model.layers.3.block_sparse_moe.experts.7.w1.weight': extra, 'model.layers.3.self_attn.q_proj.weight': extra},
                                                    {prefix: PREFIX}))
            .toBeRejectedWithError(/weights\['model.layers.3.block_sparse_moe.experts.7.w1.weight'\] must be a key of the mixtral block.*got an unexpected key/);
        await expectAsync(importTransformersWeights(target, 'mixtral', {...weights,
          'model.layers.3.block_sparse_moe.experts.0.w1.weight': tf.zeros([D, H])}, {prefix: PREFIX}))
            .toBeRejectedWithError(/experts.0.w1.weight'\] shape must be \[4,6\] for this layer, got \[6,4\]/);
        await expectAsync(importTransformersWeights(target, 'mixtral', {}, {prefix: PREFIX}))
            .toBeRejectedWithError(/block_sparse_moe.gate.weight'\] must be the mixtral router weight .*got no such key/);
        const qwenLayer = layerFor({target: 'qwen3_moe', layout: 'fused', config: {topK: 2}});
        const qwen = await exportTransformersWeights(await built({target: 'qwen3_moe', layout: 'fused', config: {topK: 2}}),
                                                     'qwen3_moe', {layout: 'fused'});
        await expectAsync(importTransformersWeights(qwenLayer, 'qwen3_moe', {...qwen, 'mlp.gate.e_score_correction_bias': tf.zeros([E])}))
            .toBeRejectedWithError(/weights\['mlp.gate.e_score_correction_bias'\] must be a key of the qwen3_moe block/);
        tf.dispose([extra, ...Object.values(weights), ...Object.values(qwen)]);
        layer.dispose();
      });

      it('unknown targets, layouts and unbuilt layers', async () => {
        const layer = layerFor({target: 'mixtral', layout: 'fused', config: {topK: 2}});
        await expectAsync(exportTransformersWeights(layer, 'llama' as TransformersTarget))
            .toBeRejectedWithError(/target must be one of 'mixtral', 'qwen3_moe', 'olmoe', 'glm4_moe', 'deepseek_v3', got "llama"/);
        await expectAsync(exportTransformersWeights(layer, 'mixtral', {layout: 'stacked' as ExpertLayout}))
            .toBeRejectedWithError(/options.layout must be 'perExpert' or 'fused', got "stacked"/);
        await expectAsync(exportTransformersWeights(layer, 'mixtral')).toBeRejectedWithError(/layer must be a built/);
      });
    });

    describe('config.json fields', () => {
      for (const c of CASES) {
        it(`${c.target}: transformersMoeConfig -> moeConfigFromTransformers gives the config back`, () => {
          const config: MixtureOfExpertsConfig = {numExperts: E, units: D, hiddenUnits: H, activation: 'swiglu',
                                                  router: 'topk', scoring: TARGETS[c.target].scoring, topK: c.config.topK,
                                                  normalizeGates: c.config.normalizeGates ?? (c.target === 'mixtral' || c.config.topK! > 1),
                                                  ...(TARGETS[c.target].deepseekStyle ? {sharedExperts: c.config.sharedExperts ?? 0} : {}),
                                                  ...(c.config.routedScalingFactor ? {routedScalingFactor: c.config.routedScalingFactor} : {}),
                                                  ...(c.config.numGroups ? {numGroups: c.config.numGroups, topKGroups: c.config.topKGroups} : {})};
          const hf = transformersMoeConfig(config, D, c.target);
          expect(hf['model_type']).toBe(c.target);
          expect(moeConfigFromTransformers(hf)).toEqual(config);
        });
      }

      it('refuses what the layer cannot compute, naming the field', () => {
        const dsv3 = {model_type: 'deepseek_v3', hidden_size: D, n_routed_experts: 8, num_experts_per_tok: 2,
                      moe_intermediate_size: H, n_shared_experts: 1, norm_topk_prob: true, hidden_act: 'silu'};
        expect(moeConfigFromTransformers(dsv3).numExperts).toBe(8);
        // DeepSeek-V3's own routing fields map to the layer's (its config: 8 groups, 4 kept, scaling 2.5).
        expect(moeConfigFromTransformers({...dsv3, routed_scaling_factor: 2.5, n_group: 4, topk_group: 2}))
            .toEqual(jasmine.objectContaining({routedScalingFactor: 2.5, numGroups: 4, topKGroups: 2}));
        expect(moeConfigFromTransformers({...dsv3, n_group: 4, topk_group: 4}).numGroups).toBeUndefined();
        expect(moeConfigFromTransformers({...dsv3, norm_topk_prob: false}).normalizeGates).toBe(false);
        expect(() => moeConfigFromTransformers({...dsv3, routed_scaling_factor: 0}))
            .toThrowError(/routed_scaling_factor must be a finite number > 0, got 0/);
        expect(() => moeConfigFromTransformers({...dsv3, n_group: 2, topk_group: 3}))
            .toThrowError(/config \(deepseek_v3\).topk_group must be <= config \(deepseek_v3\).n_group \(2\), got 3/);
        expect(() => moeConfigFromTransformers({...dsv3, n_group: 8, topk_group: 1}))
            .toThrowError(/num_experts_per_tok must be <= the experts in the kept groups .* = 1 · 8 \/ 8 = 1\), got 2/);
        // Invalid values are named as config.json spells them, not as the layer's fields.
        expect(() => moeConfigFromTransformers({...dsv3, n_group: 4, topk_group: 0}))
            .toThrowError(/config \(deepseek_v3\).topk_group must be an integer >= 1, got 0/);
        expect(() => moeConfigFromTransformers({...dsv3, n_group: 0, topk_group: 1}))
            .toThrowError(/config \(deepseek_v3\).n_group must be an integer >= 1, got 0/);
        expect(() => moeConfigFromTransformers({...dsv3, n_group: 3, topk_group: 1}))
            .toThrowError(/config \(deepseek_v3\).n_group must be a divisor of n_routed_experts \(8\), got 3/);
        expect(() => moeConfigFromTransformers({...dsv3, num_experts_per_tok: 0}))
            .toThrowError(/config \(deepseek_v3\).num_experts_per_tok must be an integer >= 1, got 0/);
        expect(() => moeConfigFromTransformers({...dsv3, num_experts_per_tok: 9}))
            .toThrowError(/config \(deepseek_v3\).num_experts_per_tok must be <= n_routed_experts \(8\), got 9/);
        expect(() => moeConfigFromTransformers({...dsv3, n_routed_experts: 1, num_experts_per_tok: 1}))
            .toThrowError(/config \(deepseek_v3\).n_routed_experts or num_local_experts must be an integer >= 2, got 1/);
        expect(() => moeConfigFromTransformers({...dsv3, hidden_act: 'gelu'})).toThrowError(/hidden_act must be 'silu'/);
        expect(() => moeConfigFromTransformers({...dsv3, norm_topk_prob: 1}))
            .toThrowError(/norm_topk_prob must be a boolean, got 1/);
        expect(() => moeConfigFromTransformers({...dsv3, model_type: 'llama'})).toThrowError(/config.model_type must be one of/);
        expect(moeConfigFromTransformers({model_type: 'mixtral', hidden_size: D, num_local_experts: 4,
                                          num_experts_per_tok: 1, intermediate_size: H}).normalizeGates).toBe(true);
        expect(() => moeConfigFromTransformers({model_type: 'qwen3_moe', hidden_size: D, num_experts_per_tok: 2,
                                                moe_intermediate_size: H}))
            .toThrowError(/num_experts or num_local_experts must be an integer >= 1, got undefined/);
      });

      it('a routing field missing from config.json takes its transformers config class\'s default', () => {
        // transformers 5.17 configuration_deepseek_v3.py: routed_scaling_factor 2.5, n_group 8, topk_group 4,
        // n_shared_experts 1, norm_topk_prob True; configuration_glm4_moe.py: 1.0, 1, 1, 1, True.
        const fields = {hidden_size: D, n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: H};
        expect(moeConfigFromTransformers({model_type: 'deepseek_v3', ...fields}))
            .toEqual(jasmine.objectContaining({routedScalingFactor: 2.5, numGroups: 8, topKGroups: 4, sharedExperts: 1,
                                               normalizeGates: true}));
        const glm = moeConfigFromTransformers({model_type: 'glm4_moe', ...fields});
        expect([glm.routedScalingFactor, glm.numGroups, glm.topKGroups, glm.sharedExperts, glm.normalizeGates])
            .toEqual([undefined, undefined, undefined, 1, true]);
        // DeepseekV3Config's 8 groups do not divide 4 experts: transformers could not route them either.
        expect(() => moeConfigFromTransformers({model_type: 'deepseek_v3', ...fields, n_routed_experts: 4}))
            .toThrowError(/config \(deepseek_v3\).n_group must be a divisor of n_routed_experts \(4\), got 8/);
      });

      it('config.json keeps transformers\' float fields floats (its strict configs refuse 1 for 1.0)', () => {
        const text = transformersConfigJson({routed_scaling_factor: 1, n_group: 1, rope_parameters: {rope_theta: 10000},
                                             rms_norm_eps: 1e-6});
        expect(text).toContain('"routed_scaling_factor": 1.0');
        expect(text).toContain('"rope_theta": 10000.0');
        expect(text).toContain('"n_group": 1,');
        expect(JSON.parse(text).rms_norm_eps).toBe(1e-6);
      });
    });
  });
}
