/**
 * @sluice/regularizers: losses for model.compile and custom loops, built on
 * @sluice/core (MaxSup, sparse cross-entropy with label smoothing and z-loss,
 * logit penalties) and coefficient schedules with a model.fit callback.
 */
export {maxSupCrossEntropy} from './max_sup_cross_entropy';
export type {MaxSupOptions} from './max_sup_cross_entropy';
export {sparseCategoricalCrossEntropy} from './sparse_categorical_cross_entropy';
export type {SparseCrossEntropyOptions} from './sparse_categorical_cross_entropy';
export {logitPenalty} from './logit_penalty';
export {zLoss} from './z_loss';
export type {FusedLoss, FusedOptions, LossFunction} from './loss_function';
export {LinearCrossEntropyHead, linearCrossEntropyHead} from './linear_cross_entropy_head';
export type {LinearCrossEntropyHeadConfig} from './linear_cross_entropy_head';
export {headLoss} from './head_loss';
export {cosineSchedule, linearSchedule} from './schedule';
export type {Coefficient, Schedule} from './schedule';
export {ScheduleCallback, scheduleCallback} from './schedule_callback';
export type {ScheduleCallbackOptions} from './schedule_callback';
