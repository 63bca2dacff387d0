import {op, Tensor, Tensor1D, Tensor2D, TensorLike} from '@tensorflow/tfjs-core';

import {assertFiniteNumber, assertTensor, fail, runKernelOrComposite, toTensor} from '../internal';
import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs, SluiceTopOneSuppressionInputs} from '../kernel_names';

const OP = 'topOneSuppression';

function topOneSuppression_(logitsIn: Tensor|TensorLike, alpha = 1): Tensor1D {
  const logits = toTensor(OP, 'logits', logitsIn, 'float32', '[N, V]') as Tensor2D;
  assertTensor(OP, 'logits', logits, 2, ['float32'], '[N, V]');
  if (logits.shape[1] < 1) {
    fail(OP, 'logits', 'of shape [N, V] with V >= 1', `shape [${logits.shape.join(',')}]`);
  }
  const attrs: SluiceTopOneSuppressionAttrs = {alpha: assertFiniteNumber(OP, 'alpha', alpha, 0)};
  const inputs: SluiceTopOneSuppressionInputs = {logits};
  // The kernel's argmax output is left to op()'s scope; the tape keeps its own copy for the gradient.
  return runKernelOrComposite(SluiceTopOneSuppression, inputs, attrs)[0] as Tensor1D;
}

/**
 * Top-1 suppression, the penalty of MaxSup (Zhou et al., "MaxSup: Overcoming
 * Representation Collapse in Label Smoothing"): per row of `logits` [N, V],
 * `alpha · (max_j z_j − mean_j z_j)`, shape [N]. Its gradient is
 * `alpha · (onehot(argmax) − 1/V)`; when several logits share the maximum,
 * the first (lowest index) gets it. A row holding a NaN gives NaN.
 *
 * ```js
 * const z = tf.tensor2d([[2, 0, 1], [5, 5, 2]]);
 * topOneSuppression(z, 0.1).print();  // [0.1, 0.1]
 * ```
 *
 * @param logits [N, V] float32 (a tensor or a nested array), V >= 1.
 * @param alpha finite, >= 0. Default 1.
 */
export const topOneSuppression: (logits: Tensor|TensorLike, alpha?: number) => Tensor1D = op({topOneSuppression_});
