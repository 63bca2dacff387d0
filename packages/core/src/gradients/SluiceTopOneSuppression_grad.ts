import {GradConfig, NamedAttrMap, Tensor, Tensor2D} from '@tensorflow/tfjs-core';

import {SluiceTopOneSuppression, SluiceTopOneSuppressionAttrs} from '../kernel_names';

import {topOneSuppressionBackward} from './top_one_suppression_backward';

/**
 * Built from the saved argmax output with stock ops, so backends need no
 * gradient kernel. `logits` is saved only for V (tfjs's own Max gradient
 * saves its input too); the clone shares its data, nothing is copied.
 */
export const sluiceTopOneSuppressionGradConfig: GradConfig = {
  kernelName: SluiceTopOneSuppression,
  inputsToSave: ['logits'],
  outputsToSave: [false, true],
  gradFunc: (dy: Tensor|Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [dPenalty] = dy as Tensor[];
    const [logits, argmax] = saved;
    const {alpha} = attrs as unknown as SluiceTopOneSuppressionAttrs;
    return {logits: () => topOneSuppressionBackward(dPenalty, argmax, (logits as Tensor2D).shape[1], alpha)};
  },
};
