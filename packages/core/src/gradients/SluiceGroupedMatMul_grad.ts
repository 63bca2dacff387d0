import {engine, GradConfig, NamedAttrMap, NamedTensorMap, Tensor, Tensor1D, Tensor2D, Tensor3D,
        zeros} from '@tensorflow/tfjs-core';

import {useRegisteredKernel} from '../internal';

import {groupedWeightGradComposite} from '../composite/grouped_mat_mul_composite';
import {SluiceGroupedMatMul, SluiceGroupedMatMulAttrs, SluiceGroupedMatMulGrad,
        SluiceGroupedMatMulGradInputs} from '../kernel_names';
import {groupedMatMulImpl} from '../ops/grouped_mat_mul';

/**
 * y = x·W_e per segment: dx = dy·W_eᵀ (a grouped matmul with transposed
 * weights) and dW_e = x_segᵀ·dy_seg; for transposed weights the roles swap.
 * A backend's `SluiceGroupedMatMulGrad` kernel computes both at once.
 */
export const sluiceGroupedMatMulGradConfig: GradConfig = {
  kernelName: SluiceGroupedMatMul,
  inputsToSave: ['x', 'weights', 'expertOffsets'],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[], attrs) => {
    const [x, weights, offsets] = saved as [Tensor2D, Tensor3D, Tensor1D];
    const g = dy as Tensor2D;
    const {transposeWeights} = attrs as unknown as SluiceGroupedMatMulAttrs;
    let grads: [Tensor, Tensor];
    if (!transposeWeights && useRegisteredKernel(SluiceGroupedMatMulGrad)) {
      const inputs: SluiceGroupedMatMulGradInputs = {dy: g, x, weights, expertOffsets: offsets};
      // Run here, not in a thunk: tfjs runs each thunk in its own tidy.
      grads = engine().runKernel(SluiceGroupedMatMulGrad, inputs as unknown as NamedTensorMap,
                                 {} as NamedAttrMap) as [Tensor, Tensor];
    } else if (!transposeWeights) {
      grads = [groupedMatMulImpl(g, weights, offsets, true),
               groupedWeightGradComposite(x, g, offsets, weights.shape[0])];
    } else {
      grads = [groupedMatMulImpl(g, weights, offsets, false),
               groupedWeightGradComposite(g, x, offsets, weights.shape[0])];
    }
    return {x: () => grads[0], weights: () => grads[1], expertOffsets: () => zeros(offsets.shape)};
  },
};
