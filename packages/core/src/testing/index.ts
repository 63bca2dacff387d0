/**
 * Test-only entry (`@sluice/core/testing` sources): the conformance suites
 * import tfjs-core's jasmine_util, which plain Node cannot load, so they are
 * kept out of the package's main entry and bundled by the test runner.
 */
export {describeLinearCrossEntropyConformance} from './linear_cross_entropy_suite';
export {backendTolerance, expectClose} from './expect_close';
export {randomLabels, seededRandom, uniformArray} from './random';
export {peakBytesDuring} from './peak_bytes';
export {describeTopOneSuppressionConformance} from './top_one_suppression_suite';
export {describeExpertDispatchConformance} from './expert_dispatch_suite';
export {describeFuzzSuite} from './fuzz_suite';
