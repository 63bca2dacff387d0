/**
 * `@sluice/core/testing`: float64 references, the conformance suites every
 * backend runs, the fuzzer and test helpers. The suites import tfjs-core's
 * jasmine_util, which plain Node cannot load, so they are kept out of the
 * package's main entry and bundled by the test runner.
 */
export {describeLinearCrossEntropyConformance} from './linear_cross_entropy_suite';
export {describeLinearCrossEntropyContract} from './linear_cross_entropy_contract_suite';
export {describeTopOneSuppressionConformance} from './top_one_suppression_suite';
export {describeExpertDispatchConformance} from './expert_dispatch_suite';
export {describeFuzzSuite} from './fuzz_suite';
export {describeKernelAndComposite, withoutCompositeCopies} from './kernel_and_composite';
export {backendTolerance, expectClose} from './expect_close';
export {confidentTokens} from './linear_cross_entropy_cases';
export {randomLabels, seededRandom, uniformArray} from './random';
export {peakBytesDuring, texturePeakBytesDuring} from './peak_bytes';
export {withFlags} from './with_flags';
export {build, checkAgainstReference, opOptions, transposed} from './linear_cross_entropy_cases';
export type {Built, Case, RefOptions} from './linear_cross_entropy_cases';
export {checkAbsentBiasIsNotRead, checkAllMaskedVocabulary, checkEntropyUnderOffset, checkOutOfRangeLabelRows,
        lceKernelAttrs} from './linear_cross_entropy_kernel_checks';
export type {OutOfRangeProblem, OutOfRangeRun} from './linear_cross_entropy_kernel_checks';
export {lceReferenceBackward, lceReferenceForward, lceReferenceReduce} from '../reference/linear_cross_entropy_ref';
export type {LceRefForward, LceRefGradients, LceRefInput} from '../reference/linear_cross_entropy_ref';
export {topOneSuppressionReferenceBackward, topOneSuppressionReferenceForward} from '../reference/top_one_suppression_ref';
export type {TopOneRefForward} from '../reference/top_one_suppression_ref';
export {dispatchReference, expertCombineReference, groupedMatMulReference, moeFfnReference, routerScoresReference,
        staticSourceRows,
        routeTopKReference} from '../reference/expert_dispatch_ref';
export {describeBadInputs, HOST_VALUES_ONLY, Made} from './bad_inputs';
export type {BadInput} from './bad_inputs';
export {CORE_BAD_INPUTS, describeCoreBadInputs} from './bad_input_catalogue';
export {describeNumericalExtremes} from './numerical_extremes';
export {describeCompositeWarning} from './composite_warning_suite';
export {describeSelfContainedGradients} from './self_contained_gradients_suite';
