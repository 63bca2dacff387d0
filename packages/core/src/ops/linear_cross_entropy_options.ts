import {Reduction as TfReduction} from '@tensorflow/tfjs-core';
import type {Rank, Scalar, Tensor, TensorLike} from '@tensorflow/tfjs-core';

import {assertFiniteNumber, assertInteger, assertKnownKeys, assertOneOf, describeValue, fail, INT32_MAX,
        INT32_MIN} from '../internal';
import type {ClassifierLayout, SluiceLinearCrossEntropyAttrs} from '../kernel_names';

export type Reduction = 'mean'|'sum'|'none';
export const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];
export const CLASSIFIER_LAYOUTS: readonly ClassifierLayout[] = ['vd', 'dv'];

export interface LinearCrossEntropyOptions {
  /** [V] added to the logits before the softcap. A −Inf entry masks its class (a padded vocabulary). */
  bias?: Tensor|TensorLike;
  /**
   * [V] float32, finite, >= 0: PyTorch's `weight`. Each kept token's loss is
   * scaled by its label's weight (label smoothing combines as in PyTorch),
   * and 'mean' divides by the sum of the kept tokens' weights.
   */
  classWeights?: Tensor|TensorLike;
  /** 'vd' (default): classifier [V, D]; 'dv': a dense layer's kernel [D, V], read as it is (no transposed copy). */
  classifierLayout?: ClassifierLayout;
  /** Tokens whose label equals this add 0 loss and 0 gradient. Default -100. */
  ignoreIndex?: number;
  /**
   * Default 'mean' over the tokens that are not ignored (weighted by
   * classWeights; 0 when none is kept). tf.Reduction values are accepted:
   * MEAN and SUM_BY_NONZERO_WEIGHTS are 'mean', SUM 'sum', NONE 'none'.
   */
  reduction?: Reduction|TfReduction;
  /**
   * Position t predicts label t + 1 (hidden states [B, T, D] or more, labels
   * [B, T]): the op shifts the labels (an [N] int32 copy) and never slices or
   * copies the hidden states; per-token outputs have shape [B, T − 1]. The
   * last position of each row is computed and dropped (1/T extra work).
   */
  shift?: boolean;
  /** logits := softcap · tanh(logits / softcap). 0 or absent: no cap. */
  softcap?: number;
  /**
   * PyTorch's label smoothing over the unmasked classes: target =
   * (1 − ls)·onehot + ls/V_u (with classWeights, weighted as PyTorch does).
   * Without masked classes or classWeights this is tfjs's convention. Default 0.
   */
  labelSmoothing?: number;
  /** Adds zLoss · w_y · lse² per token. Default 0. */
  zLoss?: number;
  /** Adds maxSup · w_y · (max_j z_j − mean over unmasked j of z_j) per token (MaxSup). Default 0. */
  maxSup?: number;
  /**
   * The backward pass skips vocabulary blocks whose softmax stays below this
   * for every token of the block. 'auto' (default): float32 epsilon / 32, as
   * Cut Cross-Entropy does; null or 0: never skip.
   */
  gradFilterEps?: number|'auto'|null;
  /** Vocabulary block size hint; kernels choose their own when absent. */
  vocabChunk?: number;
  /** Return a result object with `lse` (per token, every token). */
  returnLse?: boolean;
  /** Return a result object with `zLoss`: the z-loss term, reduced as the loss (differentiable). */
  returnZLoss?: boolean;
  /** Return a result object with `predictions`: int32 argmax per token, the first maximum on ties. */
  returnPredictions?: boolean;
  /**
   * Return a result object with `accuracy`: per token 1/0 (0 for ignored
   * tokens); with 'mean' the mean over kept tokens, with 'sum' their count.
   */
  returnAccuracy?: boolean;
  /** Return a result object with `entropy`: the softmax entropy per token (not differentiable). */
  returnEntropy?: boolean;
}

/** The result object, when any `return*` flag is set. Per-token fields have the labels' shape. */
export interface LinearCrossEntropyResult<L extends Tensor = Tensor> {
  loss: L;
  lse?: Tensor;
  zLoss?: L;
  predictions?: Tensor;
  accuracy?: L;
  entropy?: Tensor;
}

type NoneReduction = 'none'|TfReduction.NONE;
type ReturnFlag = 'returnLse'|'returnZLoss'|'returnPredictions'|'returnAccuracy'|'returnEntropy';
interface FieldOfFlag {
  returnLse: 'lse';
  returnZLoss: 'zLoss';
  returnPredictions: 'predictions';
  returnAccuracy: 'accuracy';
  returnEntropy: 'entropy';
}
/** Options with at least one return flag set to `true`. */
export type WithReturnFlags = LinearCrossEntropyOptions&
    ({returnLse: true}|{returnZLoss: true}|{returnPredictions: true}|{returnAccuracy: true}|{returnEntropy: true});
/** Options without a true return flag, reducing to a scalar. */
export type ScalarOptions = LinearCrossEntropyOptions&{reduction?: Exclude<Reduction|TfReduction, NoneReduction>}&
    {[F in ReturnFlag]?: false};
/** Options without a true return flag, reduction 'none'. */
export type PerTokenOptions = LinearCrossEntropyOptions&{reduction: NoneReduction}&{[F in ReturnFlag]?: false};

/** The loss's type for options `O`: per token for 'none', else a scalar. */
export type LossOf<O, R extends Rank> = O extends {reduction: NoneReduction} ? Tensor<R> : Scalar;
/** The result object for options `O`: the fields whose flags are set are present. */
export type ResultOf<O, R extends Rank> = LinearCrossEntropyResult<LossOf<O, R>>&
    {[F in ReturnFlag as O extends {[K in F]: true} ? FieldOfFlag[F] : never]-?: F extends 'returnZLoss'|'returnAccuracy' ?
                                                                                 LossOf<O, R>: Tensor<R>};

export type LossOutput = Tensor|Scalar;

const KNOWN = ['bias', 'classWeights', 'classifierLayout', 'ignoreIndex', 'reduction', 'shift', 'softcap',
               'labelSmoothing', 'zLoss', 'maxSup', 'gradFilterEps', 'vocabChunk', 'returnLse', 'returnZLoss',
               'returnPredictions', 'returnAccuracy', 'returnEntropy'] as const;
const FLAGS = ['shift', 'returnLse', 'returnZLoss', 'returnPredictions', 'returnAccuracy', 'returnEntropy'] as const;

/** float32 machine epsilon / 32: Cut Cross-Entropy's 'auto' filter. */
export const AUTO_GRAD_FILTER_EPS = Math.pow(2, -23) / 32;

export interface ResolvedLinearCrossEntropyOptions {
  /** hasBias, hasClassWeights and computeEntropy are set by the op once it has the tensors. */
  attrs: SluiceLinearCrossEntropyAttrs;
  reduction: Reduction;
  shift: boolean;
  returnLse: boolean;
  returnZLoss: boolean;
  returnPredictions: boolean;
  returnAccuracy: boolean;
  returnEntropy: boolean;
}

/** tf.Reduction values as the op's reductions (SUM_BY_NONZERO_WEIGHTS: the mean over kept tokens). */
function resolveReduction(op: string, value: unknown): Reduction {
  if (value == null) return 'mean';
  if (typeof value === 'number') {
    switch (value) {
      case TfReduction.NONE: return 'none';
      case TfReduction.SUM: return 'sum';
      case TfReduction.MEAN:
      case TfReduction.SUM_BY_NONZERO_WEIGHTS: return 'mean';
      default:
        fail(op, 'options.reduction', `one of 'mean', 'sum', 'none' or a tf.Reduction value (0 to 3)`, String(value));
    }
  }
  return assertOneOf(op, 'options.reduction', value, REDUCTIONS);
}

/** Validates the options that are plain values; the tensors (bias, classWeights) are checked by the op. */
export function resolveLinearCrossEntropyOptions(op: string,
                                                 options: LinearCrossEntropyOptions|undefined):
    ResolvedLinearCrossEntropyOptions {
  const o = options ?? {};
  if (typeof o !== 'object') {
    fail(op, 'options', 'an object', typeof o);
  }
  assertKnownKeys(op, 'options', o, KNOWN);
  // int32: kernels and the kept-token count compare it with int32 labels, where 2^32 would wrap to 0.
  const ignoreIndex =
      o.ignoreIndex == null ? -100 : assertInteger(op, 'options.ignoreIndex', o.ignoreIndex, INT32_MIN, INT32_MAX);
  const reduction = resolveReduction(op, o.reduction);
  const classifierLayout = o.classifierLayout == null ? 'vd' :
                                                        assertOneOf(op, 'options.classifierLayout', o.classifierLayout,
                                                                    CLASSIFIER_LAYOUTS);
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
  for (const flag of FLAGS) {
    if (o[flag] != null && typeof o[flag] !== 'boolean') {
      fail(op, `options.${flag}`, 'a boolean', describeValue(o[flag]));
    }
  }
  return {
    attrs: {
      ignoreIndex, softcap, labelSmoothing, zLoss, maxSup, gradFilterEps, vocabChunk, classifierLayout,
      hasBias: o.bias != null, hasClassWeights: false, computeEntropy: o.returnEntropy === true,
    },
    reduction,
    shift: o.shift === true,
    returnLse: o.returnLse === true,
    returnZLoss: o.returnZLoss === true,
    returnPredictions: o.returnPredictions === true,
    returnAccuracy: o.returnAccuracy === true,
    returnEntropy: o.returnEntropy === true,
  };
}
