import {engine, GradConfig, zerosLike, NamedAttrMap, NamedTensorMap, Tensor} from '@tensorflow/tfjs-core';

import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyGrad,
        SluiceLinearCrossEntropyGradInputs} from '../kernel_names';

/**
 * The backward kernel recomputes logits block by block from the saved inputs
 * and the saved lse/argmax outputs; nothing N×V is kept between the passes.
 */
export const sluiceLinearCrossEntropyGradConfig: GradConfig = {
  kernelName: SluiceLinearCrossEntropy,
  inputsToSave: ['embeddings', 'classifier', 'labels', 'bias', 'classWeights'],
  // losses and entropy are not needed (entropy is not differentiable: its upstream gradient is ignored).
  outputsToSave: [false, true, true, false],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [dLosses, dLse] = dy as Tensor[];
    const [embeddings, classifier, labels, bias, classWeights, lse, argmax] = saved;
    const inputs: SluiceLinearCrossEntropyGradInputs =
        {dLosses, dLse, embeddings, classifier, labels, lse, argmax, bias, classWeights};
    // One kernel call yields all three gradients. It runs here, not lazily in
    // the first thunk: tfjs runs each thunk in its own tidy, which would
    // dispose the outputs meant for the other thunks.
    const grads = engine().runKernel(SluiceLinearCrossEntropyGrad, inputs as unknown as NamedTensorMap,
                                     attrs as unknown as NamedAttrMap & SluiceLinearCrossEntropyAttrs) as Tensor[];
    const get = (i: number) => () => grads[i];
    // Labels are integer class ids: like tfjs's gather indices, they get zeros; so do classWeights (as
    // PyTorch's weight, they are not differentiated).
    // Without a real bias (hasBias false) a kernel may return no dBias: the op's zeros bias gets zeros.
    return {embeddings: get(0), classifier: get(1), bias: grads.length > 2 ? get(2) : () => zerosLike(bias),
            labels: () => zerosLike(labels),
            classWeights: () => zerosLike(classWeights)};
  },
};
