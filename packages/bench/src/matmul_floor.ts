/**
 * The time floor of a fused cross-entropy forward + backward: the three
 * products no implementation avoids, at the same shapes, with the backend's
 * own matMul: E·Cᵀ [N, V] (the logits), G·C [N, D] (dE) and Gᵀ·E [V, D]
 * (dC), where G is an [N, V] gradient. G is the logits product itself: a
 * dense float32 [N, V] of unit-order values, and the values do not change a
 * matmul's time, so the floor holds one [N, V] buffer, not two.
 */
import * as tf from '@tensorflow/tfjs-core';

import type {CceShape} from './cce_shapes';

export interface MatMulFloor {
  /** Best total of the three over the repeats, ms, each result read back (E·Cᵀ through one element). */
  ms: number;
  /** The three products' times in that best repeat: E·Cᵀ, G·C, Gᵀ·E. */
  parts: [number, number, number];
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await f();
  return [result, performance.now() - start];
}

/** One round of the three products, each timed with its result read back (E·Cᵀ through one element). */
export async function matMulFloorRound(shape: CceShape, e: tf.Tensor2D,
                                       c: tf.Tensor2D): Promise<[number, number, number]> {
  const [g, logitsMs] = await timed(async () => {
    const logits = tf.matMul(e, c, false, true);
    // Reading one element waits for the product without copying N×V values out.
    const corner = tf.slice(logits, [shape.n - 1, shape.v - 1], [1, 1]);
    await corner.data();
    corner.dispose();
    return logits;
  });
  try {
    const [, dEMs] = await timed(async () => {
      const dE = tf.matMul(g, c);
      await dE.data();
      dE.dispose();
    });
    const [, dCMs] = await timed(async () => {
      const dC = tf.matMul(g, e, true, false);
      await dC.data();
      dC.dispose();
    });
    return [logitsMs, dEMs, dCMs];
  } finally {
    g.dispose();
  }
}

/** Keeps the best round: call `add` with each round's parts. */
export class FloorBest implements MatMulFloor {
  ms = Infinity;
  parts: [number, number, number] = [NaN, NaN, NaN];
  add(parts: [number, number, number]) {
    const total = parts[0] + parts[1] + parts[2];
    if (total < this.ms) {
      this.ms = total;
      this.parts = parts;
    }
  }
}

/** One untimed warm-up (GPU pipelines, allocator), then the best of `repeats` timed rounds. */
export async function measureMatMulFloor(shape: CceShape, e: tf.Tensor2D, c: tf.Tensor2D,
                                         repeats: number): Promise<MatMulFloor> {
  await matMulFloorRound(shape, e, c);
  const best = new FloorBest();
  for (let r = 0; r < repeats; ++r) best.add(await matMulFloorRound(shape, e, c));
  return {ms: best.ms, parts: best.parts};
}
