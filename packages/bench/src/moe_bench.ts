/**
 * MoE feed-forward, forward + backward (x, W1, W2), three ways on one
 * backend and one routing: sluice's sparse dispatch (routeTopK →
 * expertDispatch → groupedMatMul → relu → groupedMatMul → expertCombine),
 * GShard's dense one-hot dispatch with capacity factor 1.25 (einsum
 * 'sec,sm->ecm' as a matMul), and a per-expert loop of tf.gather + matMul +
 * tf.unsortedSegmentSum, the way tfjs users write MoE today.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expertCombine, expertDispatch, groupedMatMul, routeTopK} from '@sluice/core';

import {formatBytes, measure, Measurement} from './measure';

export interface MoeShape {n: number; d: number; h: number; e: number; k: number}

export interface MoeRow {variant: string; m: Measurement}

function sparse(x: tf.Tensor2D, logits: tf.Tensor2D, w1: tf.Tensor3D, w2: tf.Tensor3D, s: MoeShape): tf.Tensor[] {
  return tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
    const {expertIndices, gates} = routeTopK(logits, s.k);
    const d = expertDispatch(xx as tf.Tensor2D, expertIndices, s.e);
    const hid = tf.relu(groupedMatMul(d.dispatched, a as tf.Tensor3D, d.expertOffsets));
    return tf.sum(expertCombine(groupedMatMul(hid, b as tf.Tensor3D, d.expertOffsets), d.sourceRows, gates));
  })([x, w1, w2]);
}

/** GShard: one-hot [S, E, C] dispatch and combine tensors, experts as a batched matMul over [E, C, D]. */
function dense(x: tf.Tensor2D, logits: tf.Tensor2D, w1: tf.Tensor3D, w2: tf.Tensor3D, s: MoeShape): tf.Tensor[] {
  const capacity = Math.ceil(1.25 * s.n * s.k / s.e);
  const {dispatchMask, combineWeights} = tf.tidy(() => {
    const {expertIndices, gates} = routeTopK(logits, s.k);
    let mask: tf.Tensor = tf.zeros([s.n, s.e, capacity]);
    let weights: tf.Tensor = tf.zeros([s.n, s.e, capacity]);
    let used: tf.Tensor = tf.zeros([1, s.e]);
    for (let slot = 0; slot < s.k; ++slot) {
      const onehot = tf.oneHot(tf.squeeze(tf.slice(expertIndices, [0, slot], [s.n, 1]), [1]), s.e, 1, 0, 'float32');
      // Position of each token in its expert: tokens before it in this slot, after earlier slots.
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
  const grads = tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
    const flatMask = tf.reshape(dispatchMask, [s.n, s.e * capacity]);
    const expertIn = tf.reshape(tf.matMul(flatMask, xx as tf.Tensor2D, true, false), [s.e, capacity, s.d]);
    const hid = tf.relu(tf.matMul(expertIn, a as tf.Tensor3D));
    const out = tf.reshape(tf.matMul(hid, b as tf.Tensor3D), [s.e * capacity, s.d]);
    return tf.sum(tf.matMul(tf.reshape(combineWeights, [s.n, s.e * capacity]), out));
  })([x, w1, w2]);
  tf.dispose([dispatchMask, combineWeights]);
  return grads;
}

/** One gather + matMul + segment sum per expert, with the routing read back to find each expert's tokens. */
function loop(x: tf.Tensor2D, logits: tf.Tensor2D, w1: tf.Tensor3D, w2: tf.Tensor3D, s: MoeShape): tf.Tensor[] {
  const {expertIndices, gates} = routeTopK(logits, s.k);
  const idx = expertIndices.dataSync();
  const gv = gates.dataSync();
  tf.dispose([expertIndices, gates]);
  const tokens: number[][] = Array.from({length: s.e}, () => []), weights: number[][] = tokens.map(() => []);
  for (let p = 0; p < idx.length; ++p) {
    tokens[idx[p]].push(Math.floor(p / s.k));
    weights[idx[p]].push(gv[p]);
  }
  return tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
    let out: tf.Tensor = tf.zeros([s.n, s.d]);
    for (let e = 0; e < s.e; ++e) {
      if (tokens[e].length === 0) continue;
      const ids = tf.tensor1d(tokens[e], 'int32');
      const rows = tf.gather(xx, ids);
      const we1 = tf.reshape(tf.slice(a, [e, 0, 0], [1, s.d, s.h]), [s.d, s.h]);
      const we2 = tf.reshape(tf.slice(b, [e, 0, 0], [1, s.h, s.d]), [s.h, s.d]);
      const y = tf.mul(tf.matMul(tf.relu(tf.matMul(rows as tf.Tensor2D, we1 as tf.Tensor2D)), we2 as tf.Tensor2D),
                       tf.tensor2d(weights[e], [weights[e].length, 1]));
      out = tf.add(out, tf.unsortedSegmentSum(y, ids, s.n));
    }
    return tf.sum(out);
  })([x, w1, w2]);
}

export async function benchMoe(s: MoeShape, repeats: number, log: (line: string) => void,
                               only: string[] = []): Promise<MoeRow[]> {
  const x = tf.randomNormal([s.n, s.d], 0, 1, 'float32', 1) as tf.Tensor2D;
  const logits = tf.randomNormal([s.n, s.e], 0, 1, 'float32', 2) as tf.Tensor2D;
  const w1 = tf.randomNormal([s.e, s.d, s.h], 0, 1 / Math.sqrt(s.d), 'float32', 3) as tf.Tensor3D;
  const w2 = tf.randomNormal([s.e, s.h, s.d], 0, 1 / Math.sqrt(s.h), 'float32', 4) as tf.Tensor3D;
  const all: Array<[string, string, () => tf.Tensor[]]> = [
    ['dense', 'GShard dense one-hot dispatch (capacity factor 1.25)', () => dense(x, logits, w1, w2, s)],
    ['loop', 'per-expert loop: gather + matMul + unsortedSegmentSum', () => loop(x, logits, w1, w2, s)],
    ['sparse', 'sluice sparse dispatch (dropless)', () => sparse(x, logits, w1, w2, s)],
  ];
  const variants = all.filter(([key]) => only.length === 0 || only.includes(key) || key === 'sparse')
                       .map(([, name, run]) => [name, run] as [string, () => tf.Tensor[]]);
  const rows: MoeRow[] = [];
  for (const [variant, run] of variants) {
    log(`  running ${variant} ...`);
    const m = await measure(run, repeats);
    log(`    ${m.error ? `failed: ${m.error}` : `${m.ms.toFixed(0)} ms, peak ${formatBytes(m.peakBytes)}`}`);
    rows.push({variant, m});
  }
  tf.dispose([x, logits, w1, w2]);
  return rows;
}

export function moeTable(rows: MoeRow[]): string {
  const dense = rows[0].m, sluice = rows[rows.length - 1].m;
  const lines = ['| variant | time | sluice speed-up | peak memory | sluice peak / this |', '|---|---|---|---|---|'];
  for (const {variant, m} of rows) {
    if (m.error) {
      lines.push(`| ${variant} | failed: ${m.error} | | | |`);
      continue;
    }
    lines.push(`| ${variant} | ${(m.ms / 1000).toFixed(2)} s | ${(m.ms / sluice.ms).toFixed(2)}× | ` +
               `${formatBytes(m.peakBytes)} | ${(sluice.peakBytes / m.peakBytes).toFixed(3)} |`);
  }
  void dense;
  return lines.join('\n');
}
