import {cast, concat, div, equal, fill, gather, greater, greaterEqual, less, logicalAnd, maximum, mul, notEqual, op, ones, Rank, reshape,
        scalar, Scalar, slice, sum, Tensor, Tensor1D, Tensor2D, TensorLike, where, zeros} from '@tensorflow/tfjs-core';

import {dropLastPosition, fail, hostValues, reshapeDifferentiable, runKernelOrComposite, scaledSum, stopGradient,
        sumAll, toTensor, weightedSquare} from '../internal';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '../kernel_names';

import {LinearCrossEntropyOptions, LinearCrossEntropyResult, PerTokenOptions, ResolvedLinearCrossEntropyOptions,
        resolveLinearCrossEntropyOptions, ResultOf, ScalarOptions, WithReturnFlags} from './linear_cross_entropy_options';

const OP = 'linearCrossEntropy';

const shapeString = (shape: number[]) => `[${shape.join(',')}]`;

/** `labels[i][j]` for the flat index `flat` of a tensor of `shape`. */
function indexName(shape: number[], flat: number): string {
  const at: number[] = [];
  for (let k = shape.length - 1; k >= 0; --k) {
    at.unshift(flat % shape[k]);
    flat = Math.floor(flat / shape[k]);
  }
  return `labels${at.map(i => `[${i}]`).join('')}`;
}

/**
 * Labels are read back to check their range: a label past V would otherwise
 * read out of bounds on GPU backends. The read is N int32s, and labels usually
 * still live on the CPU side; where they do not (GPU-resident on webgpu, see
 * host_values.ts) the check is skipped and kernels give such tokens NaN.
 */
function assertLabelsInRange(labels: Tensor, vocabSize: number, ignoreIndex: number) {
  const values = hostValues(labels);
  if (values == null) return;
  for (let i = 0; i < values.length; ++i) {
    const y = values[i];
    if (y !== ignoreIndex && (y < 0 || y >= vocabSize)) {
      fail(OP, indexName(labels.shape, i), `in [0, ${vocabSize}) or equal to ignoreIndex (${ignoreIndex})`, String(y));
    }
  }
}

function assertFloatVector(argument: string, t: Tensor, vocabSize: number) {
  if (t.dtype !== 'float32') {
    fail(OP, argument, 'of dtype float32', t.dtype);
  }
  if (t.rank !== 1) {
    fail(OP, argument, 'rank 1 [V]', `rank ${t.rank} (shape ${shapeString(t.shape)})`);
  }
  if (t.shape[0] !== vocabSize) {
    fail(OP, argument, `of shape [${vocabSize}] (V from classifier)`, `shape ${shapeString(t.shape)}`);
  }
}

/** classWeights must be finite and >= 0 (read back like labels; skipped where they live on the GPU of webgpu). */
function assertClassWeights(weights: Tensor) {
  const values = hostValues(weights);
  if (values == null) return;
  for (let i = 0; i < values.length; ++i) {
    if (!(Number.isFinite(values[i]) && values[i] >= 0)) {
      fail(OP, `options.classWeights[${i}]`, 'finite and >= 0', String(values[i]));
    }
  }
}

interface Checked {
  hidden: Tensor;       // [..., D]
  classifier: Tensor2D;
  labels: Tensor;       // the hidden states' leading shape
  bias?: Tensor1D;
  classWeights?: Tensor1D;
  vocabSize: number;
}

function checkInputs(hiddenIn: unknown, classifierIn: unknown, labelsIn: unknown,
                     options: LinearCrossEntropyOptions|undefined, o: ResolvedLinearCrossEntropyOptions): Checked {
  const layout = o.attrs.classifierLayout;
  const cDoc = layout === 'dv' ? '[D, V]' : '[V, D]';
  const hidden = toTensor(OP, 'embeddings', hiddenIn, 'float32', '[..., D]');
  const classifier = toTensor(OP, 'classifier', classifierIn, 'float32', cDoc) as Tensor2D;
  const labels = toTensor(OP, 'labels', labelsIn, 'int32', '[...] (the leading shape of embeddings)');
  if (hidden.rank < 2) {
    fail(OP, 'embeddings', 'of rank >= 2 [..., D]', `rank ${hidden.rank} (shape ${shapeString(hidden.shape)})`);
  }
  if (hidden.dtype !== 'float32') {
    fail(OP, 'embeddings', 'of dtype float32', hidden.dtype);
  }
  if (hidden.shape[hidden.rank - 1] < 1) {
    // D = 0 would make every logit its bias alone; rejected rather than given a meaning no caller asked for.
    fail(OP, 'embeddings', 'of shape [..., D] with D >= 1', `shape ${shapeString(hidden.shape)}`);
  }
  if (classifier.rank !== 2) {
    fail(OP, 'classifier', `rank 2 ${cDoc}`, `rank ${classifier.rank} (shape ${shapeString(classifier.shape)})`);
  }
  if (classifier.dtype !== 'float32') {
    fail(OP, 'classifier', 'of dtype float32', classifier.dtype);
  }
  const d = hidden.shape[hidden.rank - 1];
  const [v, dc] = layout === 'dv' ? [classifier.shape[1], classifier.shape[0]] : classifier.shape;
  if (dc !== d) {
    const want = layout === 'dv' ? `[${d}, V]` : `[V, ${d}]`;
    fail(OP, 'classifier', `of shape ${want} (D from embeddings, classifierLayout '${layout}')`,
         `shape ${shapeString(classifier.shape)}`);
  }
  if (v < 1) {
    fail(OP, 'classifier', `of shape ${cDoc} with V >= 1`, `shape ${shapeString(classifier.shape)}`);
  }
  if (labels.dtype !== 'int32') {
    fail(OP, 'labels', 'of dtype int32', labels.dtype);
  }
  const leading = hidden.shape.slice(0, -1);
  if (shapeString(labels.shape) !== shapeString(leading)) {
    fail(OP, 'labels', `of shape ${shapeString(leading)} (the leading shape of embeddings ${
                           shapeString(hidden.shape)})`, `shape ${shapeString(labels.shape)}`);
  }
  if (o.shift) {
    if (hidden.rank < 3) {
      fail(OP, 'options.shift', 'used with embeddings of rank >= 3 [B, T, D]',
           `rank ${hidden.rank} embeddings (shape ${shapeString(hidden.shape)})`);
    }
    if (leading[leading.length - 1] < 2) {
      fail(OP, 'options.shift', 'used with T >= 2 (embeddings [..., T, D])',
           `T = ${leading[leading.length - 1]} (embeddings shape ${shapeString(hidden.shape)})`);
    }
  }
  let bias: Tensor1D|undefined, classWeights: Tensor1D|undefined;
  if (options?.bias != null) {
    bias = toTensor(OP, 'options.bias', options.bias, 'float32', '[V]') as Tensor1D;
    assertFloatVector('options.bias', bias, v);
  }
  if (options?.classWeights != null) {
    classWeights = toTensor(OP, 'options.classWeights', options.classWeights, 'float32', '[V]') as Tensor1D;
    assertFloatVector('options.classWeights', classWeights, v);
    assertClassWeights(classWeights);
  }
  assertLabelsInRange(labels, v, o.attrs.ignoreIndex);
  return {hidden, classifier, labels, bias, classWeights, vocabSize: v};
}

/**
 * The kernel's outputs through the backend's kernel or the composite:
 * [losses, lse, argmax, entropy] ([N] each; entropy [0] unless computeEntropy).
 */
export function linearCrossEntropyPerToken(inputs: Required<SluiceLinearCrossEntropyInputs>,
                                           attrs: SluiceLinearCrossEntropyAttrs): Tensor1D[] {
  return runKernelOrComposite(SluiceLinearCrossEntropy, inputs, attrs) as Tensor1D[];
}

/** labels[..., 1:] with ignoreIndex appended, as [N] int32: position t predicts label t + 1. */
function shiftedLabels(labels: Tensor, ignoreIndex: number): Tensor1D {
  const t = labels.shape[labels.rank - 1];
  const rows = labels.size / t;
  const grid = reshape(labels, [rows, t]);
  const next = concat([slice(grid, [0, 1], [rows, t - 1]), fill([rows, 1], ignoreIndex, 'int32')], 1);
  return reshape(next, [rows * t]);
}

function linearCrossEntropy_(hiddenIn: Tensor|TensorLike, classifierIn: Tensor|TensorLike, labelsIn: Tensor|TensorLike,
                             options?: LinearCrossEntropyOptions): Tensor|LinearCrossEntropyResult {
  const o = resolveLinearCrossEntropyOptions(OP, options);
  const {hidden, classifier, labels, bias, classWeights, vocabSize: v} = checkInputs(hiddenIn, classifierIn, labelsIn,
                                                                                     options, o);
  const d = hidden.shape[hidden.rank - 1];
  // From the leading dimensions, not size / D: exact for N = 0 too.
  const n = labels.size;
  const ignoreIndex = o.attrs.ignoreIndex;
  const attrs: SluiceLinearCrossEntropyAttrs = {...o.attrs, hasClassWeights: classWeights != null};
  // Per-token outputs come back in the labels' shape, without the last position when shifting.
  const labelShape = labels.shape;
  const flatLabels = o.shift ? shiftedLabels(labels, ignoreIndex) : reshape(labels, [n]) as Tensor1D;
  const perToken = (x: Tensor, differentiable: boolean): Tensor => {
    const shaped = differentiable ? reshapeDifferentiable(x, labelShape) : reshape(x, labelShape);
    return o.shift ? (differentiable ? dropLastPosition(shaped) : dropLast(shaped)) : shaped;
  };

  const embeddings = hidden.rank === 2 ? hidden as Tensor2D : reshapeDifferentiable<Tensor2D>(hidden, [n, d]);
  const [losses, lse, argmax, entropy] = linearCrossEntropyPerToken({
    embeddings, classifier, labels: flatLabels,
    bias: bias ?? zeros([v]) as Tensor1D,
    classWeights: classWeights ?? ones([v]) as Tensor1D,
  }, attrs);

  // Σ_{kept} w_y, what 'mean' divides by; per token: w_y for kept labels in range, NaN for kept labels out
  // of range (reachable only where labels could not be read back), 0 for ignored tokens.
  const kept = notEqual(flatLabels, scalar(ignoreIndex, 'int32'));
  const inRange = logicalAnd(greaterEqual(flatLabels, scalar(0, 'int32')), less(flatLabels, scalar(v, 'int32')));
  const safe = where(inRange, flatLabels, zeros([n], 'int32'));
  const labelWeights = where(kept, where(inRange, classWeights ? gather(classWeights, safe) : ones([n]), fill([n], NaN)),
                             zeros([n]));
  const reduce = (x: Tensor, divisor: () => Scalar): Tensor => {
    if (o.reduction === 'none') return perToken(x, true);
    if (o.reduction === 'sum') return scaledSum(x, scalar(1));
    // 0 when nothing counts: the divisor's inverse is replaced, so 0/0 never appears.
    const total = divisor();
    return scaledSum(x, where(greater(total, 0), div(scalar(1), total), scalar(0)) as Scalar);
  };
  const divisor = () => sumAll(labelWeights);
  const loss = reduce(losses, divisor);
  const anyExtra = o.returnLse || o.returnZLoss || o.returnPredictions || o.returnAccuracy || o.returnEntropy;
  if (!anyExtra) {
    return loss;
  }
  const result: LinearCrossEntropyResult = {loss};
  if (o.returnLse) {
    result.lse = perToken(lse, true);
  }
  if (o.returnZLoss) {
    // w_y·zLoss·lse² of kept tokens, differentiable through lse (masked, not multiplied: 0 · Inf = NaN).
    const coefficient = mul(labelWeights, scalar(attrs.zLoss));
    result.zLoss = reduce(weightedSquare(lse, coefficient, kept), divisor);
  }
  const predictions = stopGradient(argmax);
  if (o.returnPredictions) {
    result.predictions = perToken(predictions, false);
  }
  if (o.returnAccuracy) {
    const correct = stopGradient(cast(logicalAnd(kept, equal(predictions, flatLabels)), 'float32'));
    result.accuracy = o.reduction === 'none' ? perToken(correct, false) :
        o.reduction === 'sum'                ? sum(correct) :
                                               div(sum(correct), maximum(sum(cast(kept, 'float32')), 1));
  }
  if (o.returnEntropy) {
    if (entropy == null || entropy.size !== n) {
      throw new Error(`${OP}: the ${SluiceLinearCrossEntropy} kernel on this backend returned no entropy output ` +
                      '(it predates the second-round contract)');
    }
    result.entropy = perToken(stopGradient(entropy), false);
  }
  return result;
}

/** x [..., T] → [..., T − 1], for values that are not differentiated. */
function dropLast(x: Tensor): Tensor {
  return slice(x, x.shape.map(() => 0), x.shape.map((s, i) => i === x.rank - 1 ? s - 1 : s));
}

/**
 * Cross-entropy of `softcap(hidden · classifierᵀ + bias)` against integer
 * `labels`, without materialising the N×V logits: kernels (and the composite
 * fallback) walk the vocabulary in blocks with an online log-sum-exp, and the
 * gradient recomputes each block. `hidden` is `[..., D]` with `labels` of its
 * leading shape; the classifier is `[V, D]`, or a dense layer's kernel
 * `[D, V]` with `classifierLayout: 'dv'`. Ignored tokens (label =
 * ignoreIndex) add 0 loss and 0 gradient; with reduction 'mean' an
 * all-ignored batch gives 0. A −Inf bias entry masks its class.
 *
 * Returns a `Scalar` for 'mean' and 'sum', a tensor of the labels' shape for
 * 'none', and `{loss, lse?, zLoss?, predictions?, accuracy?, entropy?}` when
 * any `return*` flag is set.
 *
 * ```js
 * const e = tf.randomNormal([8, 16]), c = tf.randomNormal([100, 16]);
 * const y = tf.tensor1d([1, 5, 7, 99, 0, 3, -100, 42], 'int32');
 * linearCrossEntropy(e, c, y, {labelSmoothing: 0.1}).print();
 * ```
 */
export const linearCrossEntropy = op({linearCrossEntropy_}) as {
  <R extends Rank = Rank, O extends WithReturnFlags = WithReturnFlags>(
      embeddings: Tensor|TensorLike, classifier: Tensor|TensorLike, labels: Tensor<R>|TensorLike,
      options: O): ResultOf<O, R>;
  <R extends Rank = Rank>(embeddings: Tensor|TensorLike, classifier: Tensor|TensorLike, labels: Tensor<R>|TensorLike,
                          options: PerTokenOptions): Tensor<R>;
  (embeddings: Tensor|TensorLike, classifier: Tensor|TensorLike, labels: Tensor|TensorLike,
   options?: ScalarOptions): Scalar;
  (embeddings: Tensor|TensorLike, classifier: Tensor|TensorLike, labels: Tensor|TensorLike,
   options?: LinearCrossEntropyOptions): Tensor|LinearCrossEntropyResult;
};
