/**
 * Composite of `SluiceExpertDispatch` from stock ops. The stable sort by
 * expert is one tf.topk over the negated expert ids: tf.topk puts equal
 * values in index order on every backend (documented; cpu compares indices,
 * the webgl and webgpu bitonic sorts and TF's TopKV2 break ties by index),
 * and equal experts in pair order is exactly the (token, slot) stability the
 * contract asks for. The keys stay in [-(E-1), 0], so they are exact even
 * where int32 travels as float32 (webgl textures), unlike a combined key
 * expert·P + pair, which stops being exact past 2^24. Dropless dispatch
 * needs no readback of ours (M = P; tfjs-webgl itself hands a topk with
 * k > 128 to the CPU); with a capacity the number of kept rows decides the
 * output's shape, so it is read back (once).
 */
import {cast, concat, cumsum, equal, expandDims, floorDiv, gather, less, logicalNot, minimum, neg, range, reshape,
        scalar, slice, sub, sum, Tensor, Tensor1D, Tensor2D, tidy, topk, zeros} from '@tensorflow/tfjs-core';

import {capacityNeedsSyncReadError, embeddingLookup, hostValues, stopGradient} from '../internal';

import {dispose as tf_dispose} from '@tensorflow/tfjs-core';

import type {SluiceExpertDispatchAttrs} from '../kernel_names';

export function expertDispatchComposite(x: Tensor2D, expertIndices: Tensor2D, attrs: SluiceExpertDispatchAttrs):
    Tensor[] {
  const [n, d] = x.shape;
  const k = expertIndices.shape[1];
  const e = attrs.numExperts;
  const pairs = n * k;
  if (pairs === 0) {
    // No kernel on empty tensors (webgpu rejects zero-size bindings); gather of nothing keeps x on the tape.
    return [reshape(x, [0, d]), zeros([e + 1], 'int32'), zeros([0], 'int32'), scalar(0, 'int32')];
  }
  const {order, offsets, kept} = tidy(() => {  // kept: the kept-row count, only with a capacity
    const flat = reshape(stopGradient(expertIndices), [pairs]) as Tensor1D;
    const sorted = topk(neg(flat), pairs).indices as Tensor1D;
    // A comparison against every expert (tf.oneHot needs depth >= 2; E may be 1).
    const counts = sum(cast(equal(expandDims(flat, 1), range(0, e, 1, 'int32')), 'int32'), 0) as Tensor1D;
    if (attrs.capacity < 0) {
      return {order: sorted, offsets: concat([zeros([1], 'int32'), cumsum(counts)]) as Tensor1D, kept: scalar(-1, 'int32')};
    }
    const keptCounts = minimum(counts, scalar(attrs.capacity, 'int32'));
    // Rank of each sorted pair within its expert: position − the expert's first position.
    const allStarts = sub(cumsum(counts), counts);
    const sortedExpert = gather(flat, sorted);
    const rank = sub(range(0, pairs, 1, 'int32'), gather(allStarts, sortedExpert));
    const keep = less(rank, gather(keptCounts, sortedExpert));
    // Kept pairs first, in sorted order: a second stable sort, on "dropped" alone.
    const keptOrder = gather(sorted, topk(neg(cast(logicalNot(keep), 'int32')), pairs).indices) as Tensor1D;
    return {order: keptOrder, offsets: concat([zeros([1], 'int32'), cumsum(keptCounts)]) as Tensor1D,
            kept: sum(keptCounts) as Tensor};
  });
  let sourceRows = order;
  let dropped: Tensor;
  if (attrs.capacity < 0) {
    kept.dispose();
    dropped = scalar(0, 'int32');
  } else {
    const host = hostValues(kept);
    if (host == null) {
      tf_dispose([kept, order, offsets]);
      throw capacityNeedsSyncReadError(attrs.capacity);
    }
    const m = host[0];
    kept.dispose();
    dropped = scalar(pairs - m, 'int32');
    if (m === 0) {
      order.dispose();
      return [reshape(slice(x, [0, 0], [0, d]), [0, d]), offsets, zeros([0], 'int32'), dropped];
    }
    sourceRows = slice(order, 0, m);
    order.dispose();
  }
  const dispatched = tidy(() => embeddingLookup(x, floorDiv(stopGradient(sourceRows), scalar(k, 'int32')) as Tensor1D)) as
      Tensor2D;
  return [dispatched, offsets, sourceRows, dropped];
}
