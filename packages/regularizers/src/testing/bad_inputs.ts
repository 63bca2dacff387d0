/**
 * @sluice/regularizers' bad-input table: wrong arguments to every loss,
 * schedule and callback, run by core's `describeBadInputs` on every env.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {BadInput, describeBadInputs, HOST_VALUES_ONLY, Made} from '@sluice/core/testing';

import {cosineSchedule, headLoss, linearCrossEntropyHead, linearSchedule, logitPenalty, maxSupCrossEntropy, scheduleCallback,
        sparseCategoricalCrossEntropy, zLoss} from '../index';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;

const ids = (m: Made, values: number[]) => m.i32(values) as T1;

export const REGULARIZER_BAD_INPUTS: BadInput[] = [
  // ---- @sluice/regularizers losses ----
  {name: 'maxSupCrossEntropy: alpha passed instead of options', call: () => maxSupCrossEntropy(0.1 as unknown as {}),
   argument: 'options', expected: 'an object', actual: 'got 0.1'},
  {name: 'maxSupCrossEntropy: alpha NaN', call: () => maxSupCrossEntropy({alpha: NaN}),
   argument: 'alpha', expected: 'a finite number >= 0', actual: 'got NaN'},
  {name: 'maxSupCrossEntropy: alpha schedule that turns negative', call: () => maxSupCrossEntropy({
     alpha: linearSchedule(0.1, -0.1, 10)}),
   argument: 'alpha', expected: 'at every step of its schedule', actual: 'a schedule from 0.1 to -0.1'},
  {name: 'maxSupCrossEntropy: labelSmoothing 1.5', call: () => maxSupCrossEntropy({labelSmoothing: 1.5}),
   argument: 'labelSmoothing', expected: 'a number in [0, 1]', actual: 'got 1.5'},
  {name: 'maxSupCrossEntropy: ignoreIndex 2^32 (wraps to class 0 as int32)',
   call: () => maxSupCrossEntropy({ignoreIndex: 2 ** 32}),
   argument: 'ignoreIndex', expected: 'an integer <= 2147483647', actual: 'got 4294967296'},
  {name: 'maxSupCrossEntropy: schedule current overridden with NaN', call: m => {
     const alpha = linearSchedule(0.1, 0.2, 10);
     const loss = maxSupCrossEntropy({alpha});
     alpha.current = NaN;
     return loss(ids(m, [0, 1]), m.f([2, 3]));
   },
   argument: 'alpha', expected: 'a finite number >= 0', actual: `its schedule's current value NaN`},
  {name: 'sparseCategoricalCrossEntropy: zLoss Infinity', call: () => sparseCategoricalCrossEntropy({zLoss: Infinity}),
   argument: 'zLoss', expected: 'a finite number >= 0', actual: 'got Infinity'},
  {name: 'sparseCategoricalCrossEntropy: ignoreIndex a string',
   call: () => sparseCategoricalCrossEntropy({ignoreIndex: '-100' as unknown as number}),
   argument: 'ignoreIndex', expected: 'an integer', actual: 'got "-100"'},
  {name: 'sparseCategoricalCrossEntropy: class id out of range, computed on the device',
   call: m => sparseCategoricalCrossEntropy()(m.onDevice([0, 5]), m.f([2, 5])),
   argument: 'yTrue[1]', expected: 'a class id in [0, 5)', actual: 'got 5', skip: HOST_VALUES_ONLY},
  {name: 'sparseCategoricalCrossEntropy: logits with no classes', call: m => sparseCategoricalCrossEntropy()(
     ids(m, [0, 0]), m.f([2, 0])),
   argument: 'yPred', expected: 'float32 logits of shape [batch, classes]',
   actual: 'got float32 tensor of shape [2,0]'},
  {name: 'sparseCategoricalCrossEntropy: bool targets', call: m => sparseCategoricalCrossEntropy()(
     m.add(tf.zeros([2, 5], 'bool')), m.f([2, 5])),
   argument: 'yTrue', expected: 'float32 or int32 targets', actual: 'got bool tensor of shape [2,5]'},
  {name: 'fused loss: hidden int32', call: m => maxSupCrossEntropy().fused(
     m.i32(new Array(12).fill(0), [4, 3]) as T2, m.f([5, 3]) as T2, ids(m, [0, 1, 2, 4])),
   argument: 'embeddings', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'fused loss: reduction unknown', call: m => sparseCategoricalCrossEntropy().fused(
     m.f([4, 3]) as T2, m.f([5, 3]) as T2, ids(m, [0, 1, 2, 4]), {reduction: 'avg' as 'sum'}),
   argument: 'options.reduction', expected: `one of 'mean', 'sum', 'none'`, actual: 'got "avg"'},
  {name: 'zLoss: weight passed instead of options', call: () => zLoss(1e-4 as unknown as {}),
   argument: 'options', expected: 'an object', actual: 'got 0.0001'},
  {name: 'logitPenalty: misspelt option', call: () => logitPenalty({wieght: 1} as unknown as {}),
   argument: 'options.wieght', expected: 'one of the known options (weight)', actual: 'an unknown option'},
  {name: 'logitPenalty: logits rank 3', call: m => logitPenalty()(ids(m, [0, 1]), m.f([2, 3, 4])),
   argument: 'yPred', expected: 'float32 logits of shape [batch, classes]',
   actual: 'got float32 tensor of shape [2,3,4]'},

  // ---- linearCrossEntropyHead and headLoss ----
  {name: 'linearCrossEntropyHead: neither units nor tiedTo', call: () => linearCrossEntropyHead({useBias: false}),
   argument: 'units', expected: 'the vocabulary size, a positive integer (or config.tiedTo, an embedding layer)',
   actual: 'got neither units nor tiedTo'},
  {name: 'linearCrossEntropyHead: tiedTo a dense layer', call: m => linearCrossEntropyHead({
     tiedTo: m.track(tfl.layers.dense({units: 4, name: 'not_an_embedding'}))}),
   argument: 'tiedTo', expected: 'a tf.layers.embedding layer (or its name)',
   actual: 'got a Dense layer ("not_an_embedding")'},
  {name: 'linearCrossEntropyHead: tiedTo an embedding of another width', call: m => {
     const embedding = m.track(tfl.layers.embedding({inputDim: 10, outputDim: 8, name: 'embed8'}));
     m.add(embedding.apply(m.i32([1, 2], [1, 2])) as tf.Tensor);  // builds it
     return m.track(linearCrossEntropyHead({tiedTo: embedding})).apply(m.f([1, 2, 16]));
   },
   argument: 'tiedTo', expected: `an embedding of width 16 (the hidden states' last dimension)`,
   actual: 'got an embedding of width 8 ("embed8")'},
  {name: 'linearCrossEntropyHead: tiedTo a number', call: () => linearCrossEntropyHead({tiedTo: 3 as unknown as string}),
   argument: 'tiedTo', expected: 'a tf.layers.embedding layer (or its name)', actual: 'got 3'},
  {name: 'linearCrossEntropyHead: both units and tiedTo', call: m => linearCrossEntropyHead({
     units: 10, tiedTo: m.track(tfl.layers.embedding({inputDim: 10, outputDim: 4, name: 'embed4'}))}),
   argument: 'tiedTo', expected: 'left out when units is given', actual: 'got an Embedding layer ("embed4")'},
  {name: 'linearCrossEntropyHead: units 0', call: () => linearCrossEntropyHead({units: 0}),
   argument: 'units', expected: 'an integer >= 1', actual: 'got 0'},
  {name: 'linearCrossEntropyHead: misspelt option', call: () => linearCrossEntropyHead(
     {units: 5, labelSmothing: 0.1} as unknown as {units: number}),
   argument: 'config.labelSmothing', expected: 'one of the known options', actual: 'an unknown option'},
  {name: 'linearCrossEntropyHead: labels not hidden\'s leading shape', call: m => m.track(linearCrossEntropyHead(
     {units: 5})).apply([m.f([2, 3, 4]), m.i32([0, 1, 2, 3, 4, 0], [3, 2])]),
   argument: 'labels', expected: `of shape [2,3] (hidden's [2,3,4] without D)`, actual: 'got shape [3,2]'},
  {name: 'linearCrossEntropyHead: float labels', call: m => m.track(linearCrossEntropyHead({units: 5})).apply(
     [m.f([2, 4]), m.f([2])]),
   argument: 'labels', expected: 'of dtype int32 (class ids)', actual: 'got float32'},
  {name: 'headLoss: yPred not from a head', call: m => headLoss(m.f([2, 3]), m.f([2, 3])),
   argument: 'yPred', expected: 'the per-token losses a linearCrossEntropyHead returned',
   actual: 'got float32 tensor of shape [2,3] that no head returned'},

  // ---- schedules and scheduleCallback ----
  {name: 'linearSchedule: to Infinity', call: () => linearSchedule(0, Infinity, 10),
   argument: 'to', expected: 'a finite number', actual: 'got Infinity'},
  {name: 'cosineSchedule: steps a string', call: () => cosineSchedule(0, 1, '10' as unknown as number),
   argument: 'steps', expected: 'an integer', actual: 'got "10"'},
  {name: 'schedule.advance(-1)', call: () => linearSchedule(0, 1, 10).advance(-1),
   argument: 'by', expected: '>= 0', actual: 'got -1'},
  {name: 'schedule.value of a string', call: () => cosineSchedule(0, 1, 10).value('3' as unknown as number),
   argument: 'step', expected: 'a finite number', actual: 'got "3"'},
  {name: 'scheduleCallback: an array holding a number', call: () => scheduleCallback(
     [linearSchedule(0, 1, 2), 3 as unknown as ReturnType<typeof linearSchedule>]),
   argument: 'schedules[1]', expected: 'a schedule', actual: 'got 3'},
  {name: 'scheduleCallback: options null', call: () => scheduleCallback(linearSchedule(0, 1, 2), null as unknown as {}),
   argument: 'options', expected: 'an object', actual: 'got null'},
  {name: 'scheduleCallback: misspelt option', call: () => scheduleCallback(linearSchedule(0, 1, 2),
                                                                            {every: 2} as unknown as {}),
   argument: 'options.every', expected: 'one of the known options (per)', actual: 'an unknown option'},
];

export function describeRegularizerBadInputs(constraints: Constraints = ALL_ENVS) {
  describeBadInputs('@sluice/regularizers', REGULARIZER_BAD_INPUTS, constraints);
}
