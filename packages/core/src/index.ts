/**
 * `@sluice/core`: the ops, their option and result types, and the kernel
 * names backends register under. What sluice's own packages share lives in
 * `@sluice/core/internal`; references, suites and the fuzzer in
 * `@sluice/core/testing`.
 */
import './flags';
import './register_all_gradients';
import './composite/register_all_composites';

export * from './kernel_names';
export {SLUICE_FORCE_COMPOSITE, SLUICE_WARN_COMPOSITE} from './flags';
export {linearCrossEntropy} from './ops/linear_cross_entropy';
export {AUTO_GRAD_FILTER_EPS} from './ops/linear_cross_entropy_options';
export type {LinearCrossEntropyOptions, LinearCrossEntropyResult, PerTokenOptions, Reduction, ResultOf, ScalarOptions,
             WithReturnFlags} from './ops/linear_cross_entropy_options';
export {topOneSuppression} from './ops/top_one_suppression';
export {routeTopK} from './ops/route_top_k';
export type {RouteTopKOptions, RouteTopKResult, RouteTopKScoresResult} from './ops/route_top_k';
export {expertDispatch} from './ops/expert_dispatch';
export type {ExpertDispatchOptions, ExpertDispatchResult} from './ops/expert_dispatch';
export {groupedMatMul} from './ops/grouped_mat_mul';
export {expertCombine} from './ops/expert_combine';
