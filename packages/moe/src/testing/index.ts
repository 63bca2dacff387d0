export {describeMixtureOfExpertsConformance} from './moe_suite';
export {moeReferenceForward} from './moe_reference';
export {describeMoeBadInputs, MOE_BAD_INPUTS} from './bad_inputs';
export {describeLeakChecks} from './leak_suite';
export {describeRoutingConventions} from './conventions_suite';
