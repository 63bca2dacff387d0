import './flags';
import './register_all_gradients';

export * from './kernel_names';
export {SLUICE_FORCE_COMPOSITE} from './flags';
export {linearCrossEntropy, linearCrossEntropyPerToken} from './ops/linear_cross_entropy';
export {AUTO_GRAD_FILTER_EPS} from './ops/linear_cross_entropy_options';
export type {LinearCrossEntropyOptions, LinearCrossEntropyResult, Reduction} from './ops/linear_cross_entropy_options';
export {linearCrossEntropyComposite} from './composite/linear_cross_entropy_composite';
export {lceReferenceBackward, lceReferenceForward, lceReferenceReduce} from './reference/linear_cross_entropy_ref';
export type {LceRefForward, LceRefGradients, LceRefInput} from './reference/linear_cross_entropy_ref';
export {useRegisteredKernel} from './kernel_dispatch';
export {sumAll} from './ops/sum_all';
export {assertFiniteNumber, assertInteger, assertOneOf, assertTensor, fail} from './errors';
export {topOneSuppression} from './ops/top_one_suppression';
export {topOneSuppressionComposite} from './composite/top_one_suppression_composite';
export {topOneSuppressionReferenceBackward, topOneSuppressionReferenceForward} from './reference/top_one_suppression_ref';
export type {TopOneRefForward} from './reference/top_one_suppression_ref';
