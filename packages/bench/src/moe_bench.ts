/**
 * MoE feed-forward, forward + backward, three ways on one backend and one
 * routing: sluice's sparse dispatch (routeTopK → expertDispatch →
 * groupedMatMul → relu → groupedMatMul → expertCombine), GShard's dense
 * one-hot dispatch with capacity factor 1.25 (einsum 'sec,sm->ecm' as a
 * matMul), and a per-expert loop of tf.gather + matMul +
 * tf.unsortedSegmentSum, the way tfjs users write MoE today.
 *
 * Each is measured twice: the whole FFN (x, W1, W2 gradients), and the
 * dispatch + combine alone (identity experts, gradient w.r.t. x). The FFN's
 * peak is dominated by the expert activations and weight gradients, which
 * every variant needs about equally; the second stage isolates what the
 * dispatch itself costs, which is what sparse dispatch is meant to save.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expertCombine, expertDispatch, groupedMatMul, routeTopK} from '@sluice/core';

import {formatBytes, measure, Measurement} from './measure';

export interface MoeShape {n: number; d: number; h: number; e: number; k: number}

export type MoeStage = 'ffn'|'dispatch';

export interface MoeRow {stage: MoeStage; variant: string; m: Measurement}

/** The experts: identity for the dispatch-only stage, relu(x·W1_e)·W2_e for the FFN. */
type Experts = {kind: 'identity'}|{kind: 'ffn', w1: tf.Tensor3D, w2: tf.Tensor3D};

function sparse(x: tf.Tensor2D, logits: tf.Tensor2D, experts: Experts, s: MoeShape, capacity?: number): tf.Tensor[] {
  const params = experts.kind === 'ffn' ? [experts.w1, experts.w2] : [];
  return tf.grads((xx: tf.Tensor, ...ws: tf.Tensor[]) => {
    const {expertIndices, gates} = routeTopK(logits, s.k);
    // With a capacity: the static layout [E·C, D], slot-major drops as GShard's (the dense variant's rule).
    const d = expertDispatch(xx as tf.Tensor2D, expertIndices, s.e,
                             capacity === undefined ? {} : {capacity, dropPolicy: 'slotMajor'});
    let y = d.dispatched;
    if (ws.length === 2) {
      const hid = tf.relu(groupedMatMul(d.dispatched, ws[0] as tf.Tensor3D, d.expertOffsets));
      y = groupedMatMul(hid, ws[1] as tf.Tensor3D, d.expertOffsets);
    }
    return tf.sum(expertCombine(y, d.sourceRows, gates));
  })([x, ...params]);
}

/**
 * GShard's dispatch mask and combine weights, both [N, E, C] (C = ⌈1.25·N·k/E⌉):
 * a token's position in its expert counts the tokens before it in this slot
 * and all tokens of earlier slots; positions ≥ C are dropped.
 */
function gshardMasks(logits: tf.Tensor2D, s: MoeShape, capacity: number) {
  return tf.tidy(() => {
    const {expertIndices, gates} = routeTopK(logits, s.k);
    let mask: tf.Tensor = tf.zeros([s.n, s.e, capacity]);
    let weights: tf.Tensor = tf.zeros([s.n, s.e, capacity]);
    let used: tf.Tensor = tf.zeros([1, s.e]);
    for (let slot = 0; slot < s.k; ++slot) {
      const onehot = tf.oneHot(tf.squeeze(tf.slice(expertIndices, [0, slot], [s.n, 1]), [1]), s.e, 1, 0, 'float32');
      const position = tf.add(tf.sub(tf.cumsum(onehot, 0), onehot), used);
      const pos = tf.cast(tf.sum(tf.mul(position, onehot), 1), 'int32') as tf.Tensor1D;
      const kept = tf.mul(onehot, tf.cast(tf.less(position, capacity), 'float32'));
      const slotMask = tf.mul(tf.expandDims(kept, 2), tf.expandDims(tf.oneHot(pos, capacity, 1, 0, 'float32'), 1));
      mask = tf.add(mask, slotMask);
      weights = tf.add(weights, tf.mul(slotMask, tf.reshape(tf.slice(gates, [0, slot], [s.n, 1]), [s.n, 1, 1])));
      used = tf.add(used, tf.sum(onehot, 0, true));
    }
    return {dispatchMask: mask, combineWeights: weights};
  });
}

/** C = ⌈1.25·N·k/E⌉, the capacity of the dense variant and of sluice's capacity variant. */
const gshardCapacity = (s: MoeShape) => Math.ceil(1.25 * s.n * s.k / s.e);

/** sluice's sparse dispatch with GShard's capacity: the static layout, the same rows as the dense variant's. */
function sparseCapacity(x: tf.Tensor2D, logits: tf.Tensor2D, experts: Experts, s: MoeShape): tf.Tensor[] {
  return sparse(x, logits, experts, s, gshardCapacity(s));
}

/** GShard: one-hot [S, E, C] dispatch and combine tensors, experts as a batched matMul over [E, C, D]. */
function dense(x: tf.Tensor2D, logits: tf.Tensor2D, experts: Experts, s: MoeShape): tf.Tensor[] {
  const capacity = gshardCapacity(s);
  const {dispatchMask, combineWeights} = gshardMasks(logits, s, capacity);
  const params = experts.kind === 'ffn' ? [experts.w1, experts.w2] : [];
  const grads = tf.grads((xx: tf.Tensor, ...ws: tf.Tensor[]) => {
    const flatMask = tf.reshape(dispatchMask, [s.n, s.e * capacity]);
    // einsum('sec,sm->ecm') as one matMul over the flattened (e, c).
    let out = tf.matMul(flatMask, xx as tf.Tensor2D, true, false);
    if (ws.length === 2) {
      const expertIn = tf.reshape(out, [s.e, capacity, s.d]);
      const hid = tf.relu(tf.matMul(expertIn, ws[0] as tf.Tensor3D));
      out = tf.reshape(tf.matMul(hid, ws[1] as tf.Tensor3D), [s.e * capacity, s.d]);
    }
    return tf.sum(tf.matMul(tf.reshape(combineWeights, [s.n, s.e * capacity]), out));
  })([x, ...params]);
  tf.dispose([dispatchMask, combineWeights]);
  return grads;
}

/**
 * One gather + matMul + segment sum per expert, with the routing read back
 * (asynchronously: webgpu in Node has no synchronous read) to find each
 * expert's tokens.
 */
async function loop(x: tf.Tensor2D, logits: tf.Tensor2D, experts: Experts, s: MoeShape): Promise<tf.Tensor[]> {
  const {expertIndices, gates} = routeTopK(logits, s.k);
  const [idx, gv] = await Promise.all([expertIndices.data(), gates.data()]);
  tf.dispose([expertIndices, gates]);
  const tokens: number[][] = Array.from({length: s.e}, () => []), weights: number[][] = tokens.map(() => []);
  for (let p = 0; p < idx.length; ++p) {
    tokens[idx[p]].push(Math.floor(p / s.k));
    weights[idx[p]].push(gv[p]);
  }
  const params = experts.kind === 'ffn' ? [experts.w1, experts.w2] : [];
  return tf.grads((xx: tf.Tensor, ...ws: tf.Tensor[]) => {
    let out: tf.Tensor = tf.zeros([s.n, s.d]);
    for (let e = 0; e < s.e; ++e) {
      if (tokens[e].length === 0) continue;
      const ids = tf.tensor1d(tokens[e], 'int32');
      let y = tf.gather(xx, ids) as tf.Tensor2D;
      if (ws.length === 2) {
        const we1 = tf.reshape(tf.slice(ws[0], [e, 0, 0], [1, s.d, s.h]), [s.d, s.h]) as tf.Tensor2D;
        const we2 = tf.reshape(tf.slice(ws[1], [e, 0, 0], [1, s.h, s.d]), [s.h, s.d]) as tf.Tensor2D;
        y = tf.matMul(tf.relu(tf.matMul(y, we1)), we2);
      }
      y = tf.mul(y, tf.tensor2d(weights[e], [weights[e].length, 1]));
      out = tf.add(out, tf.unsortedSegmentSum(y, ids, s.n));
    }
    return tf.sum(out);
  })([x, ...params]);
}

const VARIANTS: Array<[string, string, typeof sparseCapacity | typeof loop]> = [
  ['dense', 'GShard dense one-hot dispatch (capacity factor 1.25)', dense],
  ['loop', 'per-expert loop: gather + matMul + unsortedSegmentSum', loop],
  ['capacity', 'sluice sparse dispatch (capacity factor 1.25, static layout)', sparseCapacity],
  ['sparse', 'sluice sparse dispatch (dropless)', sparse],
];

export async function benchMoe(s: MoeShape, repeats: number, log: (line: string) => void,
                               only: string[] = []): Promise<MoeRow[]> {
  const x = tf.randomNormal([s.n, s.d], 0, 1, 'float32', 1) as tf.Tensor2D;
  const logits = tf.randomNormal([s.n, s.e], 0, 1, 'float32', 2) as tf.Tensor2D;
  const w1 = tf.randomNormal([s.e, s.d, s.h], 0, 1 / Math.sqrt(s.d), 'float32', 3) as tf.Tensor3D;
  const w2 = tf.randomNormal([s.e, s.h, s.d], 0, 1 / Math.sqrt(s.h), 'float32', 4) as tf.Tensor3D;
  const stages: Array<[MoeStage, string, Experts]> = [
    ['ffn', 'whole FFN (x, W1, W2 gradients)', {kind: 'ffn', w1, w2}],
    ['dispatch', 'dispatch + combine only (identity experts, x gradient)', {kind: 'identity'}],
  ];
  const rows: MoeRow[] = [];
  for (const [stage, stageName, experts] of stages) {
    log(`  ${stageName}:`);
    for (const [key, variant, run] of VARIANTS) {
      if (only.length > 0 && !only.includes(key) && key !== 'sparse') continue;
      log(`    running ${variant} ...`);
      const m = await measure(() => run(x, logits, experts, s), repeats);
      log(`      ${m.error ? `failed: ${m.error}` : `${m.ms.toFixed(0)} ms, peak ${formatBytes(m.peakBytes)}`}`);
      rows.push({stage, variant, m});
    }
  }
  tf.dispose([x, logits, w1, w2]);
  return rows;
}

const STAGE_TITLES: Record<MoeStage, string> = {
  ffn: 'Whole FFN, forward + backward (x, W1, W2)',
  dispatch: 'Dispatch + combine only (identity experts), forward + backward (x)',
};

/** One markdown table per stage; ratios against that stage's sluice row. */
export function moeTable(rows: MoeRow[]): string {
  const out: string[] = [];
  for (const stage of ['ffn', 'dispatch'] as MoeStage[]) {
    const group = rows.filter(r => r.stage === stage);
    if (group.length === 0) continue;
    const sluice = group[group.length - 1].m;
    out.push(`${STAGE_TITLES[stage]}:`, '', '| variant | time | sluice speed-up | peak memory | sluice peak / this |',
             '|---|---|---|---|---|');
    for (const {variant, m} of group) {
      if (m.error) {
        out.push(`| ${variant} | failed: ${m.error} | | | |`);
        continue;
      }
      out.push(`| ${variant} | ${(m.ms / 1000).toFixed(2)} s | ${(m.ms / sluice.ms).toFixed(2)}× | ` +
               `${formatBytes(m.peakBytes)} | ${(sluice.peakBytes / m.peakBytes).toFixed(3)} |`);
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}
