import {cast, div, maximum, notEqual, op, scalar, Tensor, Tensor1D, Tensor2D, zeros} from '@tensorflow/tfjs-core';

import {assertTensor, fail, hostValues, runKernelOrComposite, sumAll} from '../internal';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '../kernel_names';

import {LinearCrossEntropyOptions, LinearCrossEntropyResult, resolveLinearCrossEntropyOptions} from './linear_cross_entropy_options';

const OP = 'linearCrossEntropy';

/**
 * Labels are read back to check their range: a label past V would otherwise
 * read out of bounds on GPU backends and give a silently wrong loss. The read
 * is N int32s, and labels usually still live on the CPU side.
 */
function assertLabelsInRange(labels: Tensor1D, vocabSize: number, ignoreIndex: number) {
  const values = hostValues(labels);
  if (values == null) return;  // GPU-resident on webgpu: see host_values.ts
  for (let i = 0; i < values.length; ++i) {
    const y = values[i];
    if (y !== ignoreIndex && (y < 0 || y >= vocabSize)) {
      fail(OP, `labels[${i}]`, `in [0, ${vocabSize}) or equal to ignoreIndex (${ignoreIndex})`, String(y));
    }
  }
}

/** Per-token losses and lse, through the backend's kernel or the composite. */
export function linearCrossEntropyPerToken(embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
                                           bias: Tensor1D, attrs: SluiceLinearCrossEntropyAttrs):
    [Tensor1D, Tensor1D] {
  const inputs: SluiceLinearCrossEntropyInputs = {embeddings, classifier, labels, bias};
  const [losses, lse] = runKernelOrComposite(SluiceLinearCrossEntropy, inputs, attrs);
  return [losses as Tensor1D, lse as Tensor1D];
}

function linearCrossEntropy_(embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
                             options?: LinearCrossEntropyOptions): Tensor|LinearCrossEntropyResult {
  assertTensor(OP, 'embeddings', embeddings, 2, ['float32'], '[N, D]');
  assertTensor(OP, 'classifier', classifier, 2, ['float32'], '[V, D]');
  assertTensor(OP, 'labels', labels, 1, ['int32'], '[N]');
  const [n, d] = embeddings.shape;
  const [v, dc] = classifier.shape;
  if (dc !== d) {
    fail(OP, 'classifier', `of shape [V, ${d}] (D from embeddings)`, `shape [${classifier.shape.join(',')}]`);
  }
  if (v < 1) {
    fail(OP, 'classifier', 'of shape [V, D] with V >= 1', `shape [${classifier.shape.join(',')}]`);
  }
  if (labels.shape[0] !== n) {
    fail(OP, 'labels', `of shape [${n}] (N from embeddings)`, `shape [${labels.shape.join(',')}]`);
  }
  const {attrs, reduction, returnLse, bias} = resolveLinearCrossEntropyOptions(OP, options, v);
  assertLabelsInRange(labels, v, attrs.ignoreIndex);

  const [losses, lse] = linearCrossEntropyPerToken(embeddings, classifier, labels, bias ?? zeros([v]), attrs);
  let loss: Tensor;
  if (reduction === 'none') {
    loss = losses;
  } else if (reduction === 'sum') {
    loss = sumAll(losses);
  } else {
    // Mean over the tokens that count; an all-ignored batch gives 0 / 1 = 0.
    const kept = sumAll(cast(notEqual(labels, scalar(attrs.ignoreIndex, 'int32')), 'float32'));
    loss = div(sumAll(losses), maximum(kept, 1));
  }
  return returnLse ? {loss, lse} : loss;
}

/**
 * Cross-entropy of `softcap(embeddings · classifierᵀ + bias)` against integer
 * `labels`, without materialising the N×V logits: kernels (and the composite
 * fallback) walk the vocabulary in blocks with an online log-sum-exp, and the
 * gradient recomputes each block. Ignored tokens (label = ignoreIndex) add 0
 * loss and 0 gradient; with reduction 'mean' an all-ignored batch gives 0.
 *
 * ```js
 * const e = tf.randomNormal([8, 16]), c = tf.randomNormal([100, 16]);
 * const y = tf.tensor1d([1, 5, 7, 99, 0, 3, -100, 42], 'int32');
 * linearCrossEntropy(e, c, y, {labelSmoothing: 0.1}).print();
 * ```
 */
export const linearCrossEntropy = op({linearCrossEntropy_}) as {
  (embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
   options: LinearCrossEntropyOptions&{returnLse: true}): LinearCrossEntropyResult;
  (embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
   options?: LinearCrossEntropyOptions&{returnLse?: false}): Tensor;
  (embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
   options?: LinearCrossEntropyOptions): Tensor|LinearCrossEntropyResult;
};
