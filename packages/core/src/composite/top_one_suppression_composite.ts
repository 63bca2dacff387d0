/**
 * Composite fallback of `SluiceTopOneSuppression` from stock tfjs ops, for
 * backends without the kernel. tf.max's gradient would split a tie over every
 * maximum, so the gradient is custom and sends it to the first index, as the
 * kernels do.
 */
import {customGrad, equal, expandDims, GradSaveFunc, max, mean, min, mul, range, scalar, sub, Tensor, Tensor1D,
        Tensor2D, where, zeros} from '@tensorflow/tfjs-core';

import {topOneSuppressionBackward} from '../gradients/top_one_suppression_backward';

/**
 * First index of each row's maximum, as an exact min over the positions equal
 * to it: tf.argMax's tie-breaking differs between backends. Rows whose max is
 * NaN match nowhere and get V (outside the row).
 */
export function firstArgMax(z: Tensor2D): Tensor1D {
  const v = z.shape[1];
  const atMax = equal(z, expandDims(max(z, 1), 1));
  return min(where(atMax, range(0, v, 1, 'int32') as Tensor, scalar(v, 'int32')), 1) as Tensor1D;
}

export function topOneSuppressionComposite(logits: Tensor2D, alpha: number): Tensor1D {
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const z = args[0] as Tensor2D, save = args[1] as GradSaveFunc;
    // mean(max − z) rather than max − mean(z): every term is >= 0, so a large
    // offset shared by the row cancels before the sum instead of after it.
    const gap = mean(sub(expandDims(max(z, 1), 1), z), 1);
    save([z]);
    return {
      value: mul(gap, scalar(alpha)),
      // The argmax is found here, not in the forward: inference pays nothing for it.
      gradFunc: (dy: Tensor, [saved]: Tensor[]) => {
        const z2 = saved as Tensor2D;
        const [n, v] = z2.shape;
        // No kernel on empty tensors (webgpu drops a command batch with a zero-size binding).
        const argmax = n === 0 ? zeros([0], 'int32') : firstArgMax(z2);
        return [topOneSuppressionBackward(dy, argmax, v, alpha)];
      },
    };
  });
  return f(logits) as Tensor1D;
}
