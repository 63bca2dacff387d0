import {GradConfig, Tensor, Tensor1D, Tensor2D, zeros} from '@tensorflow/tfjs-core';

import {expertCombineBackward} from '../internal';

import {SluiceExpertCombine} from '../kernel_names';

/**
 * out[t] = Σ g[p]·y[r], p = sourceRows[r], t = p div k. So dy[r] = g[p]·dOut[t]
 * and dGates[p] = dOut[t] · y[r] (0 for dropped pairs and empty slots). Forward ops only.
 */
export const sluiceExpertCombineGradConfig: GradConfig = {
  kernelName: SluiceExpertCombine,
  inputsToSave: ['y', 'sourceRows', 'gates'],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[]) => {
    const [y, sourceRows, gates] = saved as [Tensor2D, Tensor1D, Tensor2D];
    // Computed here, not in a thunk: tfjs runs each thunk in its own tidy.
    const [dY, dGates] = expertCombineBackward(dy as Tensor2D, y, sourceRows, gates);
    return {y: () => dY, sourceRows: () => zeros(sourceRows.shape), gates: () => dGates};
  },
};
