// Pure TypedArray implementations, as tfjs-backend-cpu's `shared`: other
// backends (tfjs-node for small inputs, tests) can call them directly.
export {linearCrossEntropyImpl} from './kernels/SluiceLinearCrossEntropy_impl';
export type {LceForwardResult} from './kernels/SluiceLinearCrossEntropy_impl';
export {linearCrossEntropyGradImpl} from './kernels/SluiceLinearCrossEntropyGrad_impl';
export type {LceGradResult} from './kernels/SluiceLinearCrossEntropyGrad_impl';
export {topOneSuppressionImpl} from './kernels/SluiceTopOneSuppression_impl';
export {expertDispatchImpl} from './kernels/SluiceExpertDispatch_impl';
export {groupedMatMulImpl, groupedWeightGradImpl} from './kernels/SluiceGroupedMatMul_impl';
