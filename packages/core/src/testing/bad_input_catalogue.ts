/**
 * @sluice/core's bad-input table: wrong arguments to every op, run by
 * `describeBadInputs` (bad_inputs.ts) on every env, through the kernels and
 * the composite.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {expertCombine} from '../ops/expert_combine';
import {expertDispatch} from '../ops/expert_dispatch';
import {groupedMatMul} from '../ops/grouped_mat_mul';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import {routeTopK} from '../ops/route_top_k';
import {topOneSuppression} from '../ops/top_one_suppression';
import {BadInput, describeBadInputs, HOST_VALUES_ONLY, Made} from './bad_inputs';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

/** [N=4, D=3] embeddings, [V=5, D=3] classifier, labels in range. */
const lce = (m: Made, options?: unknown, labels?: tf.Tensor) =>
    linearCrossEntropy(m.f([4, 3]) as T2, m.f([5, 3]) as T2, (labels ?? m.i32([0, 1, 2, 4])) as T1,
                       options as Parameters<typeof linearCrossEntropy>[3]);
const route = (m: Made, k: unknown, options?: unknown) =>
    routeTopK(m.f([4, 3]) as T2, k as number, options as Parameters<typeof routeTopK>[2]);
const dispatch = (m: Made, numExperts: unknown, options?: unknown, indices?: tf.Tensor) =>
    expertDispatch(m.f([4, 3]) as T2, (indices ?? m.i32([0, 1, 2, 0], [4, 1])) as T2, numExperts as number,
                   options as Parameters<typeof expertDispatch>[3]);
const ids = (m: Made, values: number[]) => m.i32(values) as T1;

export const CORE_BAD_INPUTS: BadInput[] = [
  // ---- linearCrossEntropy ----
  {name: 'linearCrossEntropy: embeddings null', call: m => linearCrossEntropy(null as unknown as T2, m.f([5, 3]) as T2,
                                                                            ids(m, [0, 1, 2, 4])),
   argument: 'embeddings', expected: 'a tf.Tensor [N, D]', actual: 'got null'},
  {name: 'linearCrossEntropy: embeddings rank 3', call: m => linearCrossEntropy(m.f([2, 2, 3]) as T2, m.f([5, 3]) as T2,
                                                                              ids(m, [0, 1])),
   argument: 'embeddings', expected: 'rank 2 [N, D]', actual: 'got rank 3 (shape [2,2,3])'},
  {name: 'linearCrossEntropy: embeddings disposed',
   call: m => linearCrossEntropy(m.disposed([4, 3]) as T2, m.f([5, 3]) as T2, ids(m, [0, 1, 2, 4])),
   argument: 'embeddings', expected: 'a live tf.Tensor', actual: 'got a disposed tensor'},
  {name: 'linearCrossEntropy: classifier int32', call: m => linearCrossEntropy(m.f([4, 3]) as T2,
                                                                             m.i32(new Array(15).fill(0), [5, 3]) as T2,
                                                                             ids(m, [0, 1, 2, 4])),
   argument: 'classifier', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'linearCrossEntropy: classifier rank 1', call: m => linearCrossEntropy(m.f([4, 3]) as T2, m.f([15]) as T2,
                                                                              ids(m, [0, 1, 2, 4])),
   argument: 'classifier', expected: 'rank 2 [V, D]', actual: 'got rank 1 (shape [15])'},
  {name: 'linearCrossEntropy: classifier of another D', call: m => linearCrossEntropy(m.f([4, 3]) as T2,
                                                                                    m.f([5, 2]) as T2,
                                                                                    ids(m, [0, 1, 2, 4])),
   argument: 'classifier', expected: 'of shape [V, 3] (D from embeddings)', actual: 'got shape [5,2]'},
  {name: 'linearCrossEntropy: classifier with V = 0', call: m => linearCrossEntropy(m.f([4, 3]) as T2,
                                                                                  m.f([0, 3]) as T2,
                                                                                  ids(m, [0, 1, 2, 4])),
   argument: 'classifier', expected: 'with V >= 1', actual: 'got shape [0,3]'},
  {name: 'linearCrossEntropy: labels [N, 1] instead of [N]', call: m => lce(m, undefined, m.i32([0, 1, 2, 4], [4, 1])),
   argument: 'labels', expected: 'rank 1 [N]', actual: 'got rank 2 (shape [4,1])'},
  {name: 'linearCrossEntropy: labels bool', call: m => lce(m, undefined, m.add(tf.tensor1d([1, 0, 1, 0], 'bool'))),
   argument: 'labels', expected: 'of dtype int32', actual: 'got bool'},
  {name: 'linearCrossEntropy: labels of another N', call: m => lce(m, undefined, m.i32([0, 1, 2, 3, 4])),
   argument: 'labels', expected: 'of shape [4] (N from embeddings)', actual: 'got shape [5]'},
  {name: 'linearCrossEntropy: label = V', call: m => lce(m, undefined, m.i32([0, 1, 2, 5])),
   argument: 'labels[3]', expected: 'in [0, 5) or equal to ignoreIndex (-100)', actual: 'got 5'},
  {name: 'linearCrossEntropy: label -100 when ignoreIndex is 0',
   call: m => lce(m, {ignoreIndex: 0}, m.i32([0, -100, 2, 4])),
   argument: 'labels[1]', expected: 'in [0, 5) or equal to ignoreIndex (0)', actual: 'got -100'},
  {name: 'linearCrossEntropy: label out of range, computed on the device',
   call: m => lce(m, undefined, m.onDevice([0, 1, 7, 4])),
   argument: 'labels[2]', expected: 'in [0, 5)', actual: 'got 7', skip: HOST_VALUES_ONLY},
  {name: 'linearCrossEntropy: options a string', call: m => lce(m, 'sum'),
   argument: 'options', expected: 'an object', actual: 'got string'},
  {name: 'linearCrossEntropy: options.bias int32', call: m => lce(m, {bias: m.i32([0, 0, 0, 0, 0])}),
   argument: 'options.bias', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'linearCrossEntropy: options.bias [1, V]', call: m => lce(m, {bias: m.f([1, 5])}),
   argument: 'options.bias', expected: 'rank 1 [V]', actual: 'got rank 2 (shape [1,5])'},
  {name: 'linearCrossEntropy: options.bias of another V', call: m => lce(m, {bias: m.f([4])}),
   argument: 'options.bias', expected: 'of shape [5] (V from classifier)', actual: 'got shape [4]'},
  {name: 'linearCrossEntropy: options.ignoreIndex 2^32 (wraps to 0 as int32)',
   call: m => lce(m, {ignoreIndex: 2 ** 32}),
   argument: 'options.ignoreIndex', expected: 'an integer <= 2147483647', actual: 'got 4294967296'},
  {name: 'linearCrossEntropy: options.ignoreIndex NaN', call: m => lce(m, {ignoreIndex: NaN}),
   argument: 'options.ignoreIndex', expected: 'an integer', actual: 'got NaN'},
  {name: 'linearCrossEntropy: options.reduction in capitals', call: m => lce(m, {reduction: 'MEAN'}),
   argument: 'options.reduction', expected: `one of 'mean', 'sum', 'none'`, actual: 'got "MEAN"'},
  {name: 'linearCrossEntropy: options.softcap Infinity', call: m => lce(m, {softcap: Infinity}),
   argument: 'options.softcap', expected: 'a finite number', actual: 'got Infinity'},
  {name: 'linearCrossEntropy: options.softcap negative', call: m => lce(m, {softcap: -0.5}),
   argument: 'options.softcap', expected: '>= 0', actual: 'got -0.5'},
  {name: 'linearCrossEntropy: options.labelSmoothing negative', call: m => lce(m, {labelSmoothing: -0.1}),
   argument: 'options.labelSmoothing', expected: 'in [0, 1]', actual: 'got -0.1'},
  {name: 'linearCrossEntropy: options.labelSmoothing a string', call: m => lce(m, {labelSmoothing: '0.1'}),
   argument: 'options.labelSmoothing', expected: 'a finite number', actual: 'got "0.1"'},
  {name: 'linearCrossEntropy: options.zLoss NaN', call: m => lce(m, {zLoss: NaN}),
   argument: 'options.zLoss', expected: 'a finite number', actual: 'got NaN'},
  {name: 'linearCrossEntropy: options.maxSup negative', call: m => lce(m, {maxSup: -1}),
   argument: 'options.maxSup', expected: '>= 0', actual: 'got -1'},
  {name: 'linearCrossEntropy: options.gradFilterEps an unknown word', call: m => lce(m, {gradFilterEps: 'always'}),
   argument: 'options.gradFilterEps', expected: `a finite number (or 'auto' or null)`, actual: 'got "always"'},
  {name: 'linearCrossEntropy: options.gradFilterEps 2', call: m => lce(m, {gradFilterEps: 2}),
   argument: 'options.gradFilterEps', expected: 'in [0, 1]', actual: 'got 2'},
  {name: 'linearCrossEntropy: options.vocabChunk fractional', call: m => lce(m, {vocabChunk: 2.5}),
   argument: 'options.vocabChunk', expected: 'an integer', actual: 'got 2.5'},
  {name: 'linearCrossEntropy: options.vocabChunk negative', call: m => lce(m, {vocabChunk: -8}),
   argument: 'options.vocabChunk', expected: 'an integer >= 1', actual: 'got -8'},
  {name: 'linearCrossEntropy: options.returnLse a string', call: m => lce(m, {returnLse: 'yes'}),
   argument: 'options.returnLse', expected: 'a boolean', actual: 'got "yes"'},
  {name: 'linearCrossEntropy: misspelt option', call: m => lce(m, {reductions: 'sum'}),
   argument: 'options.reductions', expected: 'one of the known options', actual: 'an unknown option'},

  // ---- topOneSuppression ----
  {name: 'topOneSuppression: logits rank 3', call: m => topOneSuppression(m.f([2, 3, 4]) as T2),
   argument: 'logits', expected: 'rank 2 [N, V]', actual: 'got rank 3 (shape [2,3,4])'},
  {name: 'topOneSuppression: logits int32', call: m => topOneSuppression(m.i32([1, 2, 3, 4], [2, 2]) as T2),
   argument: 'logits', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'topOneSuppression: logits with V = 0', call: m => topOneSuppression(m.f([2, 0]) as T2),
   argument: 'logits', expected: 'with V >= 1', actual: 'got shape [2,0]'},
  {name: 'topOneSuppression: logits a nested array', call: () => topOneSuppression([[1, 2]] as unknown as T2),
   argument: 'logits', expected: 'a tf.Tensor', actual: 'got object'},
  {name: 'topOneSuppression: alpha NaN', call: m => topOneSuppression(m.f([2, 3]) as T2, NaN),
   argument: 'alpha', expected: 'a finite number', actual: 'got NaN'},
  {name: 'topOneSuppression: alpha negative', call: m => topOneSuppression(m.f([2, 3]) as T2, -0.5),
   argument: 'alpha', expected: '>= 0', actual: 'got -0.5'},
  {name: 'topOneSuppression: alpha a string',
   call: m => topOneSuppression(m.f([2, 3]) as T2, '0.1' as unknown as number),
   argument: 'alpha', expected: 'a finite number', actual: 'got "0.1"'},

  // ---- routeTopK ----
  {name: 'routeTopK: routerLogits int32', call: m => routeTopK(m.i32([0, 1, 2, 3], [2, 2]) as T2, 1),
   argument: 'routerLogits', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'routeTopK: routerLogits rank 1', call: m => routeTopK(m.f([3]) as T2, 1),
   argument: 'routerLogits', expected: 'rank 2 [N, E]', actual: 'got rank 1 (shape [3])'},
  {name: 'routeTopK: k > E', call: m => route(m, 5),
   argument: 'k', expected: '<= the number of experts E = 3', actual: 'got 5'},
  {name: 'routeTopK: k = 0', call: m => route(m, 0), argument: 'k', expected: 'an integer >= 1', actual: 'got 0'},
  {name: 'routeTopK: k NaN', call: m => route(m, NaN), argument: 'k', expected: 'an integer', actual: 'got NaN'},
  {name: 'routeTopK: k a string', call: m => route(m, '2'), argument: 'k', expected: 'an integer', actual: 'got "2"'},
  {name: 'routeTopK: scoring passed instead of options', call: m => route(m, 1, 'sigmoid'),
   argument: 'options', expected: 'an object', actual: 'got "sigmoid"'},
  {name: 'routeTopK: options null', call: m => route(m, 1, null),
   argument: 'options', expected: 'an object', actual: 'got null'},
  {name: 'routeTopK: options.scoring unknown', call: m => route(m, 1, {scoring: 'softplus'}),
   argument: 'options.scoring', expected: `one of 'softmax', 'sigmoid'`, actual: 'got "softplus"'},
  {name: 'routeTopK: options.bias int32', call: m => route(m, 1, {bias: m.i32([0, 0, 0])}),
   argument: 'options.bias', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'routeTopK: options.normalize 1', call: m => route(m, 2, {normalize: 1}),
   argument: 'options.normalize', expected: 'a boolean', actual: 'got 1'},
  {name: 'routeTopK: misspelt option', call: m => route(m, 1, {topk: 2}),
   argument: 'options.topk', expected: 'one of the known options', actual: 'an unknown option'},

  // ---- expertDispatch ----
  {name: 'expertDispatch: x rank 1', call: m => expertDispatch(m.f([4]) as T2, m.i32([0, 1, 2, 0], [4, 1]) as T2, 3),
   argument: 'x', expected: 'rank 2 [N, D]', actual: 'got rank 1 (shape [4])'},
  {name: 'expertDispatch: x int32', call: m => expertDispatch(m.i32([0, 1, 2, 3], [4, 1]) as T2,
                                                              m.i32([0, 1, 2, 0], [4, 1]) as T2, 3),
   argument: 'x', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'expertDispatch: expertIndices rank 1', call: m => dispatch(m, 3, undefined, m.i32([0, 1, 2, 0])),
   argument: 'expertIndices', expected: 'rank 2 [N, k]', actual: 'got rank 1 (shape [4])'},
  {name: 'expertDispatch: expertIndices float32', call: m => dispatch(m, 3, undefined, m.f([4, 1])),
   argument: 'expertIndices', expected: 'of dtype int32', actual: 'got float32'},
  {name: 'expertDispatch: expert index = E', call: m => dispatch(m, 3, undefined, m.i32([0, 1, 2, 3], [4, 1])),
   argument: 'expertIndices[3][0]', expected: 'in [0, 3)', actual: 'got 3'},
  {name: 'expertDispatch: expert index out of range, computed on the device',
   call: m => dispatch(m, 3, undefined, m.onDevice([0, 1, 2, 0, 9, 1, 1, 1], [4, 2])),
   argument: 'expertIndices[2][0]', expected: 'in [0, 3)', actual: 'got 9', skip: HOST_VALUES_ONLY},
  {name: 'expertDispatch: numExperts fractional', call: m => dispatch(m, 2.5),
   argument: 'numExperts', expected: 'an integer', actual: 'got 2.5'},
  {name: 'expertDispatch: numExperts a string', call: m => dispatch(m, '3'),
   argument: 'numExperts', expected: 'an integer', actual: 'got "3"'},
  {name: 'expertDispatch: numExperts negative', call: m => dispatch(m, -1),
   argument: 'numExperts', expected: 'an integer >= 1', actual: 'got -1'},
  {name: 'expertDispatch: options.capacity NaN', call: m => dispatch(m, 3, {capacity: NaN}),
   argument: 'options.capacity', expected: 'an integer', actual: 'got NaN'},
  {name: 'expertDispatch: options.capacity negative', call: m => dispatch(m, 3, {capacity: -2}),
   argument: 'options.capacity', expected: 'an integer >= 0', actual: 'got -2'},
  {name: 'expertDispatch: options null', call: m => dispatch(m, 3, null),
   argument: 'options', expected: 'an object', actual: 'got null'},
  {name: 'expertDispatch: misspelt option', call: m => dispatch(m, 3, {capcity: 2}),
   argument: 'options.capcity', expected: 'one of the known options (capacity)', actual: 'an unknown option'},

  // ---- groupedMatMul ----
  {name: 'groupedMatMul: x int32',
   call: m => groupedMatMul(m.i32([0, 0, 0, 0, 0, 0], [2, 3]) as T2, m.f([1, 3, 5]) as T3, m.i32([0, 2]) as T1),
   argument: 'x', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'groupedMatMul: weights int32', call: m => groupedMatMul(m.f([2, 3]) as T2,
                                                                  m.i32(new Array(15).fill(0), [1, 3, 5]) as T3,
                                                                  m.i32([0, 2]) as T1),
   argument: 'weights', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'groupedMatMul: expertOffsets rank 2', call: m => groupedMatMul(m.f([2, 3]) as T2, m.f([1, 3, 5]) as T3,
                                                                         m.i32([0, 2], [1, 2]) as T1),
   argument: 'expertOffsets', expected: 'rank 1 [E + 1]', actual: 'got rank 2 (shape [1,2])'},
  {name: 'groupedMatMul: expertOffsets not starting at 0', call: m => groupedMatMul(m.f([4, 3]) as T2,
                                                                                    m.f([2, 3, 5]) as T3,
                                                                                    m.i32([1, 2, 4]) as T1),
   argument: 'expertOffsets[0]', expected: 'must be 0', actual: 'got 1'},
  {name: 'groupedMatMul: expertOffsets past M', call: m => groupedMatMul(m.f([4, 3]) as T2, m.f([2, 3, 5]) as T3,
                                                                         m.i32([0, 2, 5]) as T1),
   argument: 'expertOffsets[2]', expected: 'the number of rows of x (4)', actual: 'got 5'},
  {name: 'groupedMatMul: expertOffsets past M, computed on the device',
   call: m => groupedMatMul(m.f([4, 3]) as T2, m.f([2, 3, 5]) as T3, m.onDevice([0, 3, 6]) as T1),
   argument: 'expertOffsets[2]', expected: 'the number of rows of x (4)', actual: 'got 6', skip: HOST_VALUES_ONLY},

  // ---- expertCombine ----
  {name: 'expertCombine: y int32', call: m => expertCombine(m.i32([0, 0, 0, 0], [2, 2]) as T2, m.i32([0, 1]) as T1,
                                                            m.f([2, 1]) as T2),
   argument: 'y', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'expertCombine: sourceRows float32', call: m => expertCombine(m.f([2, 2]) as T2, m.f([2]) as T1,
                                                                       m.f([2, 1]) as T2),
   argument: 'sourceRows', expected: 'of dtype int32', actual: 'got float32'},
  {name: 'expertCombine: gates rank 3', call: m => expertCombine(m.f([2, 2]) as T2, m.i32([0, 1]) as T1,
                                                                 m.f([2, 1, 1]) as T2),
   argument: 'gates', expected: 'rank 2 [N, k]', actual: 'got rank 3 (shape [2,1,1])'},
  {name: 'expertCombine: gates int32', call: m => expertCombine(m.f([2, 2]) as T2, m.i32([0, 1]) as T1,
                                                                m.i32([1, 1], [2, 1]) as T2),
   argument: 'gates', expected: 'of dtype float32', actual: 'got int32'},
  {name: 'expertCombine: negative source row', call: m => expertCombine(m.f([2, 2]) as T2, m.i32([-1, 1]) as T1,
                                                                        m.f([3, 2]) as T2),
   argument: 'sourceRows[0]', expected: 'in [0, 6) (N·k from gates [3,2])', actual: 'got -1'},
];

export function describeCoreBadInputs(constraints: Constraints = ALL_ENVS) {
  describeBadInputs('@sluice/core', CORE_BAD_INPUTS, constraints);
}
