import {expandDims, floorDiv, gather, GradConfig, mul, reshape, scalar, sum, Tensor, Tensor1D, Tensor2D,
        zeros} from '@tensorflow/tfjs-core';

import {segmentSum} from '../internal';

import {SluiceExpertCombine} from '../kernel_names';

/**
 * out[t] = Σ g[p]·y[r], p = sourceRows[r], t = p div k. So dy[r] = g[p]·dOut[t]
 * and dGates[p] = dOut[t] · y[r] (0 for dropped pairs). Stock ops only.
 */
export const sluiceExpertCombineGradConfig: GradConfig = {
  kernelName: SluiceExpertCombine,
  inputsToSave: ['y', 'sourceRows', 'gates'],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[]) => {
    const dOut = dy as Tensor2D;
    const [y, sourceRows, gates] = saved as [Tensor2D, Tensor1D, Tensor2D];
    const [n, k] = gates.shape;
    const empty = y.shape[0] === 0 || n === 0;  // no kernel on empty tensors (webgpu)
    const token = () => floorDiv(sourceRows, scalar(k, 'int32'));
    return {
      y: () => empty ? zeros(y.shape) :
                       mul(gather(dOut, token()), expandDims(gather(reshape(gates, [n * k]), sourceRows), 1)),
      sourceRows: () => zeros(sourceRows.shape),
      gates: () => empty ? zeros(gates.shape) :
                           reshape(segmentSum(sum(mul(gather(dOut, token()), y), 1), sourceRows, n * k),
                                   [n, k]),
    };
  },
};
