export {exportTransformersWeights, importTransformersWeights} from './weight_mapping';
export type {TransformersWeightOptions, WeightValue} from './weight_mapping';
export {moeConfigFromTransformers, TRANSFORMERS_FLOAT_FIELDS, transformersConfigJson, transformersMoeConfig} from './config_mapping';
export {TRANSFORMERS_TARGETS} from './targets';
export type {ExpertLayout, TransformersTarget} from './targets';
export {weightKeys} from './weight_keys';
export type {KeySource, KeySpec} from './weight_keys';
