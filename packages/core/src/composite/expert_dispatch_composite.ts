/**
 * Composite of `SluiceExpertDispatch` from stock ops, with no readback: the
 * output shapes follow from the attrs alone (M = N·k dropless, E·C with a
 * capacity C).
 *
 * The stable sort by expert is one tf.topk over the negated expert ids:
 * tf.topk puts equal values in index order on every backend (documented; cpu
 * compares indices, the webgl and webgpu bitonic sorts and TF's TopKV2 break
 * ties by index), which gives the stability the contract asks for. The keys
 * stay in [-(E-1), 0], so they are exact even where int32 travels as float32
 * (webgl textures), unlike a combined key expert·P + pair, which stops being
 * exact past 2^24.
 *
 * With a capacity, the pairs are first put in priority order (pair order,
 * slot-major, or by descending gate: a topk of the gates, ties by index), then
 * sorted by expert stably, so each pair's rank among its expert's pairs is its
 * position minus the expert's start; a rank < C takes slot e·C + rank. The
 * slots are written with one scatter (each slot gets at most one pair; the
 * dropped ones go to a spare slot past the end that is cut off).
 */
import {add, cast, concat, cumsum, equal, expandDims, gather, greaterEqual, less, minimum, mul, neg, range, reshape,
        scalar, scatterND, slice, sub, sum, Tensor, Tensor1D, Tensor2D, tidy, topk, transpose, where,
        zeros} from '@tensorflow/tfjs-core';

import {emptyResult, FLOAT32_MAX, stopGradient, tokenRowsOfPairs} from '../internal';

import type {SluiceExpertDispatchAttrs} from '../kernel_names';

/** Pair ids in the order experts keep them (see `ExpertDropPolicy`). */
function priorityOrder(n: number, k: number, attrs: SluiceExpertDispatchAttrs, gates?: Tensor2D): Tensor1D {
  const pairs = n * k;
  if (attrs.dropPolicy === 'slotMajor' && k > 1) {
    return reshape(transpose(reshape(range(0, pairs, 1, 'int32'), [n, k])), [pairs]) as Tensor1D;
  }
  if (attrs.dropPolicy === 'score') {
    const g = reshape(stopGradient(gates!), [pairs]);
    // The host's gatePriorityKey: the gate clamped to finite float32, NaN (and −Inf) as the lowest finite value.
    // Not −Inf: tf.topk's comparator subtracts keys, and −Inf − −Inf is NaN, which leaves ties out of pair order
    // (tf.topk's order of NaN itself differs by backend). NaN fails the comparison, so it takes the else branch.
    const key = where(greaterEqual(g, scalar(-FLOAT32_MAX)), minimum(g, scalar(FLOAT32_MAX)), scalar(-FLOAT32_MAX));
    return topk(key, pairs).indices as Tensor1D;
  }
  return range(0, pairs, 1, 'int32') as Tensor1D;
}

export function expertDispatchComposite(x: Tensor2D, expertIndices: Tensor2D, attrs: SluiceExpertDispatchAttrs,
                                        gates?: Tensor2D): Tensor[] {
  const [n, d] = x.shape;
  const k = expertIndices.shape[1];
  const e = attrs.numExperts, c = attrs.capacity;
  const pairs = n * k;
  const m = c < 0 ? pairs : e * c;
  const {sourceRows, offsets, dropped, counts} = tidy(() => {
    const flat = reshape(stopGradient(expertIndices), [pairs]) as Tensor1D;
    // A comparison against every expert (tf.oneHot needs depth >= 2; E may be 1).
    const counts = pairs === 0 ? zeros([e], 'int32') :
                                 sum(cast(equal(expandDims(flat, 1), range(0, e, 1, 'int32')), 'int32'), 0);
    if (pairs === 0 || m === 0) {
      // No kernel on empty tensors (webgpu rejects zero-size bindings).
      return {sourceRows: zeros([0], 'int32'), offsets: zeros([e + 1], 'int32'),
              dropped: scalar(pairs, 'int32'), counts};
    }
    if (c < 0) {
      return {sourceRows: topk(neg(flat), pairs).indices, offsets: concat([zeros([1], 'int32'), cumsum(counts)]),
              dropped: scalar(0, 'int32'), counts};
    }
    const order = priorityOrder(n, k, attrs, gates);
    const orderExpert = gather(flat, order);
    const byExpert = topk(neg(orderExpert), pairs).indices;
    const sortedPairs = gather(order, byExpert), sortedExpert = gather(orderExpert, byExpert);
    const starts = sub(cumsum(counts), counts);
    const rank = sub(range(0, pairs, 1, 'int32'), gather(starts, sortedExpert));
    const slot = where(less(rank, scalar(c, 'int32')), add(mul(sortedExpert, scalar(c, 'int32')), rank),
                       scalar(m, 'int32'));
    const plusOne = scatterND(expandDims(slot, 1), add(sortedPairs, scalar(1, 'int32')), [m + 1]);
    return {
      sourceRows: sub(slice(plusOne, 0, m), scalar(1, 'int32')),
      offsets: mul(range(0, e + 1, 1, 'int32'), scalar(c, 'int32')),
      dropped: sub(scalar(pairs, 'int32'), sum(minimum(counts, scalar(c, 'int32')))),
      counts,
    };
  });
  const dispatched = m === 0 || pairs === 0 ? emptyResult([0, d], [x]) :
                                              tokenRowsOfPairs(x, sourceRows as Tensor1D, k);
  return [dispatched, offsets, sourceRows, dropped, counts];
}
