import type {Scalar, Tensor, Tensor1D} from '@tensorflow/tfjs-core';

import {assertFiniteNumber, assertInteger, assertKnownKeys, assertOneOf, assertTensor, describeValue, fail, INT32_MAX,
        INT32_MIN} from '../internal';
import type {SluiceLinearCrossEntropyAttrs} from '../kernel_names';

export type Reduction = 'mean'|'sum'|'none';
export const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

export interface LinearCrossEntropyOptions {
  /** [V] added to the logits before the softcap. */
  bias?: Tensor1D;
  /** Tokens whose label equals this add 0 loss and 0 gradient. Default -100. */
  ignoreIndex?: number;
  /** Default 'mean' over the tokens that are not ignored (0 when all are). */
  reduction?: Reduction;
  /** logits := softcap · tanh(logits / softcap). 0 or absent: no cap. */
  softcap?: number;
  /** tfjs convention: target = (1 − ls)·onehot + ls/V. Default 0. */
  labelSmoothing?: number;
  /** Adds zLoss · lse² per token. Default 0. */
  zLoss?: number;
  /** Adds maxSup · (max_j z_j − mean_j z_j) per token (MaxSup). Default 0. */
  maxSup?: number;
  /**
   * The backward pass skips vocabulary blocks whose softmax stays below this
   * for every token of the block. 'auto' (default): float32 epsilon / 32, as
   * Cut Cross-Entropy does; null or 0: never skip.
   */
  gradFilterEps?: number|'auto'|null;
  /** Vocabulary block size hint; kernels choose their own when absent. */
  vocabChunk?: number;
  /** Return `{loss, lse}` instead of the loss alone. */
  returnLse?: boolean;
}

export interface LinearCrossEntropyResult {
  loss: Tensor;
  /** [N] log-sum-exp of the final logits, for every token (ignored ones too). */
  lse: Tensor1D;
}

export type LossOutput = Tensor|Scalar;

const KNOWN = ['bias', 'ignoreIndex', 'reduction', 'softcap', 'labelSmoothing', 'zLoss', 'maxSup',
               'gradFilterEps', 'vocabChunk', 'returnLse'] as const;

/** float32 machine epsilon / 32: Cut Cross-Entropy's 'auto' filter. */
export const AUTO_GRAD_FILTER_EPS = Math.pow(2, -23) / 32;

export interface ResolvedLinearCrossEntropyOptions {
  attrs: SluiceLinearCrossEntropyAttrs;
  reduction: Reduction;
  returnLse: boolean;
  bias?: Tensor1D;
}

export function resolveLinearCrossEntropyOptions(op: string, options: LinearCrossEntropyOptions|undefined,
                                                 vocabSize: number): ResolvedLinearCrossEntropyOptions {
  const o = options ?? {};
  if (typeof o !== 'object') {
    fail(op, 'options', 'an object', typeof o);
  }
  assertKnownKeys(op, 'options', o, KNOWN);
  if (o.bias != null) {
    assertTensor(op, 'options.bias', o.bias, 1, ['float32'], '[V]');
    if (o.bias.shape[0] !== vocabSize) {
      fail(op, 'options.bias', `of shape [${vocabSize}] (V from classifier)`, `shape [${o.bias.shape.join(',')}]`);
    }
  }
  // int32: kernels and the kept-token count compare it with int32 labels, where 2^32 would wrap to 0.
  const ignoreIndex =
      o.ignoreIndex == null ? -100 : assertInteger(op, 'options.ignoreIndex', o.ignoreIndex, INT32_MIN, INT32_MAX);
  const reduction = o.reduction == null ? 'mean' : assertOneOf(op, 'options.reduction', o.reduction, REDUCTIONS);
  const softcap = o.softcap == null ? 0 : assertFiniteNumber(op, 'options.softcap', o.softcap, 0);
  const labelSmoothing =
      o.labelSmoothing == null ? 0 : assertFiniteNumber(op, 'options.labelSmoothing', o.labelSmoothing, 0, 1);
  const zLoss = o.zLoss == null ? 0 : assertFiniteNumber(op, 'options.zLoss', o.zLoss, 0);
  const maxSup = o.maxSup == null ? 0 : assertFiniteNumber(op, 'options.maxSup', o.maxSup, 0);
  let gradFilterEps: number;
  if (o.gradFilterEps === undefined || o.gradFilterEps === 'auto') {
    gradFilterEps = AUTO_GRAD_FILTER_EPS;
  } else if (o.gradFilterEps === null) {
    gradFilterEps = 0;
  } else {
    gradFilterEps = assertFiniteNumber(op, 'options.gradFilterEps', o.gradFilterEps, 0, 1, " (or 'auto' or null)");
  }
  const vocabChunk = o.vocabChunk == null ? 0 : assertInteger(op, 'options.vocabChunk', o.vocabChunk, 1);
  if (o.returnLse != null && typeof o.returnLse !== 'boolean') {
    fail(op, 'options.returnLse', 'a boolean', describeValue(o.returnLse));
  }
  return {
    attrs: {ignoreIndex, softcap, labelSmoothing, zLoss, maxSup, gradFilterEps, vocabChunk, hasBias: true},
    reduction,
    returnLse: o.returnLse === true,
    bias: o.bias,
  };
}
