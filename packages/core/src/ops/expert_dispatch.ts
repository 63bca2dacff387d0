import {op, Scalar, Tensor1D, Tensor2D, TensorLike} from '@tensorflow/tfjs-core';

import {assertInteger, assertKnownKeys, assertOneOf, assertTensor, fail, hostValues, runKernelOrComposite,
        toTensor} from '../internal';
import {ExpertDropPolicy, SluiceExpertDispatch, SluiceExpertDispatchAttrs, SluiceExpertDispatchInputs} from '../kernel_names';

const OP = 'expertDispatch';
const DROP_POLICIES: readonly ExpertDropPolicy[] = ['position', 'slotMajor', 'score'];

export interface ExpertDispatchOptions {
  /**
   * Slots per expert: the static layout [E·capacity, D] (expert e's slots at
   * e·capacity, empty slots zero, their sourceRows -1), pairs past an
   * expert's capacity dropped. Default: dropless (ragged, M = N·k). A
   * capacity >= N·k can drop nothing and runs as dropless.
   */
  capacity?: number;
  /**
   * Which pairs an expert keeps first: 'position' (default: pair order
   * token·k + slot), 'slotMajor' (every first choice before any second
   * choice), 'score' (highest gate first; needs `gates`).
   */
  dropPolicy?: ExpertDropPolicy;
  /** [N, k] the pairs' gates, for dropPolicy 'score' only (they only rank; no gradient flows to them). */
  gates?: Tensor2D|TensorLike;
}

export interface ExpertDispatchResult {
  dispatched: Tensor2D;     // [M, D] grouped by expert (zeros in empty slots)
  expertOffsets: Tensor1D;  // int32 [E + 1]
  sourceRows: Tensor1D;     // int32 [M], index token·k + slot, -1 for an empty slot
  droppedCount: Scalar;     // int32
  expertCounts: Tensor1D;   // int32 [E] pairs routed to each expert, before drops
}

/** Checks indices ∈ [0, E) when they can be read cheaply (see host_values.ts), naming the first bad one. */
export function assertExpertIndices(op: string, expertIndices: Tensor2D, numExperts: number) {
  const values = hostValues(expertIndices);
  if (values == null) return;
  const k = expertIndices.shape[1];
  for (let p = 0; p < values.length; ++p) {
    if (!(values[p] >= 0 && values[p] < numExperts)) {
      fail(op, `expertIndices[${Math.floor(p / k)}][${p % k}]`, `in [0, ${numExperts})`, String(values[p]));
    }
  }
}

function expertDispatch_(xIn: Tensor2D|TensorLike, expertIndicesIn: Tensor2D|TensorLike, numExperts: number,
                         options: ExpertDispatchOptions = {}): ExpertDispatchResult {
  const x = toTensor(OP, 'x', xIn, 'float32', '[N, D]') as Tensor2D;
  const expertIndices = toTensor(OP, 'expertIndices', expertIndicesIn, 'int32', '[N, k]') as Tensor2D;
  assertTensor(OP, 'x', x, 2, ['float32'], '[N, D]');
  assertTensor(OP, 'expertIndices', expertIndices, 2, ['int32'], '[N, k]');
  if (expertIndices.shape[0] !== x.shape[0]) {
    fail(OP, 'expertIndices', `of shape [${x.shape[0]}, k] (N from x)`, `shape [${expertIndices.shape.join(',')}]`);
  }
  if (expertIndices.shape[1] < 1) {
    fail(OP, 'expertIndices', 'of shape [N, k] with k >= 1', `shape [${expertIndices.shape.join(',')}]`);
  }
  assertInteger(OP, 'numExperts', numExperts, 1);
  assertKnownKeys(OP, 'options', options, ['capacity', 'dropPolicy', 'gates']);
  const capacity = options.capacity === undefined ? -1 : assertInteger(OP, 'options.capacity', options.capacity, 0);
  const dropPolicy = options.dropPolicy === undefined ? 'position' :
                                                        assertOneOf(OP, 'options.dropPolicy', options.dropPolicy,
                                                                    DROP_POLICIES);
  const [n, k] = expertIndices.shape;
  let gates: Tensor2D|undefined;
  if (dropPolicy === 'score') {
    if (options.gates == null) {
      fail(OP, 'options.gates', `a tf.Tensor [${n}, ${k}] with dropPolicy 'score' (the gates rank the pairs)`,
           String(options.gates));
    }
    gates = toTensor(OP, 'options.gates', options.gates, 'float32', '[N, k]') as Tensor2D;
    assertTensor(OP, 'options.gates', gates, 2, ['float32'], '[N, k]');
    if (gates.shape[0] !== n || gates.shape[1] !== k) {
      fail(OP, 'options.gates', `of shape [${n}, ${k}] (the shape of expertIndices)`,
           `shape [${gates.shape.join(',')}]`);
    }
  } else if (options.gates !== undefined) {
    fail(OP, 'options.gates', `left out unless options.dropPolicy is 'score' (they only rank pairs)`,
         `gates with dropPolicy '${dropPolicy}'`);
  }
  assertExpertIndices(OP, expertIndices, numExperts);
  // No expert can receive more than the N·k pairs, so a capacity that large (1e9 or MAX_SAFE_INTEGER
  // for "unlimited") drops nothing: it runs as dropless, whose ragged layout is E times smaller.
  // Kernels take capacity as an int32, where 2^31 and up would wrap.
  const pairs = n * k;
  const staticCapacity = capacity >= pairs ? -1 : capacity;
  // With one slot per token, slot-major order is pair order.
  const policy: ExpertDropPolicy = dropPolicy === 'slotMajor' && k === 1 ? 'position' : dropPolicy;
  const attrs: SluiceExpertDispatchAttrs = {numExperts, capacity: staticCapacity, dropPolicy: policy};
  const inputs: SluiceExpertDispatchInputs = {x, expertIndices};
  if (staticCapacity >= 0 && policy === 'score') inputs.gates = gates;
  const [dispatched, expertOffsets, sourceRows, droppedCount, expertCounts] =
      runKernelOrComposite(SluiceExpertDispatch, inputs, attrs);
  return {
    dispatched: dispatched as Tensor2D,
    expertOffsets: expertOffsets as Tensor1D,
    sourceRows: sourceRows as Tensor1D,
    droppedCount: droppedCount as Scalar,
    expertCounts: expertCounts as Tensor1D,
  };
}

/**
 * Groups the rows of `x` [N, D] by expert for sparse MoE. Each of the N·k
 * (token, slot) pairs of `expertIndices` [N, k] goes to its expert's rows.
 *
 * Dropless (default): ragged, M = N·k rows, experts' rows contiguous in
 * expert order (`expertOffsets`), each expert's rows in pair order (a stable
 * counting sort).
 *
 * With `capacity` C: a static layout that needs no readback on any backend,
 * `dispatched` [E·C, D] with expert e's slots at rows [e·C, (e+1)·C); an
 * expert keeps its first C pairs in the `dropPolicy`'s priority order (they
 * fill its first slots, in that order), the rest are dropped
 * (`droppedCount`) and add 0 to the output; empty slots hold zeros and
 * sourceRows -1. `expertCounts` [E] counts the pairs routed to each expert
 * before drops. Differentiable w.r.t. x.
 *
 * ```js
 * const {dispatched, expertOffsets, sourceRows, droppedCount} =
 *     expertDispatch(x, expertIndices, numExperts, {capacity: 64, dropPolicy: 'slotMajor'});
 * ```
 */
export const expertDispatch = op({expertDispatch_}) as
    (x: Tensor2D|TensorLike, expertIndices: Tensor2D|TensorLike, numExperts: number,
     options?: ExpertDispatchOptions) => ExpertDispatchResult;
