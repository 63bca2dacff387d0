/**
 * @sluice/regularizers: losses for model.compile and custom loops, built on
 * @sluice/core (MaxSup, sparse cross-entropy with label smoothing and z-loss,
 * logit penalties) and coefficient schedules.
 */
export {logitPenalty, maxSupCrossEntropy, sparseCategoricalCrossEntropy, zLoss} from './losses';
export type {FusedLoss, LossFunction, MaxSupOptions, SparseCrossEntropyOptions} from './losses';
export {cosineSchedule, linearSchedule, scheduleCallback} from './schedule';
export type {Coefficient, Schedule} from './schedule';
