/**
 * `@sluice/core/internal`: what sluice's own packages share (backend kernels,
 * regularizers, moe, demo), and what core's ops, composites and gradients
 * import. Not a user API: names here may change between minor versions.
 */
export {SLUICE_FORCE_COMPOSITE, SLUICE_WARN_COMPOSITE} from './flags';
export {resetCompositeWarnings, SLUICE_BACKEND_PACKAGES, warnIfBackendPackageMissing} from './internal/composite_warning';
export {dispatchPlan, FLOAT32_MAX, gatePriorityKey, pairPriority} from './internal/dispatch_plan';
export type {DispatchPlan} from './internal/dispatch_plan';
export {assertFiniteNumber, assertInteger, assertKnownKeys, assertOneOf, assertTensor,
        describeTensor, describeValue, fail, INT32_MAX, INT32_MIN, isTensorLike} from './internal/errors';
export {gatherPerRow} from './internal/gather_per_row';
export {resolveGroupLimit} from './internal/group_limit';
export type {GroupLimit, GroupLimitNames} from './internal/group_limit';
export {hostValues} from './internal/host_values';
export {combineRows, expertCombineBackward, keptRows, rowsToTokens, tokenRowsOfPairs} from './internal/pair_rows';
export {registerComposite, registerKernelsOnce, runKernelOrComposite, useRegisteredKernel} from './internal/kernel_dispatch';
export type {CompositeFunc} from './internal/kernel_dispatch';
export {ranges} from './internal/ranges';
export {chosenGates, routerScores} from './internal/router_math';
export type {RouterScoring} from './internal/router_math';
export {embeddingLookup, segmentSum} from './internal/segment_sum';
export {sumAll} from './internal/sum_all';
export {emptyResult, stopGradient} from './internal/tape_util';
export {toTensor} from './internal/convert';
export {dropLastPosition, reshapeDifferentiable, scaledSum, unstackDifferentiable, weightedSquare} from './internal/differentiable';
export {classInfo, maskedInBlock} from './internal/lce_classes';
export type {ClassInfo} from './internal/lce_classes';
