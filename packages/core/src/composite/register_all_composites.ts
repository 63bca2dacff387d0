/**
 * The composite of every sluice kernel: what `runKernelOrComposite` runs on a
 * backend without that kernel. Side-effect module, imported by index.ts, the
 * composites' counterpart of a backend's register_all_kernels.ts.
 */
import {Tensor, Tensor1D, Tensor2D, Tensor3D} from '@tensorflow/tfjs-core';

import {registerComposite} from '../internal';
import {SluiceExpertCombine, SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceGroupedMatMul,
        SluiceGroupedMatMulAttrs, SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceTopOneSuppression,
        SluiceTopOneSuppressionAttrs} from '../kernel_names';
import {expertCombineComposite} from './expert_combine_composite';
import {expertDispatchComposite} from './expert_dispatch_composite';
import {groupedMatMulComposite} from './grouped_mat_mul_composite';
import {linearCrossEntropyComposite} from './linear_cross_entropy_composite';
import {topOneSuppressionComposite} from './top_one_suppression_composite';

type Inputs = Record<string, Tensor>;
const attrsAs = <T>(attrs: unknown) => attrs as T;

registerComposite(SluiceLinearCrossEntropy, (i: Inputs, attrs) =>
                      linearCrossEntropyComposite(i.embeddings as Tensor2D, i.classifier as Tensor2D,
                                                  i.labels as Tensor1D, i.bias as Tensor1D, i.classWeights as Tensor1D,
                                                  attrsAs<SluiceLinearCrossEntropyAttrs>(attrs)));
registerComposite(SluiceTopOneSuppression, (i: Inputs, attrs) =>
                      [topOneSuppressionComposite(i.logits as Tensor2D, attrsAs<SluiceTopOneSuppressionAttrs>(attrs).alpha)]);
registerComposite(SluiceExpertDispatch, (i: Inputs, attrs) =>
                      expertDispatchComposite(i.x as Tensor2D, i.expertIndices as Tensor2D,
                                              attrsAs<SluiceExpertDispatchAttrs>(attrs), i.gates as Tensor2D));
registerComposite(SluiceGroupedMatMul, (i: Inputs, attrs) =>
                      [groupedMatMulComposite(i.x as Tensor2D, i.weights as Tensor3D, i.expertOffsets as Tensor1D,
                                              attrsAs<SluiceGroupedMatMulAttrs>(attrs).transposeWeights)]);
registerComposite(SluiceExpertCombine, (i: Inputs) =>
                      [expertCombineComposite(i.y as Tensor2D, i.sourceRows as Tensor1D, i.gates as Tensor2D)]);
