/**
 * Conformance suite of the MoE layer: forward against the float64 dense
 * reference for every router, gradients against finite differences of that
 * reference, balancing (aux-loss-free brings a skewed router's MaxVio under
 * 0.2), model.fit, save/load, bad configs, and leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {backendTolerance, expectClose, seededRandom, uniformArray} from '@sluice/core/testing';

import {MixtureOfExpertsConfig, resolveConfig} from '../config';
import {mixtureOfExperts, MixtureOfExperts} from '../mixture_of_experts';
import {moeCallback} from '../callbacks';
import {withFastMatMul} from './fast_matmul';
import {moeReferenceForward, RefConfig, RefWeights} from './moe_reference';

interface Case {
  name: string;
  config: MixtureOfExpertsConfig;
  n: number;
  d: number;
}

const CASES: Case[] = [
  {name: 'topk softmax k=2 relu', n: 13, d: 7,
   config: {numExperts: 5, topK: 2, units: 5, hiddenUnits: 6, activation: 'relu'}},
  {name: 'topk sigmoid k=1 gelu', n: 11, d: 6,
   config: {numExperts: 4, topK: 1, units: 3, hiddenUnits: 5, activation: 'gelu', scoring: 'sigmoid'}},
  {name: 'topk k=2 swiglu with capacity drops', n: 17, d: 5,
   config: {numExperts: 3, topK: 2, units: 4, hiddenUnits: 3, activation: 'swiglu', capacityFactor: 0.6}},
  {name: 'topk k=3 with one shared expert', n: 9, d: 4,
   config: {numExperts: 6, topK: 3, units: 4, hiddenUnits: 3, sharedExperts: 1}},
  {name: 'one expert (E=1, k=1)', n: 6, d: 3, config: {numExperts: 1, topK: 1, units: 2, hiddenUnits: 3}},
  {name: 'k = E', n: 7, d: 3, config: {numExperts: 3, topK: 3, units: 2, hiddenUnits: 2}},
  {name: 'expertChoice', n: 10, d: 5,
   config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, router: 'expertChoice', capacityFactor: 1}},
  {name: 'sinkhorn k=2', n: 12, d: 5, config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, router: 'sinkhorn'}},
  {name: 'topk sigmoid k=2 unnormalised gates, routedScalingFactor 2.5, shared expert (Glm4Moe-style)', n: 10, d: 5,
   config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, activation: 'swiglu', scoring: 'sigmoid',
            normalizeGates: false, routedScalingFactor: 2.5, sharedExperts: 1}},
  {name: 'topk sigmoid k=3 normalised gates, routedScalingFactor 1.8', n: 9, d: 4,
   config: {numExperts: 5, topK: 3, units: 3, hiddenUnits: 3, scoring: 'sigmoid', normalizeGates: true,
            routedScalingFactor: 1.8}},
  {name: 'topk softmax k=1 normalizeGates (Mixtral at k=1: every gate 1)', n: 8, d: 4,
   config: {numExperts: 3, topK: 1, units: 3, hiddenUnits: 3, activation: 'swiglu', normalizeGates: true}},
  {name: 'sinkhorn k=2 unnormalised gates', n: 8, d: 4,
   config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 3, router: 'sinkhorn', normalizeGates: false}},
  {name: 'expertChoice with routedScalingFactor 0.5', n: 8, d: 4,
   config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 3, router: 'expertChoice', capacityFactor: 1,
            routedScalingFactor: 0.5}},
  {name: 'stochastic (inference: every expert, gate 1/E)', n: 8, d: 4,
   config: {numExperts: 3, topK: 1, units: 3, hiddenUnits: 4, router: 'stochastic'}},
  // A capacity sized for topK = 2 pairs per token (⌈1.25 · 8 · 2 / 8⌉ = 3 of each expert's 8) would drop 69%.
  {name: 'stochastic with capacityFactor 1.25, E=8, topK=2 (inference: dropless, every expert)', n: 8, d: 4,
   config: {numExperts: 8, topK: 2, units: 3, hiddenUnits: 3, router: 'stochastic', capacityFactor: 1.25}},
  {name: 'topk sigmoid k=2 unnormalised gates, capacity drops, renormalizeAfterDrop restores each token\'s gate mass',
   n: 13, d: 4, config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 3, scoring: 'sigmoid', normalizeGates: false,
                         capacityFactor: 0.6, renormalizeAfterDrop: true}},
  {name: 'topk k=2 capacity, slot-major drops, gates renormalised after drops', n: 17, d: 5,
   config: {numExperts: 3, topK: 2, units: 4, hiddenUnits: 3, activation: 'relu', capacityFactor: 0.6,
            dropPolicy: 'slotMajor', renormalizeAfterDrop: true}},
  {name: 'topk k=2 capacity, score drops (batch-prioritized)', n: 15, d: 4,
   config: {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, capacityFactor: 0.5, dropPolicy: 'score'}},
  {name: 'topk k=1 capacity raised by minCapacity', n: 12, d: 4,
   config: {numExperts: 4, topK: 1, units: 3, hiddenUnits: 4, capacityFactor: 0.1, minCapacity: 2}},
  {name: 'sigmoid k=3, 8 experts in 4 groups, 2 kept (DeepSeek-V3 group limit)', n: 11, d: 5,
   config: {numExperts: 8, topK: 3, units: 3, hiddenUnits: 4, scoring: 'sigmoid', numGroups: 4, topKGroups: 2}},
];

function weightOf(layer: MixtureOfExperts, name: string): tf.Tensor|undefined {
  return layer.weights.find(w => w.originalName.endsWith(name))?.read();
}

async function refWeights(layer: MixtureOfExperts): Promise<RefWeights> {
  const f64 = async (t: tf.Tensor|undefined) => (t == null ? undefined : Float64Array.from(await t.data()));
  return {
    router: (await f64(weightOf(layer, 'router')))!,
    w1: (await f64(weightOf(layer, 'experts_w1')))!,
    w2: (await f64(weightOf(layer, 'experts_w2')))!,
    shared1: await f64(weightOf(layer, 'shared_w1')),
    shared2: await f64(weightOf(layer, 'shared_w2')),
    bias: (await f64(weightOf(layer, 'selection_bias')))!,
  };
}

function refConfig(config: MixtureOfExpertsConfig, n: number, d: number): RefConfig {
  const r = resolveConfig(config);
  // Written from the definition, in float64 rationals small enough to be exact here: ⌈f·N·k/E⌉ with f as decimal.
  const exactCeil = (f: number) => {
    const scale = 1e6;
    return Math.ceil(Math.round(f * scale) * n * r.topK / (scale * r.numExperts) - 1e-12);
  };
  // The suite's forward cases run at inference, where the stochastic router's expectation over all E experts
  // has no capacity.
  const capacity = r.router === 'expertChoice' ? Math.max(1, r.minCapacity, exactCeil(r.capacityFactor || 1)) :
      r.capacityFactor === 0 || r.router === 'stochastic' ? undefined : Math.max(r.minCapacity, exactCeil(r.capacityFactor));
  return {e: r.numExperts, k: r.topK, d, h: r.hiddenUnits, u: r.units, s: r.sharedExperts, activation: r.activation,
          router: r.router, scoring: r.scoring, capacity, sinkhornIterations: r.sinkhornIterations,
          normalize: r.normalizeGates, scale: r.routedScalingFactor,
          dropPolicy: r.dropPolicy, renormalizeAfterDrop: r.renormalizeAfterDrop, groups: r.groups};
}

export function describeMixtureOfExpertsConformance(constraints: Constraints = ALL_ENVS) {
  describeWithFlags('mixtureOfExperts layer', constraints, env => {
    const tol = backendTolerance(env.backendName);

    for (const c of CASES) {
      it(`${c.name}: forward matches the float64 dense reference (N=${c.n}, D=${c.d})`, async () => {
        const layer = mixtureOfExperts({...c.config, seed: 11});
        const x = uniformArray(seededRandom(5), c.n * c.d, -1, 1);
        const before = tf.memory().numTensors;
        const y = layer.apply(tf.tensor2d(x, [c.n, c.d])) as tf.Tensor;
        const ref = moeReferenceForward(x, c.n, await refWeights(layer), refConfig(c.config, c.n, c.d));
        expectClose(await y.data(), ref.output, tol, `${c.name} output`);
        const m = (await layer.readMetrics())!;
        const total = ref.counts.reduce((a, b) => a + b, 0);
        expectClose(m.load, Array.from(ref.counts, v => v / total), 1e-6, `${c.name} load`);
        expect(m.droppedFraction).toBeCloseTo(ref.dropped / total, 6);
        tf.dispose(y);
        layer.dispose();
        expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 1);  // the input tensor
      });
    }

    it('rank-3 input [batch, time, features] is flattened over tokens and reshaped back', async () => {
      const config: MixtureOfExpertsConfig = {numExperts: 4, topK: 2, units: 3, hiddenUnits: 5, seed: 3};
      const layer = mixtureOfExperts(config);
      const x = uniformArray(seededRandom(8), 2 * 5 * 6, -1, 1);
      const y = layer.apply(tf.tensor3d(x, [2, 5, 6])) as tf.Tensor;
      expect(y.shape).toEqual([2, 5, 3]);
      const ref = moeReferenceForward(x, 10, await refWeights(layer), refConfig(config, 10, 6));
      expectClose(await y.data(), ref.output, tol, 'rank-3 output');
    });

    it('gradients of x, router and expert weights agree with finite differences of the float64 reference', async () => {
      const config: MixtureOfExpertsConfig = {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, activation: 'gelu',
                                              sharedExperts: 1, seed: 21};
      const n = 9, d = 5;
      const layer = mixtureOfExperts(config);
      const xv = uniformArray(seededRandom(9), n * d, -1, 1);
      const rv = uniformArray(seededRandom(10), n * 3, -1, 1);
      const x = tf.tensor2d(xv, [n, d]), r = tf.tensor2d(rv, [n, 3]);
      layer.apply(x);  // builds the weights
      const vars = layer.trainableWeights.map(w => w.read() as tf.Variable);
      const {grads} = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, r)) as tf.Scalar, vars);
      const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, r)))(x);
      const w = await refWeights(layer);
      const rc = refConfig(config, n, d);
      const lossOf = (xx: Float32Array|Float64Array, ww: RefWeights) => {
        const out = moeReferenceForward(Float32Array.from(xx), n, ww, rc).output;
        let s = 0;
        for (let i = 0; i < out.length; ++i) s += out[i] * rv[i];
        return s;
      };
      const eps = 1e-3;
      const check = async (what: string, analytic: tf.Tensor, perturb: (i: number, delta: number) => number,
                           size: number) => {
        const got = await analytic.data();
        const rand = seededRandom(size);
        const idx = Array.from({length: 8}, () => Math.floor(rand() * size));
        const expected = idx.map(i => (perturb(i, eps) - perturb(i, -eps)) / (2 * eps));
        expectClose(idx.map(i => got[i]), expected, 2e-2, what);
      };
      for (const [key, name] of [['router', 'router'], ['w1', 'experts_w1'], ['w2', 'experts_w2'],
                                 ['shared1', 'shared_w1'], ['shared2', 'shared_w2']] as const) {
        const v = vars.find(t => t.name.includes(name))!;
        const base = w[key]!;
        await check(`d${name}`, grads[v.name], (i, delta) => {
          const copy = Float64Array.from(base);
          copy[i] += delta;
          return lossOf(xv, {...w, [key]: copy});
        }, base.length);
      }
      // The reference reads x as float32: a 1e-3 step is still exact to ~1e-7 relative.
      await check('dx', dx, (i, delta) => {
        const copy = Float64Array.from(xv);
        copy[i] += delta;
        return lossOf(copy, w);
      }, xv.length);
      tf.dispose([x, r, dx, ...Object.values(grads)]);
      layer.dispose();
    });

    it('aux-loss-free balancing brings a skewed router under MaxVio 0.2', async () => {
      const e = 8, d = 8, n = 512;
      const layer = mixtureOfExperts({numExperts: e, topK: 2, units: 4, hiddenUnits: 4, seed: 4,
                                      balance: {biasUpdateRate: 0.005}});
      // Feature 0 is 1 for every token, and the router's row 0 favours expert 0 by 2 logits.
      const xv = uniformArray(seededRandom(12), n * d, -1, 1);
      for (let i = 0; i < n; ++i) xv[i * d] = 1;
      const x = tf.tensor2d(xv, [n, d]);
      layer.apply(x);
      const routerWeight = layer.weights.find(w => w.originalName.endsWith('router'))!;
      const skewed = tf.tidy(() => tf.add(routerWeight.read(), tf.mul(tf.reshape(tf.oneHot([0], d * e), [d, e]), 2)));
      routerWeight.write(skewed);
      skewed.dispose();
      let first = 0, steps = 0;
      for (; steps < 300; ++steps) {
        tf.tidy(() => {
          layer.apply(x, {training: true});
        });
        layer.calculateLosses().forEach(l => l.dispose());
        layer.endStep();  // one optimizer step per call here
        const m = (await layer.readMetrics())!;
        if (steps === 0) first = m.maxViolation;
        if (m.maxViolation < 0.2) break;
      }
      console.log(`aux-loss-free balancing: MaxVio ${first.toFixed(3)} at step 0, below 0.2 after ${steps} steps ` +
                  `(E=${e}, k=2, N=${n}, rate 0.005)`);
      expect(first).toBeGreaterThan(1);
      expect(steps).toBeLessThan(300);
      x.dispose();
      layer.dispose();
    });

    it('load-balancing, z-loss, variance and orthogonality losses match their float64 definitions', async () => {
      const config: MixtureOfExpertsConfig = {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, seed: 31,
                                              balance: {auxLoss: 0.5, routerZLoss: 0.1, variance: 0.3}};
      const n = 10, d = 5;
      const layer = mixtureOfExperts(config);
      const xv = uniformArray(seededRandom(14), n * d, -1, 1);
      const x = tf.tensor2d(xv, [n, d]);
      const got = tf.tidy(() => {
        layer.apply(x, {training: true});
        return tf.addN(layer.calculateLosses());
      });
      const w = await refWeights(layer);
      // float64: logits, softmax scores, top-2 counts.
      let aux = 0, z = 0, variance = 0;
      const counts = new Float64Array(4), pMean = new Float64Array(4);
      for (let i = 0; i < n; ++i) {
        const logits = new Float64Array(4);
        for (let k = 0; k < d; ++k) for (let j = 0; j < 4; ++j) logits[j] += xv[i * d + k] * w.router[k * 4 + j];
        const m = Math.max(...logits);
        const lse = m + Math.log(logits.reduce((a, b) => a + Math.exp(b - m), 0));
        z += lse * lse / n;
        const p = logits.map(v => Math.exp(v - lse));
        const mu = p.reduce((a, b) => a + b, 0) / 4;
        variance -= p.reduce((a, b) => a + (b - mu) ** 2, 0) / 4 / n;
        p.forEach((v, j) => pMean[j] += v / n);
        Array.from(p, (v, j) => [v, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 2)
            .forEach(([, j]) => counts[j] += 1);
      }
      for (let j = 0; j < 4; ++j) aux += 4 * (counts[j] / (2 * n)) * pMean[j];
      expectClose(await got.data(), [0.5 * aux + 0.1 * z + 0.3 * variance], tol, 'weighted auxiliary loss');
      tf.dispose([x, got]);
      layer.dispose();
    });

    // 72 optimizer steps of a model whose matmuls all have ≤ 128 outputs: withFastMatMul (fast_matmul.ts) keeps
    // tfjs-webgpu off its slow reduce program on SwiftShader; the steps, shapes and assertions are the same everywhere.
    it('trains in model.fit with balancing losses, reports metrics to the callback, and leaks nothing', () =>
       withFastMatMul(async () => {
      const model = tfl.sequential({layers: [
        // A separate activation layer: tfjs-node's fused matMul + tanh leaks a data id under IS_TEST checks.
        tfl.layers.dense({inputShape: [6], units: 8}),
        tfl.layers.activation({activation: 'tanh'}),
        mixtureOfExperts({numExperts: 4, topK: 2, units: 8, hiddenUnits: 8, seed: 5,
                          balance: {auxLoss: 0.01, routerZLoss: 0.001, orthogonality: 0.01, auxLossScope: 'global',
                                    biasUpdateRate: 0.001}}),
        tfl.layers.dense({units: 1}),
      ]});
      model.compile({optimizer: tf.train.adam(0.02), loss: 'meanSquaredError'});
      const n = 64;
      const xs = tf.tensor2d(uniformArray(seededRandom(17), n * 6, -1, 1), [n, 6]);
      const ys = tf.tidy(() => tf.sum(tf.sin(tf.mul(xs, 2)), 1, true));
      const seen: number[] = [];
      // tfjs-node's own fused matMul (inside tf.layers.dense) trips tfjs's IS_TEST per-kernel
      // data-id check; the numTensors steady-state check below still guards this layer.
      const isTest = tf.env().getBool('IS_TEST');
      if (env.backendName === 'tensorflow') tf.env().set('IS_TEST', false);
      const history = await model.fit(xs, ys, {
        epochs: 15, batchSize: 16, verbose: 0,
        callbacks: [moeCallback(model, {onMetrics: (_step, m) => {
          const load = Object.values(m)[0].load;
          seen.push(load.reduce((a, b) => a + b, 0));
        }})],
      });
      const losses = history.history['loss'] as number[];
      expect(losses[losses.length - 1]).toBeLessThan(0.5 * losses[0]);
      expect(seen.length).toBe(15 * 4);
      for (const s of seen) expect(s).toBeCloseTo(1, 5);
      // Steady state: once the optimizer's slots exist, more training adds no tensors.
      const before = tf.memory().numTensors;
      await model.fit(xs, ys, {epochs: 3, batchSize: 16, verbose: 0, callbacks: [moeCallback(model)]});
      expect(tf.memory().numTensors).toBe(before);
      tf.env().set('IS_TEST', isTest);
      tf.dispose([xs, ys]);
      model.dispose();
    }));

    it('save and load round-trip the weights and the balancing bias: identical outputs', async () => {
      const build = () => tfl.sequential({layers: [
        mixtureOfExperts({inputShape: [5], numExperts: 3, topK: 2, units: 4, hiddenUnits: 6, seed: 8,
                          balance: {biasUpdateRate: 0.05}}),
      ]});
      const model = build();
      const x = tf.tensor2d(uniformArray(seededRandom(19), 20 * 5, -1, 1), [20, 5]);
      const moe = model.layers[0] as MixtureOfExperts;
      for (let i = 0; i < 3; ++i) {
        tf.tidy(() => void model.apply(x, {training: true}));
        moe.endStep();
      }
      const bias = await moe.selectionBiasValues();
      expect(bias.some(b => b !== 0)).toBe(true);
      let saved: tf.io.ModelArtifacts|undefined;
      await model.save(tf.io.withSaveHandler(async artifacts => {
        saved = artifacts;
        return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
      }));
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      const a = model.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      expect(Array.from(await (loaded.layers[0] as MixtureOfExperts).selectionBiasValues())).toEqual(Array.from(bias));
      tf.dispose([x, a, b]);
      model.dispose();
      loaded.dispose();
    });

    it('getConfig round-trips normalizeGates and routedScalingFactor (fromConfig gives the same outputs)', async () => {
      const config: MixtureOfExpertsConfig = {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, scoring: 'sigmoid',
                                              normalizeGates: false, routedScalingFactor: 2.5, seed: 4};
      const layer = mixtureOfExperts(config);
      const x = tf.tensor2d(uniformArray(seededRandom(23), 6 * 5, -1, 1), [6, 5]);
      const y = layer.apply(x) as tf.Tensor;
      const saved = layer.getConfig();
      expect([saved['normalizeGates'], saved['routedScalingFactor']]).toEqual([false, 2.5]);
      const copy = tf.serialization.SerializationMap.getMap().classNameMap[MixtureOfExperts.className];
      const clone = copy[1](copy[0], {...saved, name: undefined} as unknown as tf.serialization.ConfigDict) as MixtureOfExperts;
      expect([clone.moe.normalizeGates, clone.moe.routedScalingFactor]).toEqual([false, 2.5]);
      clone.apply(x);
      clone.setWeights(layer.getWeights());
      const z = clone.apply(x) as tf.Tensor;
      expect(Array.from(await z.data())).toEqual(Array.from(await y.data()));
      tf.dispose([x, y, z]);
      layer.dispose();
      clone.dispose();
    });

    const BAD: Array<[string, unknown, RegExp]> = [
      ['topK > numExperts', {numExperts: 2, topK: 3, units: 2, hiddenUnits: 2}, /topK must be <= numExperts \(2\), got 3/],
      ['numExperts 0', {numExperts: 0, units: 2, hiddenUnits: 2}, /numExperts must be an integer >= 1, got 0/],
      ['units negative', {numExperts: 2, units: -1, hiddenUnits: 2}, /units must be an integer >= 1, got -1/],
      ['hiddenUnits fractional', {numExperts: 2, units: 2, hiddenUnits: 1.5},
       /hiddenUnits must be an integer, got 1.5/],
      ['unknown router', {numExperts: 2, units: 2, hiddenUnits: 2, router: 'hash'},
       /router must be one of 'topk', 'expertChoice', 'sinkhorn', 'stochastic', got "hash"/],
      ['unknown activation', {numExperts: 2, units: 2, hiddenUnits: 2, activation: 'tanh'},
       /activation must be one of 'gelu', 'relu', 'swiglu', got "tanh"/],
      ['capacityFactor < 0', {numExperts: 2, units: 2, hiddenUnits: 2, capacityFactor: -0.5},
       /capacityFactor must be >= 0, got -0.5/],
      ['unknown scoring', {numExperts: 2, units: 2, hiddenUnits: 2, scoring: 'tanh'}, /scoring must be one of/],
      ['negative aux loss', {numExperts: 2, units: 2, hiddenUnits: 2, balance: {auxLoss: -1}},
       /balance.auxLoss must be >= 0, got -1/],
      ['unknown balance field', {numExperts: 2, units: 2, hiddenUnits: 2, balance: {auxloss: 1}},
       /balance.auxloss must be one of the known options/],
      ['unknown field', {numExperts: 2, units: 2, hiddenUnits: 2, topk: 2}, /config.topk must be one of the known/],
      ['normalizeGates not a boolean', {numExperts: 2, units: 2, hiddenUnits: 2, normalizeGates: 1},
       /mixtureOfExperts: normalizeGates must be a boolean, got 1/],
      ['normalizeGates with expertChoice', {numExperts: 2, units: 2, hiddenUnits: 2, router: 'expertChoice',
                                             normalizeGates: true},
       /normalizeGates must be unset with router 'expertChoice'/],
      ['routedScalingFactor 0', {numExperts: 2, units: 2, hiddenUnits: 2, routedScalingFactor: 0},
       /mixtureOfExperts: routedScalingFactor must be a finite number > 0, got 0/],
      ['routedScalingFactor NaN', {numExperts: 2, units: 2, hiddenUnits: 2, routedScalingFactor: NaN},
       /mixtureOfExperts: routedScalingFactor must be a finite number > 0, got NaN/],
      ['routedScalingFactor a string', {numExperts: 2, units: 2, hiddenUnits: 2, routedScalingFactor: '2'},
       /routedScalingFactor must be a finite number > 0, got "2"/],
      ['bias update with a non-topk router', {numExperts: 2, units: 2, hiddenUnits: 2, router: 'sinkhorn',
                                              balance: {biasUpdateRate: 0.1}}, /biasUpdateRate must be 0 unless/],
    ];
    for (const [what, config, message] of BAD) {
      it(`rejects a bad config: ${what}`, () => {
        expect(() => mixtureOfExperts(config as MixtureOfExpertsConfig)).toThrowError(message);
      });
    }

    it('rejects input of rank 1 or 4 at the first call, naming the shape', () => {
      const before = tf.memory().numTensors;
      for (const shape of [[6], [1, 2, 3, 6]]) {
        const layer = mixtureOfExperts({numExperts: 2, units: 2, hiddenUnits: 2});
        const x = tf.zeros(shape);
        expect(() => layer.apply(x)).toThrowError(new RegExp(`got shape \\[${shape.join(',')}\\]`));
        x.dispose();  // the layer never built: it holds nothing to dispose
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
