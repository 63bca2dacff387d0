/**
 * The bad-input catalogue (issue 9, part 1): one counted table of wrong
 * arguments to every public function and layer config of @sluice/core,
 * @sluice/regularizers and @sluice/moe. Each entry must throw an Error whose
 * message holds the argument's name, what was expected and what was given,
 * and must leave `tf.memory().numTensors` where it was once the tensors the
 * entry made itself are disposed (so an op that leaks on its error path
 * fails here, even though op()'s scope would hide it inside a tidy).
 *
 * The op suites in packages/<package>/src/testing hold more cases per op; this list
 * overlaps them on purpose and adds what they lacked (options that are not
 * objects, values out of int32 range, quoted strings for numbers, device-side
 * values, the balancing losses, moeCallback, the layer's input checks).
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, ALL_ENVS} from '@tensorflow/tfjs-core/dist/jasmine_util';
import type {LayersModel} from '@tensorflow/tfjs-layers';
import {expertCombine, expertDispatch, groupedMatMul, linearCrossEntropy, routeTopK, SluiceExpertCombine,
        SluiceExpertDispatch, SluiceGroupedMatMul, SluiceLinearCrossEntropy, SluiceTopOneSuppression,
        topOneSuppression} from '@sluice/core';
import {describeKernelAndComposite} from '@sluice/core/testing/kernel_and_composite';
import {loadBalancingLoss, mixtureOfExperts, MixtureOfExperts, MixtureOfExpertsConfig, moeCallback, moeLayers,
        orthogonalityLoss, routerZLoss, routingVarianceLoss} from '@sluice/moe';
import {cosineSchedule, linearSchedule, logitPenalty, maxSupCrossEntropy, scheduleCallback,
        sparseCategoricalCrossEntropy, zLoss} from '@sluice/regularizers';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

/** What an entry makes: every tensor and layer goes through here, and is disposed after the call. */
class Made {
  private readonly tensors: tf.Tensor[] = [];
  private readonly layers: MixtureOfExperts[] = [];

  add<T extends tf.Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }
  f(shape: number[]): tf.Tensor {
    return this.add(tf.zeros(shape));
  }
  i32(values: number[], shape?: number[]): tf.Tensor {
    return this.add(tf.tensor(values, shape ?? [values.length], 'int32'));
  }
  /** Computed on the backend (a GPU buffer on webgl/webgpu), not uploaded from a JS array. */
  onDevice(values: number[], shape?: number[]): tf.Tensor {
    return this.add(tf.tidy(() => tf.add(tf.tensor(values, shape ?? [values.length], 'int32'), tf.scalar(0, 'int32'))));
  }
  disposed(shape: number[]): tf.Tensor {
    const t = tf.zeros(shape);
    t.dispose();
    return t;
  }
  layer(config: MixtureOfExpertsConfig): MixtureOfExperts {
    const l = mixtureOfExperts(config);
    this.layers.push(l);
    return l;
  }
  dispose() {
    tf.dispose(this.tensors);
    for (const l of this.layers) {
      if (l.built) l.dispose();
    }
  }
}

export interface BadInput {
  name: string;
  call: (m: Made) => unknown;
  /** Fragments the message must contain: the argument, the expectation, the actual value. */
  argument: string;
  expected: string;
  actual: string;
  /** Why the entry does not apply on this backend, or null when it does. */
  skip?: (backendName: string) => string|null;
}

const HOST_VALUES_ONLY = (backend: string) => backend === 'webgpu' ?
    'webgpu: values already on the GPU are not read back for validation (a synchronous read stalls the ' +
        'device; documented in packages/core/src/ops/host_values.ts), so this device-side value is not range-checked' :
    null;

/** [N=4, D=3] embeddings, [V=5, D=3] classifier, labels in range. */
const lce = (m: Made, options?: unknown, labels?: tf.Tensor) =>
    linearCrossEntropy(m.f([4, 3]) as T2, m.f([5, 3]) as T2, (labels ?? m.i32([0, 1, 2, 4])) as T1,
                       options as Parameters<typeof linearCrossEntropy>[3]);
const route = (m: Made, k: unknown, options?: unknown) =>
    routeTopK(m.f([4, 3]) as T2, k as number, options as Parameters<typeof routeTopK>[2]);
const dispatch = (m: Made, numExperts: unknown, options?: unknown, indices?: tf.Tensor) =>
    expertDispatch(m.f([4, 3]) as T2, (indices ?? m.i32([0, 1, 2, 0], [4, 1])) as T2, numExperts as number,
                   options as Parameters<typeof expertDispatch>[3]);
const MOE = {numExperts: 2, units: 2, hiddenUnits: 2};
const moeConfig = (extra: Record<string, unknown>) => ({...MOE, ...extra}) as unknown as MixtureOfExpertsConfig;
const fakeModel = {layers: []} as unknown as LayersModel;
const ids = (m: Made, values: number[]) => m.i32(values) as T1;

export const BAD_INPUTS: BadInput[] = [
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

  // ---- @sluice/regularizers losses ----
  {name: 'maxSupCrossEntropy: alpha passed instead of options', call: () => maxSupCrossEntropy(0.1 as unknown as {}),
   argument: 'options', expected: 'an object', actual: 'got number'},
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
   argument: 'options', expected: 'an object', actual: 'got number'},
  {name: 'logitPenalty: misspelt option', call: () => logitPenalty({wieght: 1} as unknown as {}),
   argument: 'options.wieght', expected: 'one of the known options (weight)', actual: 'an unknown option'},
  {name: 'logitPenalty: logits rank 3', call: m => logitPenalty()(ids(m, [0, 1]), m.f([2, 3, 4])),
   argument: 'yPred', expected: 'float32 logits of shape [batch, classes]',
   actual: 'got float32 tensor of shape [2,3,4]'},

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

  // ---- mixtureOfExperts config ----
  {name: 'mixtureOfExperts: config null', call: () => mixtureOfExperts(null as unknown as MixtureOfExpertsConfig),
   argument: 'config', expected: 'an object', actual: 'got null'},
  {name: 'mixtureOfExperts: numExperts a string', call: () => mixtureOfExperts(moeConfig({numExperts: '4'})),
   argument: 'numExperts', expected: 'a positive integer', actual: `got '4'`},
  {name: 'mixtureOfExperts: units missing', call: () => mixtureOfExperts(moeConfig({units: undefined})),
   argument: 'units', expected: 'a positive integer', actual: 'got undefined'},
  {name: 'mixtureOfExperts: topK 0', call: () => mixtureOfExperts(moeConfig({topK: 0})),
   argument: 'topK', expected: 'a positive integer', actual: 'got 0'},
  {name: 'mixtureOfExperts: topK fractional', call: () => mixtureOfExperts(moeConfig({topK: 1.5})),
   argument: 'topK', expected: 'a positive integer', actual: 'got 1.5'},
  {name: 'mixtureOfExperts: topK > numExperts', call: () => mixtureOfExperts(moeConfig({topK: 3})),
   argument: 'topK', expected: '<= numExperts (2)', actual: 'got 3'},
  {name: 'mixtureOfExperts: capacityFactor NaN', call: () => mixtureOfExperts(moeConfig({capacityFactor: NaN})),
   argument: 'capacityFactor', expected: 'a finite number >= 0', actual: 'got NaN'},
  {name: 'mixtureOfExperts: capacityFactor Infinity',
   call: () => mixtureOfExperts(moeConfig({capacityFactor: Infinity})),
   argument: 'capacityFactor', expected: 'a finite number >= 0', actual: 'got Infinity'},
  {name: 'mixtureOfExperts: sharedExperts negative', call: () => mixtureOfExperts(moeConfig({sharedExperts: -1})),
   argument: 'sharedExperts', expected: 'a positive integer', actual: 'got -1'},
  {name: 'mixtureOfExperts: sinkhornIterations 0', call: () => mixtureOfExperts(moeConfig({router: 'sinkhorn',
                                                                                            sinkhornIterations: 0})),
   argument: 'sinkhornIterations', expected: 'a positive integer', actual: 'got 0'},
  {name: 'mixtureOfExperts: seed NaN', call: () => mixtureOfExperts(moeConfig({seed: NaN})),
   argument: 'seed', expected: 'a finite number', actual: 'got NaN'},
  {name: 'mixtureOfExperts: unknown router', call: () => mixtureOfExperts(moeConfig({router: 'switch'})),
   argument: 'router', expected: `one of 'topk', 'expertChoice', 'sinkhorn', 'stochastic'`, actual: `got 'switch'`},
  {name: 'mixtureOfExperts: unknown scoring', call: () => mixtureOfExperts(moeConfig({scoring: 'softplus'})),
   argument: 'scoring', expected: `one of 'softmax', 'sigmoid'`, actual: `got 'softplus'`},
  {name: 'mixtureOfExperts: unknown activation', call: () => mixtureOfExperts(moeConfig({activation: 'silu'})),
   argument: 'activation', expected: `one of 'gelu', 'relu', 'swiglu'`, actual: `got 'silu'`},
  {name: 'mixtureOfExperts: balance a string', call: () => mixtureOfExperts(moeConfig({balance: 'heavy'})),
   argument: 'balance', expected: 'an object', actual: `got 'heavy'`},
  {name: 'mixtureOfExperts: balance.auxLossScope unknown', call: () => mixtureOfExperts(moeConfig({
     balance: {auxLoss: 0.01, auxLossScope: 'local'}})),
   argument: 'balance.auxLossScope', expected: `one of 'micro', 'global'`, actual: `got 'local'`},
  {name: 'mixtureOfExperts: balance.routerZLoss NaN', call: () => mixtureOfExperts(moeConfig({
     balance: {routerZLoss: NaN}})),
   argument: 'balance.routerZLoss', expected: 'a finite number >= 0', actual: 'got NaN'},
  {name: 'mixtureOfExperts: balance.variance negative', call: () => mixtureOfExperts(moeConfig({
     balance: {variance: -1}})),
   argument: 'balance.variance', expected: 'a finite number >= 0', actual: 'got -1'},
  {name: 'mixtureOfExperts: balance.orthogonality Infinity', call: () => mixtureOfExperts(moeConfig({
     balance: {orthogonality: Infinity}})),
   argument: 'balance.orthogonality', expected: 'a finite number >= 0', actual: 'got Infinity'},
  {name: 'mixtureOfExperts: balance.biasUpdateRate negative', call: () => mixtureOfExperts(moeConfig({
     balance: {biasUpdateRate: -0.01}})),
   argument: 'balance.biasUpdateRate', expected: 'a finite number >= 0', actual: 'got -0.01'},
  {name: 'mixtureOfExperts: biasUpdateRate with expert choice', call: () => mixtureOfExperts(moeConfig({
     router: 'expertChoice', balance: {biasUpdateRate: 0.01}})),
   argument: 'balance.biasUpdateRate', expected: `must be 0 unless router is 'topk'`,
   actual: `got 0.01 with router 'expertChoice'`},
  {name: 'mixtureOfExperts: unknown field', call: () => mixtureOfExperts(moeConfig({expertCount: 4})),
   argument: 'config.expertCount', expected: 'one of the known fields', actual: `got 'expertCount'`},
  {name: 'mixtureOfExperts: unknown balance field', call: () => mixtureOfExperts(moeConfig({balance: {zLoss: 0.1}})),
   argument: 'balance.zLoss', expected: 'one of auxLoss', actual: `got 'zLoss'`},

  // ---- the layer at call time ----
  {name: 'MixtureOfExperts layer: int32 input', call: m => m.layer(MOE).apply(m.i32([0, 1, 2, 3, 4, 5, 6, 7], [2, 4])),
   argument: 'Input 0', expected: 'expected dtype=float32', actual: 'found dtype=int32'},
  {name: 'MixtureOfExperts layer: rank-4 input', call: m => m.layer(MOE).apply(m.f([1, 2, 3, 4])),
   argument: 'input', expected: 'rank 2 [batch, features] or rank 3 [batch, time, features]',
   actual: 'got shape [1,2,3,4]'},
  {name: 'MixtureOfExperts layer: another feature size after build', call: m => {
     const layer = m.layer(MOE);
     m.add(layer.apply(m.f([2, 4])) as tf.Tensor);
     return layer.apply(m.f([2, 5]));
   },
   argument: 'Input 0', expected: 'expected axis -1 of input shape to have value 4', actual: 'got shape 2,5'},

  // ---- moeCallback, moeLayers and the balancing losses ----
  {name: 'moeCallback: model null', call: () => moeCallback(null as unknown as LayersModel),
   argument: 'model', expected: 'a tf.LayersModel', actual: 'got null'},
  {name: 'moeCallback: onMetrics not a function',
   call: () => moeCallback(fakeModel, {onMetrics: 5 as unknown as () => void}),
   argument: 'options.onMetrics', expected: 'a function', actual: 'got 5'},
  {name: 'moeCallback: misspelt option', call: () => moeCallback(fakeModel, {onMetric: () => {}} as unknown as {}),
   argument: 'options.onMetric', expected: 'one of the known options (onMetrics)', actual: 'an unknown option'},
  {name: 'moeLayers: a layer instead of a model', call: m => moeLayers(m.layer(MOE) as unknown as LayersModel),
   argument: 'model', expected: 'a tf.LayersModel', actual: 'got an object without a layers array'},
  {name: 'loadBalancingLoss: counts [1] (would broadcast)', call: m => loadBalancingLoss(m.f([4, 3]) as T2,
                                                                                         m.f([1]) as T1),
   argument: 'counts', expected: 'of shape [3] (E from scores)', actual: 'got shape [1]'},
  {name: 'loadBalancingLoss: scores rank 1', call: m => loadBalancingLoss(m.f([3]) as T2, m.f([3]) as T1),
   argument: 'scores', expected: 'rank 2 [N, E]', actual: 'got rank 1 (shape [3])'},
  {name: 'routerZLoss: logits rank 1', call: m => routerZLoss(m.f([3]) as T2),
   argument: 'logits', expected: 'rank 2 [N, E]', actual: 'got rank 1 (shape [3])'},
  {name: 'orthogonalityLoss: slotOutputs rank 2', call: m => orthogonalityLoss(m.f([4, 2]) as T3),
   argument: 'slotOutputs', expected: 'rank 3 [N, k, H]', actual: 'got rank 2 (shape [4,2])'},
  {name: 'routingVarianceLoss: scores int32', call: m => routingVarianceLoss(m.i32([0, 1, 2, 3], [2, 2]) as T2),
   argument: 'scores', expected: 'of dtype float32', actual: 'got int32'},
];

const KERNELS = [SluiceLinearCrossEntropy, SluiceTopOneSuppression, SluiceExpertDispatch, SluiceGroupedMatMul,
                 SluiceExpertCombine];

/** Every entry, once through the registered kernels and once with the composite forced, on every env. */
export function describeBadInputCatalogue(constraints: Constraints = ALL_ENVS) {
  const names = new Set(BAD_INPUTS.map(c => c.name));
  describeKernelAndComposite(`Bad-input catalogue (${BAD_INPUTS.length} entries)`, KERNELS, constraints, env => {
    it('has distinct entry names', () => expect(names.size).toBe(BAD_INPUTS.length));

    for (const c of BAD_INPUTS) {
      it(c.name, () => {
        const reason = c.skip?.(env.backendName);
        if (reason != null) {
          pending(reason);
          return;
        }
        const made = new Made();
        const before = tf.memory().numTensors;
        let error: unknown = null, result: unknown;
        try {
          result = c.call(made);
        } catch (e) {
          error = e;
        }
        if (error == null) {
          try {
            tf.dispose(result as tf.TensorContainer);
          } catch {
            // not a tensor container: nothing to free
          }
        }
        made.dispose();
        expect(error instanceof Error).withContext(`${c.name}: expected an Error, got ${
            error == null ? `a result (${String(result)})` : String(error)}`).toBe(true);
        const message = error instanceof Error ? error.message : '';
        for (const [what, fragment] of [['argument', c.argument], ['expected value', c.expected],
                                        ['actual value', c.actual]]) {
          expect(message).withContext(`the message should name the ${what}`).toContain(fragment);
        }
        expect(tf.memory().numTensors).withContext('tensors left behind by the failed call').toBe(before);
      });
    }
  });
}
