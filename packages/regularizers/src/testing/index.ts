export {describeRegularizersConformance} from './regularizers_suite';
export {describeRegularizerBadInputs, REGULARIZER_BAD_INPUTS} from './bad_inputs';
export {describeLinearCrossEntropyHead} from './head_suite';
