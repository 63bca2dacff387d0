/**
 * Pieces shared by the forward and backward 'tensorflow' kernels of
 * SluiceLinearCrossEntropy. The bias rides inside the matmul as one more
 * column of the classifier block (and a column of ones, or of 1/softcap, on
 * the embeddings side), so no [N, block] pass is spent adding it. Callers run
 * these inside `tidy`; only the [N, block] temporaries of the block loops are
 * disposed by hand.
 */
import {Tensor, TensorInfo} from '@tensorflow/tfjs-core';
import {ranges} from '@sluice/core/internal';

import type {TfOps} from '../tf_ops';

/**
 * Elements per [N, block] temporary: 2^20 float32 (4 MiB), N × 256 at
 * N = 4096. On the 2-core EPYC the benchmarks ran on, libtensorflow's matmuls
 * of those shapes ran as fast as 512- or 1024-wide ones (2048-wide ones were
 * 1.5× slower, one N × V product 2× slower: writing the logits bounds it),
 * and a backward block's two live temporaries stay at 8 MiB beside the
 * 32 MiB of dC (V = 32768, D = 256).
 */
const TARGET_BLOCK_ELEMENTS = 1 << 20;
const MIN_BLOCK = 128;

/** [start, size] vocabulary blocks covering [0, V). */
export function vocabBlocks(numTokens: number, vocabSize: number, hint: number): Array<[number, number]> {
  const chunk = hint > 0 ? Math.min(hint, vocabSize) :
                           Math.min(vocabSize, Math.max(MIN_BLOCK, Math.floor(TARGET_BLOCK_ELEMENTS / numTokens)));
  return ranges(vocabSize, chunk);
}

/** `[x · scale | scale]`: the embeddings side of a matmul whose other side carries the bias column. */
export function withBiasColumn(ops: TfOps, x: TensorInfo, scale: number, hasBias: boolean): Tensor {
  const scaled = scale === 1 ? ops.reshape(x, x.shape) : ops.withScalar('Mul', x, scale);
  return hasBias ? ops.concat([scaled, ops.fill([x.shape[0], 1], scale)], 1) : scaled;
}

/** Rows [start, start + size) of the classifier, with the bias block as one more column when given. */
export function classifierBlock(ops: TfOps, classifier: TensorInfo, bias: TensorInfo|undefined, start: number,
                                size: number, extraColumns: Tensor[] = []): {block: Tensor, augmented: Tensor} {
  const d = classifier.shape[1];
  const block = ops.slice(classifier, [start, 0], [size, d]);
  const columns = [block];
  if (bias != null) {
    columns.push(ops.reshape(ops.slice(bias, [start], [size]), [size, 1]));
  }
  columns.push(...extraColumns);
  const augmented = columns.length === 1 ? ops.reshape(block, block.shape) : ops.concat(columns, 1);
  return {block, augmented};
}

/** Column [N, 1] of each token's final logit at `indices` [N] (int32, all in range). */
export function logitsAt(ops: TfOps, embeddings: TensorInfo, classifier: TensorInfo, bias: TensorInfo|undefined,
                         indices: TensorInfo, softcap: number): Tensor {
  const n = embeddings.shape[0];
  const rows = ops.gatherRows(classifier, indices);
  const products = ops.binary('Mul', embeddings, rows);
  let x = ops.reduce('Sum', products, [1], true);
  if (bias != null) {
    const b = ops.reshape(ops.gatherRows(bias, indices), [n, 1]);
    x = ops.binary('AddV2', x, b);
  }
  return softcap > 0 ? ops.withScalar('Mul', ops.unary('Tanh', ops.withScalar('Mul', x, 1 / softcap)), softcap) : x;
}

/** Labels as int32 [N] with ignored positions replaced by 0, and the bool mask of kept tokens. */
export function keptLabels(ops: TfOps, labels: TensorInfo, ignoreIndex: number): {kept: Tensor, safe: Tensor} {
  const kept = ops.withScalar('NotEqual', labels, ignoreIndex);
  const zero = ops.fill([], 0, 'int32');
  return {kept, safe: ops.select(kept, labels, zero)};
}

/** ConcatV2 needs two inputs or more; a single block is its own concatenation. */
export function concatBlocks(ops: TfOps, parts: Tensor[], axis: number): Tensor {
  return parts.length === 1 ? ops.reshape(parts[0], parts[0].shape) : ops.concat(parts, axis);
}
