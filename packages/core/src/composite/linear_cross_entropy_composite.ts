/**
 * Composite fallback of `SluiceLinearCrossEntropy` built from stock tfjs ops,
 * for backends that have no sluice kernel (wasm, third-party, or GPU backends
 * before their kernels load). It walks the vocabulary in chunks with an
 * online log-sum-exp, and its custom gradient recomputes each chunk's logits,
 * so nothing N×V is ever alive. It does not filter gradient blocks: deciding
 * to skip a block would need a GPU→CPU read per block.
 */
import {add, cast, minimum, concat, customGrad, dispose, div, exp, gather, GradSaveFunc, log, matMul, max,
        maximum, mean, mul, notEqual, range, equal, reshape, scalar, slice, square, stack, sub, sum, Tensor,
        Tensor1D, Tensor2D, tidy, unstack, where, zeros, zerosLike, expandDims, fill, greater, greaterEqual, less, logicalAnd,
        logicalOr} from '@tensorflow/tfjs-core';

import {ranges} from '../internal';

import type {CustomGradientFunc} from '@tensorflow/tfjs-core/dist/engine';

import type {SluiceLinearCrossEntropyAttrs} from '../kernel_names';

import {applySoftcap, softcapDerivative} from './softcap';
import {firstArgMax} from './top_one_suppression_composite';
import {compositeVocabChunk} from './vocab_chunks';

interface ChunkState {
  max: Tensor1D;     // running max of z
  sumExp: Tensor1D;  // Σ exp(z − max)
  argmax: Tensor1D;  // int32, first index of the max
  sumZ: Tensor1D;    // Σ z, only needed with a softcap
}

function chunkLogits(e: Tensor2D, c: Tensor2D, b: Tensor1D, start: number, size: number,
                     softcap: number): {cChunk: Tensor2D, z: Tensor2D} {
  const d = c.shape[1];
  const cChunk = slice(c, [start, 0], [size, d]);
  const x = add(matMul(e, cChunk, false, true), slice(b, [start], [size]));
  return {cChunk, z: applySoftcap(x, softcap) as Tensor2D};
}

function forwardChunks(e: Tensor2D, c: Tensor2D, b: Tensor1D, attrs: SluiceLinearCrossEntropyAttrs): ChunkState {
  const n = e.shape[0];
  const v = c.shape[0];
  let state: ChunkState = {
    max: fill([n], -Infinity) as Tensor1D,
    sumExp: zeros([n]) as Tensor1D,
    argmax: zeros([n], 'int32') as Tensor1D,
    sumZ: zeros([n]) as Tensor1D,
  };
  for (const [start, size] of ranges(v, compositeVocabChunk(n, v, attrs.vocabChunk))) {
    const next = tidy(() => {
      const {z} = chunkLogits(e, c, b, start, size, attrs.softcap);
      const chunkMax = max(z, 1) as Tensor1D;
      const newMax = maximum(state.max, chunkMax) as Tensor1D;
      const sumExp = add(mul(state.sumExp, exp(sub(state.max, newMax))),
                         sum(exp(sub(z, expandDims(newMax, 1))), 1)) as Tensor1D;
      // Strictly greater keeps the earlier chunk on ties: first index wins.
      const argmax = where(greater(chunkMax, state.max), add(firstArgMax(z), scalar(start, 'int32')),
                           state.argmax) as Tensor1D;
      const sumZ = attrs.softcap > 0 ? add(state.sumZ, sum(z, 1)) as Tensor1D : state.sumZ;
      return {max: newMax, sumExp, argmax, sumZ};
    });
    dispose(Object.values(state).filter(t => !Object.values(next).includes(t)));
    state = next;
  }
  return state;
}

/** Labels with ignored (or unchecked out-of-range) positions replaced by 0 so gathers stay in range. */
function safeLabels(labels: Tensor1D, kept: Tensor, v: number): Tensor1D {
  const inRange = logicalAnd(kept, logicalAnd(greaterEqual(labels, scalar(0, 'int32')), less(labels, scalar(v, 'int32'))));
  return where(inRange, labels, zerosLike(labels)) as Tensor1D;
}

/** Final logit of each token's label: one [N, D] gather, not a pass over V. */
function labelLogits(e: Tensor2D, c: Tensor2D, b: Tensor1D, labels: Tensor1D, softcap: number): Tensor1D {
  const x = add(sum(mul(e, gather(c, labels)), 1), gather(b, labels));
  return applySoftcap(x, softcap) as Tensor1D;
}

function rowMeans(e: Tensor2D, c: Tensor2D, b: Tensor1D, state: ChunkState, softcap: number): Tensor1D {
  if (softcap > 0) {
    return div(state.sumZ, scalar(c.shape[0])) as Tensor1D;
  }
  // Without a cap the mean is linear: e · mean(C) + mean(b), computed once.
  return add(reshape(matMul(e, expandDims(mean(c, 0), 1)), [e.shape[0]]), mean(b)) as Tensor1D;
}

/** [N, size] float mask of `index − start`; rows whose index falls outside the chunk are 0. */
function chunkOneHot(index: Tensor1D, start: number, size: number): Tensor {
  return cast(equal(expandDims(index, 1), range(start, start + size, 1, 'int32')), 'float32');
}

function backwardChunks(e: Tensor2D, c: Tensor2D, b: Tensor1D, labels: Tensor1D, lse: Tensor1D, argmax: Tensor1D,
                        dLosses: Tensor1D, dLse: Tensor1D, attrs: SluiceLinearCrossEntropyAttrs): Tensor[] {
  const [n, d] = e.shape;
  const v = c.shape[0];
  const {softcap, labelSmoothing: ls, zLoss, maxSup} = attrs;
  const kept = notEqual(labels, scalar(attrs.ignoreIndex, 'int32'));
  const g = where(kept, dLosses, zerosLike(dLosses));
  // Coefficient of the softmax, of the uniform −(ls + α)/V term, of the label
  // one-hot and of the argmax one-hot in dL/dz, per token.
  const softmaxCoef = expandDims(add(mul(g, add(scalar(1), mul(scalar(2 * zLoss), lse))), dLse), 1);
  const uniformCoef = expandDims(mul(g, scalar(-(ls + maxSup) / v)), 1);
  const labelCoef = expandDims(mul(g, scalar(-(1 - ls))), 1);
  const argmaxCoef = expandDims(mul(g, scalar(maxSup)), 1);
  const lseCol = expandDims(lse, 1);

  let dE: Tensor = zeros([n, d]);
  const dC: Tensor[] = [];
  const dB: Tensor[] = [];
  for (const [start, size] of ranges(v, compositeVocabChunk(n, v, attrs.vocabChunk))) {
    const [dENext, dCChunk, dBChunk] = tidy(() => {
      const {cChunk, z} = chunkLogits(e, c, b, start, size, softcap);
      // z − lse <= 0 for every real entry; the clamp is for tfjs-webgl's packed
      // textures, whose padding lanes hold z = 0: with lse near −1e4 their exp
      // is Inf, and the next packed matMul multiplies it by the other operand's
      // zero padding (Inf · 0 = NaN in every output).
      let dz = add(mul(exp(minimum(sub(z, lseCol), scalar(0))), softmaxCoef), uniformCoef);
      dz = add(dz, mul(chunkOneHot(labels, start, size), labelCoef));
      if (maxSup > 0) {
        dz = add(dz, mul(chunkOneHot(argmax, start, size), argmaxCoef));
      }
      const dx = softcap > 0 ? mul(dz, softcapDerivative(z, softcap)) : dz;
      return [add(dE, matMul(dx, cChunk)), matMul(dx, e, true, false), sum(dx, 0)];
    });
    dE.dispose();
    dE = dENext;
    dC.push(dCChunk);
    dB.push(dBChunk);
  }
  const dClassifier = dC.length === 1 ? dC[0] : concat(dC, 0);
  const dBias = dB.length === 1 ? dB[0] : concat(dB, 0);
  return [dE, dClassifier, dBias];
}

/**
 * Returns [3, N]: the per-token losses (0 for ignored tokens), the per-token
 * lse, and the argmax as float32. One tensor because `customGrad` takes a
 * single output.
 */
export function linearCrossEntropyComposite(embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
                                            bias: Tensor1D, attrs: SluiceLinearCrossEntropyAttrs): Tensor2D {
  const {softcap, labelSmoothing: ls, zLoss, maxSup} = attrs;
  // customGrad's typing cannot express (inputs..., save); the cast restores it.
  const f = customGrad(((e: Tensor, c: Tensor, b: Tensor, save: GradSaveFunc) => {
    if (e.shape[0] === 0) {
      // Empty batches stay connected to the inputs so tf.grad still works. The
      // gradients are built from shapes: the op's default zero bias is
      // disposed by backward time, and tfjs-node's ZerosLike reads its input.
      return {value: zeros([3, 0]), gradFunc: () => [zeros(e.shape), zeros(c.shape), zeros(b.shape)]};
    }
    const e2 = e as Tensor2D, c2 = c as Tensor2D, b1 = b as Tensor1D;
    const state = forwardChunks(e2, c2, b1, attrs);
    const lse = add(state.max, log(state.sumExp)) as Tensor1D;
    const kept = notEqual(labels, scalar(attrs.ignoreIndex, 'int32'));
    const zy = labelLogits(e2, c2, b1, safeLabels(labels, kept, c2.shape[0]), softcap);
    const rowMean = rowMeans(e2, c2, b1, state, softcap);
    let perToken = sub(sub(lse, mul(zy, scalar(1 - ls))), mul(rowMean, scalar(ls)));
    if (zLoss > 0) {
      perToken = add(perToken, mul(square(lse), scalar(zLoss)));
    }
    if (maxSup > 0) {
      perToken = add(perToken, mul(sub(state.max, rowMean), scalar(maxSup)));
    }
    // where, not a multiply: 0 · NaN would turn an ignored token's 0 into NaN.
    // A label outside [0, V) that the op could not check (GPU-resident on
    // webgpu) gives NaN rather than the loss of a clamped label.
    const outOfRange = logicalAnd(kept, logicalOr(less(labels, scalar(0, 'int32')),
                                                  greaterEqual(labels, scalar(c2.shape[0], 'int32'))));
    const losses = where(kept, where(outOfRange, fill(perToken.shape, NaN), perToken), zerosLike(perToken));
    // lse and argmax leave as rows of the output rather than through `save`:
    // tensors made inside the forward and saved would outlive it as hidden
    // allocations. argmax rides as float32, exact for V < 2^24.
    const packed = stack([losses, lse, cast(state.argmax, 'float32')]);
    save([e, c, b, labels, packed]);
    return {
      value: packed,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [se, sc, sb, sl, sPacked] = saved;
        const [dLosses, dLse] = unpackRows(dy);
        const [, sLse, sArgmax] = unpackRows(sPacked);
        return backwardChunks(se as Tensor2D, sc as Tensor2D, sb as Tensor1D, sl as Tensor1D, sLse,
                              cast(sArgmax, 'int32') as Tensor1D, dLosses, dLse, attrs);
      },
    };
  }) as unknown as CustomGradientFunc<Tensor>);
  return f(embeddings, classifier, bias) as Tensor2D;
}

function unpackRows(t: Tensor): Tensor1D[] {
  return unstack(t) as Tensor1D[];
}
