/**
 * Router scores and the gates of the chosen experts, each one customGrad with
 * its gradient written out in forward ops, so routing needs no stock-op
 * gradient (tfjs-core alone registers none).
 */
import {add, customGrad, div, GradSaveFunc, mul, range, reshape, scalar, scatterND, sigmoid, softmax, sub, sum,
        Tensor, Tensor2D, tidy, zeros} from '@tensorflow/tfjs-core';

import {gatherPerRow} from './gather_per_row';
import {stopGradient} from './tape_util';

export type RouterScoring = 'softmax'|'sigmoid';

/** softmax (per row) or sigmoid (per entry) of router logits [N, E]. */
export function routerScores(logits: Tensor2D, scoring: RouterScoring): Tensor2D {
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const z = args[0] as Tensor2D;
    const s = (scoring === 'softmax' ? softmax(z) : sigmoid(z)) as Tensor2D;
    (args[1] as GradSaveFunc)([s]);
    return {
      value: s,
      gradFunc: (dy: Tensor, [saved]: Tensor[]) => tidy(() => scoring === 'softmax' ?
          // ds/dz of softmax: s ⊙ (dy − Σ_e dy·s).
          mul(saved, sub(dy, sum(mul(dy, saved), 1, true))) :
          mul(dy, mul(saved, sub(scalar(1), saved)))),
    };
  });
  return f(logits) as Tensor2D;
}

/**
 * gates[n, j] = scores[n, indices[n, j]], divided by their row sum when
 * `normalize`. Indices must be distinct within a row (as top-k gives).
 */
export function chosenGates(scores: Tensor2D, indices: Tensor2D, normalize: boolean): Tensor2D {
  const [n, e] = scores.shape;
  const k = indices.shape[1];
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const [s, idx] = args as [Tensor2D, Tensor2D];
    const raw = gatherPerRow(s, idx);
    const total = normalize ? sum(raw, 1, true) : null;
    const value = total == null ? raw : div(raw, total);
    // Inputs and the output only: a saved intermediate would outlive the forward pass.
    (args[2] as GradSaveFunc)([s, idx, value]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => tidy(() => {
        const [sScores, sIdx, gates] = saved as [Tensor2D, Tensor2D, Tensor2D];
        // d(raw_j / S)/d raw_i = (δ_ij − g_j) / S, so dRaw = (dy − Σ_j dy_j·g_j) / S.
        const dRaw = !normalize ? dy :
            div(sub(dy, sum(mul(dy, gates), 1, true)), sum(gatherPerRow(sScores, sIdx), 1, true));
        const rowStart = mul(reshape(range(0, n, 1, 'int32'), [n, 1]), scalar(e, 'int32'));
        const flat = reshape(add(sIdx, rowStart), [n * k, 1]);
        const dScores = reshape(scatterND(flat, reshape(dRaw, [n * k]), [n * e]), [n, e]);
        return [dScores, zeros(sIdx.shape)];
      }),
    };
  });
  return f(scores, stopGradient(indices)) as Tensor2D;
}

