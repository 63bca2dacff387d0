import {add, mul, range, reshape, scalar, Tensor1D, Tensor2D, tidy} from '@tensorflow/tfjs-core';

import {embeddingLookup} from './segment_sum';

/**
 * values[n, j] = table[n, indices[n, j]] through a flat gather, whose
 * gradient (a segment sum) every backend has.
 */
export function gatherPerRow(table: Tensor2D, indices: Tensor2D): Tensor2D {
  const [n, e] = table.shape;
  const k = indices.shape[1];
  const flat = tidy(() => reshape(add(indices, reshape(mul(range(0, n, 1, 'int32'), scalar(e, 'int32')), [n, 1])),
                                  [n * k]));
  const out = reshape(embeddingLookup(reshape(table, [n * e]), flat as Tensor1D), [n, k]) as Tensor2D;
  flat.dispose();
  return out;
}
