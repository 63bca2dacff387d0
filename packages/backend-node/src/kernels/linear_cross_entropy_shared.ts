/**
 * Pieces shared by the forward and backward 'tensorflow' kernels of
 * SluiceLinearCrossEntropy. The bias rides inside the matmul as one more
 * column of the classifier block (one more row of a 'dv' block [D, V], which
 * is multiplied as it is, never transposed), with a column of ones, or of
 * 1/softcap, on the embeddings side, so no [N, block] pass is spent adding
 * it. The bias, classWeights and labels are read on the host once per call
 * (V + V + N values): they decide which classes are masked, which blocks are
 * wholly masked (skipped), and the weights' sums. Callers run these inside
 * `tidy`; only the [N, block] temporaries of the block loops are disposed by hand.
 */
import {Tensor, tensor1d, tensor2d, TensorInfo} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyAttrs} from '@sluice/core';
import {ClassInfo, classInfo, maskedInBlock, ranges} from '@sluice/core/internal';

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

/**
 * The inputs with the bias left out when it is the op's zeros (attrs.hasBias
 * false; a missing hasBias counts as true): every helper below then skips it.
 */
export function withoutZeroBias<T extends {bias?: TensorInfo}>(inputs: T,
                                                                attrs: SluiceLinearCrossEntropyAttrs): T {
  return attrs.hasBias === false ? {...inputs, bias: undefined} : inputs;
}

/** `[x · scale | scale]`: the embeddings side of a matmul whose other side carries the bias column. */
export function withBiasColumn(ops: TfOps, x: TensorInfo, scale: number, hasBias: boolean): Tensor {
  const scaled = scale === 1 ? ops.reshape(x, x.shape) : ops.withScalar('Mul', x, scale);
  return hasBias ? ops.concat([scaled, ops.fill([x.shape[0], 1], scale)], 1) : scaled;
}

/**
 * Classes [start, start + size) of the classifier ([size, D] rows, or [D, size]
 * columns of a 'dv' classifier), with the bias block as one more column (row
 * for 'dv') when given, and `extra` more (ones, for the lse shift). Multiply
 * with `matMul(x, augmented, false, !dv)`.
 */
export function classifierBlock(ops: TfOps, classifier: TensorInfo, bias: TensorInfo|undefined, dv: boolean,
                                start: number, size: number, extra = 0): {block: Tensor, augmented: Tensor} {
  const block = dv ? ops.slice(classifier, [0, start], [classifier.shape[0], size]) :
                     ops.slice(classifier, [start, 0], [size, classifier.shape[1]]);
  const parts = [block];
  const asPart = (t: Tensor) => dv ? ops.reshape(t, [1, size]) : ops.reshape(t, [size, 1]);
  if (bias != null) {
    parts.push(asPart(ops.slice(bias, [start], [size])));
  }
  for (let k = 0; k < extra; ++k) {
    parts.push(ops.fill(dv ? [1, size] : [size, 1], 1));
  }
  const augmented = parts.length === 1 ? ops.reshape(block, block.shape) : ops.concat(parts, dv ? 0 : 1);
  return {block, augmented};
}

/** Rows [N, D] of the classifier at `indices` (columns of a 'dv' one, transposed: N·D values, not V·D). */
export function classifierRows(ops: TfOps, classifier: TensorInfo, dv: boolean, indices: TensorInfo): Tensor {
  return dv ? ops.transpose(ops.gatherColumns(classifier, indices), [1, 0]) : ops.gatherRows(classifier, indices);
}

/** Column [N, 1] of each token's final logit at `indices` [N] (int32, all in range; masking is the caller's). */
export function logitsAt(ops: TfOps, embeddings: TensorInfo, classifier: TensorInfo, bias: TensorInfo|undefined,
                         dv: boolean, indices: TensorInfo, softcap: number): Tensor {
  const n = embeddings.shape[0];
  const products = ops.binary('Mul', embeddings, classifierRows(ops, classifier, dv, indices));
  let x = ops.reduce('Sum', products, [1], true);
  if (bias != null) {
    const b = ops.reshape(ops.gatherRows(bias, indices), [n, 1]);
    x = ops.binary('AddV2', x, b);
  }
  return softcap > 0 ? ops.withScalar('Mul', ops.unary('Tanh', ops.withScalar('Mul', x, 1 / softcap)), softcap) : x;
}

/** ConcatV2 needs two inputs or more; a single block is its own concatenation. */
export function concatBlocks(ops: TfOps, parts: Tensor[], axis: number): Tensor {
  return parts.length === 1 ? ops.reshape(parts[0], parts[0].shape) : ops.concat(parts, axis);
}

/**
 * The host's view of one call: classes (masked, weights, V_u, S), labels
 * (kept, in range, at a masked class) and the small tensors built from them.
 */
export interface Host {
  info: ClassInfo;
  /** Labels with ignored and out-of-range ones replaced by 0 (int32 [N]). */
  safe: Tensor;
  /** bool [N]: kept tokens. */
  kept: Tensor;
  /** Host copy of `kept` (1 = kept). */
  keptHost: Uint8Array;
  /** bool [N, 1] of kept labels outside [0, V), or null when there is none. */
  outOfRange: Tensor|null;
  /** bool [N, 1] of kept labels at a masked class, or null when there is none. */
  atMasked: Tensor|null;
  /** Host copy of the safe labels. */
  safeLabels: Int32Array;
  /** [V, 2]: columns w⊙u and u (u = 1 at unmasked classes); null when no class is masked and there are no weights. */
  classColumns: Tensor|null;
  /** [1, V]: 0, or −Inf at masked classes; null when none is masked. */
  maskAdd: Tensor|null;
}

export function readHost(ops: TfOps, labels: TensorInfo, bias: TensorInfo|undefined, classWeights: TensorInfo|undefined,
                         attrs: SluiceLinearCrossEntropyAttrs, v: number): Host {
  const biasValues = bias == null ? new Float32Array(v) : ops.readFloats(bias);
  const weights = attrs.hasClassWeights && classWeights != null ? ops.readFloats(classWeights) : null;
  const info = classInfo(biasValues, weights, v);
  const values = ops.readInts(labels);
  const n = values.length;
  const safeLabels = new Int32Array(n), kept: boolean[] = [], outOfRange: boolean[] = [], atMasked: boolean[] = [];
  let anyOutOfRange = false, anyAtMasked = false;
  for (let i = 0; i < n; ++i) {
    const y = values[i];
    kept.push(y !== attrs.ignoreIndex);
    const inRange = y >= 0 && y < v;
    outOfRange.push(kept[i] && !inRange);
    atMasked.push(kept[i] && inRange && info.masked != null && info.masked[y] === 1);
    anyOutOfRange ||= outOfRange[i];
    anyAtMasked ||= atMasked[i];
    safeLabels[i] = kept[i] && inRange ? y : 0;
  }
  let classColumns: Tensor|null = null, maskAdd: Tensor|null = null;
  if (info.masked != null || weights != null) {
    const columns = new Float32Array(2 * v);
    for (let j = 0; j < v; ++j) {
      const u = info.masked?.[j] ? 0 : 1;
      columns[2 * j] = u * (weights ? weights[j] : 1);
      columns[2 * j + 1] = u;
    }
    classColumns = tensor2d(columns, [v, 2]);
  }
  if (info.masked != null) {
    maskAdd = tensor2d(Float32Array.from(info.masked, m => m ? -Infinity : 0), [1, v]);
  }
  return {
    info, safeLabels, keptHost: Uint8Array.from(kept, k => k ? 1 : 0),
    safe: tensor1d(safeLabels, 'int32'),
    kept: tensor1d(kept.map(k => k ? 1 : 0), 'bool'),
    outOfRange: anyOutOfRange ? tensor2d(outOfRange.map(k => k ? 1 : 0), [n, 1], 'bool') : null,
    atMasked: anyAtMasked ? tensor2d(atMasked.map(k => k ? 1 : 0), [n, 1], 'bool') : null,
    classColumns, maskAdd,
  };
}

/** Whether every class of the block is masked (it adds nothing and is skipped). */
export function whollyMasked(host: Host, start: number, size: number): boolean {
  return maskedInBlock(host.info, start, size) === size;
}

/** [1, size] of the block's mask row, when some of its classes are masked; else null. */
export function blockMaskAdd(ops: TfOps, host: Host, start: number, size: number): Tensor|null {
  return host.maskAdd != null && maskedInBlock(host.info, start, size) > 0 ? ops.slice(host.maskAdd, [0, start], [1, size]) :
                                                                           null;
}

/** Each kept token's label weight w_y as [N, 1] (ones without classWeights: null). */
export function labelWeights(ops: TfOps, host: Host, classWeights: TensorInfo|undefined): Tensor|null {
  if (host.info.weights == null || classWeights == null) return null;
  return ops.reshape(ops.gatherRows(classWeights, host.safe), [host.safeLabels.length, 1]);
}

/**
 * [2, D]: Σ_U w_c·c_c and Σ_U c_c (rows of [V, D], columns of a 'dv'
 * classifier), and the matching bias sums [1, 2] over the unmasked classes.
 */
export function unmaskedClassSums(ops: TfOps, host: Host, classifier: TensorInfo, bias: TensorInfo|undefined,
                                  dv: boolean, v: number): {rows: Tensor, biasSums: Tensor} {
  const columns = host.classColumns ?? ops.fill([v, 2], 1);
  const rows = ops.matMul(columns, classifier, true, dv);
  let biasSums: Tensor;
  if (bias == null) {
    biasSums = ops.fill([1, 2], 0);
  } else {
    // Masked entries are −Inf: replaced by 0 before the product (0 · −Inf would be NaN).
    const finite = host.maskAdd == null ? ops.reshape(bias, [1, v]) :
                                          ops.select(ops.withScalar('Greater', host.maskAdd, -1),
                                                     ops.reshape(bias, [1, v]), ops.fill([], 0));
    biasSums = ops.matMul(finite, columns);
  }
  return {rows, biasSums};
}
