export {describeMixtureOfExpertsConformance} from './moe_suite';
export {moeReferenceForward} from './moe_reference';
