/**
 * Each routing and balancing convention against a small example worked by
 * hand from that stack's own definition (the file and function are cited in
 * each test): capacity arithmetic (DeepSpeed `_capacity`), which pairs drop
 * (MegaBlocks / DeepSpeed `topkgating` 'position', GShard / DeepSpeed
 * `top2gating` slot-major, DeepSpeed `topkgating` 'probs'), gates after drops
 * (DeepSpeed `top2gating`), the load-balancing loss conventions (transformers'
 * Mixtral `load_balancing_loss_func`, Switch/flaxformer, MegaBlocks
 * `batched_load_balancing_loss`, DeepSpeed `topkgating`) and the aux-loss-free
 * bias update once per optimizer step (DeepSeek-V3, torchtitan).
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {expertDispatch} from '@sluice/core';
import {backendTolerance, expectClose} from '@sluice/core/testing';

import {loadBalancingLoss} from '../balancing';
import {exactCeilCapacity, expertCapacity, resolveConfig} from '../config';
import {runExperts} from '../experts';
import {mixtureOfExperts} from '../mixture_of_experts';

/**
 * The shared example: N = 4 tokens, k = 2, E = 2, capacity C = 2 per expert.
 * Pair p = 2t + s; token t's (slot 0, slot 1) experts and gates:
 *   t0 (e0 .6, e1 .4)   t1 (e0 .7, e1 .3)   t2 (e1 .9, e0 .1)   t3 (e0 .8, e1 .2)
 * Expert 0 is chosen by pairs 0, 2, 5, 6; expert 1 by pairs 1, 3, 4, 7.
 */
const INDICES = [[0, 1], [0, 1], [1, 0], [0, 1]];
const GATES = [[0.6, 0.4], [0.7, 0.3], [0.9, 0.1], [0.8, 0.2]];

export function describeRoutingConventions(constraints: Constraints = ALL_ENVS) {
  describeWithFlags('MoE routing conventions, worked by hand', constraints, env => {
    const tol = backendTolerance(env.backendName);

    it('capacity is computed exactly, with DeepSpeed\'s min_capacity', () => {
      // 1.1 · 100 tokens · k 2 / 4 experts = 55 exactly; the float product is 55.000000000000007 (ceil 56).
      expect(Math.ceil(1.1 * 100 * 2 / 4)).toBe(56);
      expect(exactCeilCapacity(1.1, 200, 4)).toBe(55);
      expect(exactCeilCapacity(1.25, 4096 * 2, 32)).toBe(320);
      expect(exactCeilCapacity(1e-7, 10, 1)).toBe(1);
      expect(exactCeilCapacity(3, 10, 4)).toBe(8);  // ⌈7.5⌉
      // microsoft/DeepSpeed deepspeed/moe/sharded_moe.py, _capacity: ceil(N / E · capacity_factor), then
      // `if capacity < min_capacity: capacity = min_capacity` (topkgating passes capacity_factor · k).
      // N = 8, E = 4, factor 1, k = 2: ceil(8 / 4 · 2) = 4; with min_capacity 5 it is 5.
      const cfg = (minCapacity: number) => resolveConfig({numExperts: 4, topK: 2, units: 1, hiddenUnits: 1,
                                                          capacityFactor: 1, minCapacity});
      expect(expertCapacity(cfg(0), 8)).toBe(4);
      expect(expertCapacity(cfg(5), 8)).toBe(5);
    });

    const dispatchCase = async (dropPolicy: 'position'|'slotMajor'|'score') => {
      const out = expertDispatch(tf.zeros([4, 1]) as tf.Tensor2D, INDICES, 2,
                                 {capacity: 2, dropPolicy, ...(dropPolicy === 'score' ? {gates: GATES} : {})});
      const rows = Array.from(await out.sourceRows.data());
      const dropped = (await out.droppedCount.data())[0];
      tf.dispose([out.dispatched, out.expertOffsets, out.sourceRows, out.droppedCount, out.expertCounts]);
      return {rows, dropped};
    };

    it('dropPolicy \'position\': MegaBlocks and DeepSpeed topkgating(drop_policy="position")', async () => {
      // DeepSpeed sharded_moe.py topkgating: locations = cumsum(mask, dim=0) - 1 over tokens, kept if < capacity.
      // Expert 0: tokens 0, 1 (pairs 0, 2) take its 2 slots, tokens 2, 3 drop; expert 1: tokens 0, 1 (pairs 1, 3).
      expect(await dispatchCase('position')).toEqual({rows: [0, 2, 1, 3], dropped: 4});
    });

    it('dropPolicy \'slotMajor\': GShard and DeepSpeed top2gating (every first choice before any second)',
       async () => {
      // DeepSpeed sharded_moe.py top2gating: locations2 += sum(mask1, dim=0), so second choices queue behind
      // all first choices (GShard Algorithm 1; flaxformer routing.py TokensChooseMaskedRouter puts the slot
      // axis first). First choices in token order: e0 ← t0, t1, t3; e1 ← t2. Then second choices: e1 ← t0, t1, t3.
      // Expert 0 keeps t0 and t1 (pairs 0, 2); expert 1 keeps t2's first choice (pair 4), then t0's second (1).
      expect(await dispatchCase('slotMajor')).toEqual({rows: [0, 2, 4, 1], dropped: 4});
    });

    it('dropPolicy \'score\': DeepSpeed topkgating(drop_policy="probs"), batch-prioritized routing', async () => {
      // topkgating 'probs': torch.topk(topk_masked_gates, k=capacity, dim=0): each expert keeps its highest gates.
      // Expert 0's gates .6 (p0) .7 (p2) .1 (p5) .8 (p6): keeps p6, p2. Expert 1's .4 .3 .9 .2: keeps p4, p1.
      // (DeepSpeed ranks by the pair's router logit; here by its gate. Slots hold the kept pairs in this order.)
      expect(await dispatchCase('score')).toEqual({rows: [6, 2, 4, 1], dropped: 4});
    });

    it('renormalizeAfterDrop: DeepSpeed top2gating divides the kept gates by their sum', async () => {
      // sharded_moe.py top2gating: mask1 *= lt(locations1, capacity) (likewise mask2), then
      // gates1_s /= denom_s with denom_s = clamp(gates1_s + gates2_s, min=eps). With slot-major drops above:
      // t0 keeps both (.6 + .4 = 1), t1 keeps slot 0 only (.7 / .7 = 1), t2 keeps slot 0 (.9 / .9 = 1),
      // t3 keeps none (0 / eps = 0). Without renormalising the kept gates sum to 1, .7, .9, 0.
      // Identity experts on x = 1 (relu(1·1)·1 = 1), so each token's output is its kept gates' sum.
      const x = tf.ones([4, 1]) as tf.Tensor2D;
      const w = tf.ones([2, 1, 1]) as tf.Tensor3D;
      const routing = {kind: 'slots' as const, expertIndices: tf.tensor2d(INDICES, [4, 2], 'int32') as tf.Tensor2D,
                       gates: tf.tensor2d(GATES) as tf.Tensor2D};
      for (const [renormalize, expected] of [[true, [1, 1, 1, 0]], [false, [1, 0.7, 0.9, 0]]] as const) {
        const r = runExperts(x, routing, {w1: w, w2: w}, 2,
                             {capacity: 2, dropPolicy: 'slotMajor', renormalizeAfterDrop: renormalize}, 'relu', false);
        expectClose(await r.output.data(), expected, tol, `renormalizeAfterDrop ${renormalize}`);
        expect((await r.droppedCount!.data())[0]).toBe(4);
      }
    });

    it('renormalizeAfterDrop with unnormalised gates gives each token its gate mass back, not 1', async () => {
      // Gates half the example's (each token's pair sums to .5, as normalizeGates false leaves sigmoid gates).
      // Slot-major drops as above: t0 keeps both (.3 + .2 = .5, unchanged), t1 keeps slot 0 (.35 · .5 / .35 = .5),
      // t2 keeps slot 0 (.45 · .5 / .45 = .5), t3 keeps none (0). Dividing by the kept sum alone would give 1, 1, 1, 0.
      const x = tf.ones([4, 1]) as tf.Tensor2D;
      const w = tf.ones([2, 1, 1]) as tf.Tensor3D;
      const half = GATES.map(row => row.map(g => g / 2));
      const routing = {kind: 'slots' as const, expertIndices: tf.tensor2d(INDICES, [4, 2], 'int32') as tf.Tensor2D,
                       gates: tf.tensor2d(half) as tf.Tensor2D};
      const run = (capacity: number) => tf.tidy(() => runExperts(
          x, routing, {w1: w, w2: w}, 2, {capacity, dropPolicy: 'slotMajor', renormalizeAfterDrop: true}, 'relu',
          false).output);
      const before = tf.memory().numTensors;
      const dropped = run(2), none = run(4);
      expectClose(await dropped.data(), [0.5, 0.5, 0.5, 0], tol, 'renormalizeAfterDrop, gates summing to .5');
      // With capacity 4 nothing drops, and each token's gates stay as they were (output = their sum, .5).
      expectClose(await none.data(), [0.5, 0.5, 0.5, 0.5], tol, 'renormalizeAfterDrop without drops');
      tf.dispose([dropped, none]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, w, routing.expertIndices, routing.gates]);
    });

    it('auxLossConvention: transformers\' Mixtral (tokens) is k times MegaBlocks / DeepSpeed topkgating (pairs)',
       async () => {
      // N = 2, E = 3, k = 2. Softmax scores t0 (.5 .3 .2), t1 (.1 .6 .3); top-2: t0 → e0, e1; t1 → e1, e2.
      // Pairs per expert (1, 2, 1); P = mean scores (.3, .45, .25).
      // transformers models/mixtral/modeling_mixtral.py, load_balancing_loss_func: tokens_per_expert =
      //   bincount(selected) / rows = (.5, 1, .5); loss = E · Σ tokens_per_expert · P = 3 · .725 = 2.175.
      // databricks/megablocks megablocks/layers/moe.py, batched_load_balancing_loss: scale = E / (N · k);
      //   loss = scale · Σ pairs_e · P_e = 3 / 4 · 1.45 = 1.0875. DeepSpeed topkgating: mean(me · ce) · E² / k
      //   with ce = (.5, 1, .5): (.725 / 3) · 9 / 2 = 1.0875. So tokens = k · pairs: the same gradient takes
      //   auxLoss_pairs = k · auxLoss_tokens (a Mixtral router_aux_loss_coef of 0.02 is auxLoss 0.04 with 'pairs').
      const scores = tf.tensor2d([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]);
      const counts = tf.tensor1d([1, 2, 1]);
      const tokens = loadBalancingLoss(scores, counts, {convention: 'tokens', topK: 2});
      const pairs = loadBalancingLoss(scores, counts);
      expectClose(await tokens.data(), [2.175], tol, 'Mixtral convention');
      expectClose(await pairs.data(), [1.0875], tol, 'MegaBlocks / DeepSpeed convention');
      // Switch (k = 1; google/flaxformer flaxformer/architectures/moe/routing.py, _load_balancing_loss:
      // mean(tokens_per_expert · router_prob) · E²): t0 → e0, t1 → e1: 3 · (.5 · .3 + .5 · .45) = 1.125,
      // where both conventions agree.
      const switchLoss = loadBalancingLoss(scores, tf.tensor1d([1, 1, 0]), {convention: 'tokens', topK: 1});
      expectClose(await switchLoss.data(), [1.125], tol, 'Switch, k = 1');
    });

    it('auxLossConvention in the layer: auxLoss α with \'tokens\' equals auxLoss k·α with \'pairs\'', async () => {
      const config = {numExperts: 4, topK: 2, units: 3, hiddenUnits: 4, seed: 13};
      const x = tf.randomNormal([9, 5], 0, 1, 'float32', 3);
      const lossOf = (balance: object) => {
        const layer = mixtureOfExperts({...config, balance});
        const v = tf.tidy(() => {
          layer.apply(x, {training: true});
          return tf.addN(layer.calculateLosses());
        });
        layer.dispose();
        return v;
      };
      const a = lossOf({auxLoss: 0.01, auxLossConvention: 'tokens'}), b = lossOf({auxLoss: 0.02});
      expectClose(await a.data(), await b.data(), 1e-6, 'same loss, so the same gradient');
      tf.dispose([x, a, b]);
    });

    /**
     * Routing fixed by the router kernel: 10 · I, so a one-hot token row for expert j routes to j (k = 1),
     * whatever the 0.1-sized bias does.
     */
    const fixedRouter = async (balance: object, batches: number[][]) => {
      const e = 4;
      const layer = mixtureOfExperts({numExperts: e, topK: 1, units: 2, hiddenUnits: 2, seed: 2, balance});
      const rows = (experts: number[]) => tf.tensor2d(experts.map(j => Array.from({length: e}, (_, i) => +(i === j))));
      const first = rows(batches[0]);
      layer.apply(first);  // builds
      const router = layer.weights.find(w => w.originalName.endsWith('router'))!;
      const fixed = tf.mul(tf.eye(e), 10);
      router.write(fixed);
      for (const b of batches) {
        const x = rows(b);
        tf.tidy(() => void layer.apply(x, {training: true}));
        layer.calculateLosses().forEach(l => l.dispose());
        x.dispose();
      }
      const beforeStep = await layer.selectionBiasValues();
      layer.endStep();
      const afterStep = await layer.selectionBiasValues();
      tf.dispose([first, fixed]);
      layer.dispose();
      return {beforeStep, afterStep};
    };

    it('aux-loss-free bias: once per optimizer step, from the counts summed over its micro-batches', async () => {
      // DeepSeek-V3 technical report §2.1.2 (bias b_i -= γ if overloaded, += γ if underloaded, "at the end of
      // each step"), as torchtitan runs it (torchtitan components/optimizer.py, _update_expert_bias, an
      // optimizer step pre-hook): tokens_per_expert accumulates over the step's micro-batches, then
      // delta = coeff · sign(mean − tokens_per_expert). Micro-batch 1 routes to experts (0, 0, 0, 1), micro-batch
      // 2 to (1, 1, 1, 3): counts (3, 1, 0, 0) + (0, 3, 0, 1) = (3, 4, 0, 1), mean 2, delta 0.1 · (−1, −1, 1, 1).
      // (An update per call would have given 0.1 · ((−1, 0, 1, 1) + (1, −1, 1, 0)) = (0, −0.1, 0.2, 0.1).)
      const {beforeStep, afterStep} = await fixedRouter({biasUpdateRate: 0.1}, [[0, 0, 0, 1], [1, 1, 1, 3]]);
      expect(Array.from(beforeStep)).toEqual([0, 0, 0, 0]);
      expectClose(afterStep, [-0.1, -0.1, 0.1, 0.1], 1e-7, 'bias after the step');
    });

    it('centerBiasUpdate: the update minus its mean (torchtitan _update_expert_bias)', async () => {
      // torchtitan: expert_bias_delta = delta − delta.mean(). Micro-batches routed to (0, 0, 0, 1) and
      // (0, 2, 2, 3) give counts (4, 1, 2, 1), mean 2, sign(mean − c) = (−1, 1, 0, 1) with mean 0.25:
      // centred, 0.1 · (−1.25, 0.75, −0.25, 0.75).
      const {afterStep} = await fixedRouter({biasUpdateRate: 0.1, centerBiasUpdate: true}, [[0, 0, 0, 1], [0, 2, 2, 3]]);
      expectClose(afterStep, [-0.125, 0.075, -0.025, 0.075], 1e-7, 'centred bias');
      const plain = await fixedRouter({biasUpdateRate: 0.1}, [[0, 0, 0, 1], [0, 2, 2, 3]]);
      expectClose(plain.afterStep, [-0.1, 0.1, 0, 0.1], 1e-7, 'uncentred bias');
    });
  });
}
