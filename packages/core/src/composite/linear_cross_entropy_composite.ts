/**
 * Composite fallback of `SluiceLinearCrossEntropy` built from stock tfjs ops,
 * for backends that have no sluice kernel (wasm, third-party, or GPU backends
 * before their kernels load). It implements the whole kernel contract
 * (kernel_names.ts): masked classes, classWeights, both classifier layouts
 * (a 'dv' classifier is sliced by columns and multiplied through matMul's
 * transpose flags, never transposed whole), entropy. It walks the vocabulary
 * in chunks with an online log-sum-exp, and its custom gradient recomputes
 * each chunk's logits, so nothing N×V is ever alive. It does not filter
 * gradient blocks: deciding to skip a block would need a GPU→CPU read per block.
 *
 * Accumulation (issue 18.6), all float32 in the backend's own kernels:
 * - lse: online max / Σexp over vocabulary chunks in column order (chunk
 *   size from vocab_chunks.ts, or vocabChunk): each chunk's Σexp(z − m) is one
 *   tf.sum over the chunk's columns, and the running sum is rescaled by
 *   exp(m_old − m_new) when the max moves. The same order carries Σ exp·z for
 *   the entropy and, with a softcap, Σ_U z and Σ_U w·z (only when label
 *   smoothing or maxSup reads them).
 * - without a softcap, Σ_U z and Σ_U w·z are linear: e·(Cᵀu) + u·b, one matMul
 *   over V (the backend's matMul order) then one over D (again only when
 *   smoothing or maxSup needs them).
 * - gradients: dE accumulates chunk by chunk in column order (one matMul per
 *   chunk over its columns); dClassifier and dBias rows are each one chunk's
 *   matMul / sum over the N tokens.
 * Without a real bias (attrs.hasBias false) the op's zeros bias is not read
 * and dBias is zeros. V is limited to 2^24: argmax leaves customGrad as a
 * float32 row.
 */
import {add, cast, concat, customGrad, dispose, div, equal, exp, expandDims, fill, gather, getBackend, GradSaveFunc,
        greater, greaterEqual, less, log, logicalAnd, logicalNot, logicalOr, matMul, max, maximum, minimum, mul,
        notEqual, range, reshape, scalar, slice, square, stack, sub, sum, Tensor, Tensor1D, Tensor2D, tidy, transpose,
        where, zeros, zerosLike} from '@tensorflow/tfjs-core';

import {fail, ranges, unstackDifferentiable} from '../internal';

import type {CustomGradientFunc} from '@tensorflow/tfjs-core/dist/engine';

import {SluiceLinearCrossEntropy} from '../kernel_names';
import type {SluiceLinearCrossEntropyAttrs} from '../kernel_names';

import {applySoftcap, softcapDerivative} from './softcap';
import {firstArgMax} from './top_one_suppression_composite';
import {compositeVocabChunk} from './vocab_chunks';

/** The largest V whose argmax indices (< V) are all exact in float32. */
export const MAX_COMPOSITE_VOCAB = 1 << 24;

/** Per-class vectors derived once from the bias and the weights. */
interface ClassVectors {
  unmasked: Tensor1D;       // u: 1 for b > −Inf, 0 for masked classes
  maskAdd: Tensor1D|null;   // 0, or −Inf for masked classes: added to capped logits; null without a bias
  weightedUnmasked: Tensor1D;  // w·u
  unmaskedCount: Tensor;    // V_u (scalar)
  weightSum: Tensor;        // S = Σ_U w (scalar)
}

/** `b` null: no bias (attrs.hasBias false), so no class is masked. */
function classVectors(b: Tensor1D|null, w: Tensor1D, v: number): ClassVectors {
  if (b == null) {
    return {unmasked: fill([v], 1) as Tensor1D, weightedUnmasked: w, maskAdd: null, unmaskedCount: scalar(v),
            weightSum: sum(w)};
  }
  const masked = equal(b, scalar(-Infinity));
  const unmasked = cast(logicalNot(masked), 'float32') as Tensor1D;
  const weightedUnmasked = mul(w, unmasked) as Tensor1D;
  return {
    unmasked, weightedUnmasked,
    maskAdd: where(masked, fill(b.shape, -Infinity), zerosLike(b)) as Tensor1D,
    unmaskedCount: sum(unmasked),
    weightSum: sum(weightedUnmasked),
  };
}

interface ChunkLogits {
  cChunk: Tensor2D;  // the classifier chunk, in its layout
  capped: Tensor2D;  // softcap(x): finite for masked classes too (−softcap there)
  z: Tensor2D;       // final logits: −Inf for masked classes
}

/** [start, size) of the classifier: rows for 'vd', columns for 'dv' (a slice, not a transposed copy). */
function classifierChunk(c: Tensor2D, dv: boolean, start: number, size: number): Tensor2D {
  return dv ? slice(c, [0, start], [c.shape[0], size]) : slice(c, [start, 0], [size, c.shape[1]]);
}

function chunkLogits(e: Tensor2D, c: Tensor2D, b: Tensor1D|null, vectors: ClassVectors, start: number, size: number,
                     attrs: SluiceLinearCrossEntropyAttrs): ChunkLogits {
  const dv = attrs.classifierLayout === 'dv';
  const cChunk = classifierChunk(c, dv, start, size);
  const product = matMul(e, cChunk, false, !dv);
  const x = b == null ? product : add(product, slice(b, [start], [size]));
  if (attrs.softcap === 0) {
    // A −Inf bias already makes x −Inf.
    return {cChunk, capped: x as Tensor2D, z: x as Tensor2D};
  }
  // softcap(−Inf) = −softcap: masked classes are set back to −Inf.
  const capped = applySoftcap(x, attrs.softcap) as Tensor2D;
  const z = vectors.maskAdd == null ? capped : add(capped, slice(vectors.maskAdd, [start], [size])) as Tensor2D;
  return {cChunk, capped, z};
}

// A type, not an interface: tidy() takes it as a TensorContainer.
type ChunkState = {
  max: Tensor1D;      // running max of z
  sumExp: Tensor1D;   // Σ exp(z − max)
  argmax: Tensor1D;   // int32, first index of the max
  sumExpZ?: Tensor1D; // Σ exp(z − max)·z over U, for the entropy
  sumZ?: Tensor1D;    // Σ_U z, with a softcap
  sumWZ?: Tensor1D;   // Σ_U w·z, with a softcap and classWeights
};

/** The shift of the exponentials: the running max, or 0 while every class seen so far is masked (−Inf − −Inf = NaN). */
function safeShift(m: Tensor1D): Tensor1D {
  return where(equal(m, scalar(-Infinity)), zerosLike(m), m) as Tensor1D;
}

/** Whether the loss needs Σ_U z (label smoothing's and maxSup's means). */
function needsUnmaskedSums(attrs: SluiceLinearCrossEntropyAttrs): boolean {
  return attrs.labelSmoothing > 0 || attrs.maxSup > 0;
}

function forwardChunks(e: Tensor2D, c: Tensor2D, b: Tensor1D|null, vectors: ClassVectors,
                       attrs: SluiceLinearCrossEntropyAttrs, v: number): ChunkState {
  const n = e.shape[0];
  // With a softcap Σ_U z is accumulated here, and only when a term reads it; Σ_U w·z only for weighted smoothing.
  const sums = attrs.softcap > 0 && needsUnmaskedSums(attrs);
  let state: ChunkState = {
    max: fill([n], -Infinity) as Tensor1D,
    sumExp: zeros([n]) as Tensor1D,
    argmax: zeros([n], 'int32') as Tensor1D,
    sumExpZ: attrs.computeEntropy ? zeros([n]) as Tensor1D : undefined,
    sumZ: sums ? zeros([n]) as Tensor1D : undefined,
    sumWZ: sums && attrs.hasClassWeights && attrs.labelSmoothing > 0 ? zeros([n]) as Tensor1D : undefined,
  };
  for (const [start, size] of ranges(v, compositeVocabChunk(n, v, attrs.vocabChunk))) {
    const next = tidy(() => {
      const {capped: zc, z} = chunkLogits(e, c, b, vectors, start, size, attrs);
      const chunkMax = max(z, 1) as Tensor1D;
      const newMax = maximum(state.max, chunkMax) as Tensor1D;
      const shift = safeShift(newMax);
      // exp(−Inf − shift) = 0 while nothing unmasked has been seen: no NaN, no Inf.
      const rescale = exp(sub(state.max, shift));
      const p = exp(sub(z, expandDims(shift, 1)));
      const out: ChunkState = {
        max: newMax,
        sumExp: add(mul(state.sumExp, rescale), sum(p, 1)) as Tensor1D,
        // Strictly greater keeps the earlier chunk on ties: first index wins.
        argmax: where(greater(chunkMax, state.max), add(firstArgMax(z), scalar(start, 'int32')), state.argmax) as
            Tensor1D,
      };
      if (state.sumExpZ) {
        // exp(−Inf)·(−Inf) would be NaN: masked classes contribute their exact 0 through the finite capped value.
        out.sumExpZ = add(mul(state.sumExpZ, rescale), sum(mul(p, where(equal(z, scalar(-Infinity)), zerosLike(zc), zc)),
                                                           1)) as Tensor1D;
      }
      if (state.sumZ) {
        out.sumZ = add(state.sumZ, sum(mul(zc, slice(vectors.unmasked, [start], [size])), 1)) as Tensor1D;
      }
      if (state.sumWZ) {
        out.sumWZ = add(state.sumWZ, sum(mul(zc, slice(vectors.weightedUnmasked, [start], [size])), 1)) as Tensor1D;
      }
      return out;
    });
    dispose(Object.values(state).filter(t => t != null && !Object.values(next).includes(t)) as Tensor[]);
    state = next;
  }
  return state;
}

/**
 * [Σ_U z, Σ_U w·z] per token: accumulated by the chunks with a softcap;
 * without one, linear in e: e·(Cᵀu) + u·b over the unmasked classes.
 */
function unmaskedSums(e: Tensor2D, c: Tensor2D, b: Tensor1D|null, vectors: ClassVectors, state: ChunkState,
                      attrs: SluiceLinearCrossEntropyAttrs): [Tensor1D, Tensor1D] {
  if (attrs.softcap > 0) {
    return [state.sumZ!, state.sumWZ ?? state.sumZ!];
  }
  const n = e.shape[0];
  // Σ_U w·z is read by weighted smoothing only; otherwise one row, and Σ_U z serves for both.
  const weighted = attrs.hasClassWeights && attrs.labelSmoothing > 0;
  const rows = (weighted ? stack([vectors.unmasked, vectors.weightedUnmasked]) :
                           expandDims(vectors.unmasked, 0)) as Tensor2D;  // [k, V]
  // [k, D]: Σ_U c (and Σ_U w·c), in either layout.
  const dv = attrs.classifierLayout === 'dv';
  const sums = dv ? matMul(rows, c, false, true) : matMul(rows, c);
  let linear = matMul(e, sums, false, true);  // [N, k]
  if (b != null) {
    const bSafe = where(equal(b, scalar(-Infinity)), zerosLike(b), b) as Tensor1D;
    linear = add(linear, reshape(matMul(rows, expandDims(bSafe, 1)), [1, rows.shape[0]]));
  }
  const columns = Array.from({length: rows.shape[0]}, (_, k) => reshape(slice(linear, [0, k], [n, 1]), [n]));
  return [columns[0] as Tensor1D, columns[columns.length - 1] as Tensor1D];
}

/** Labels with ignored and out-of-range positions replaced by 0 so gathers stay in range, and the masks. */
function labelMasks(labels: Tensor1D, ignoreIndex: number, v: number) {
  const kept = notEqual(labels, scalar(ignoreIndex, 'int32'));
  const inRange = logicalAnd(greaterEqual(labels, scalar(0, 'int32')), less(labels, scalar(v, 'int32')));
  const safe = where(logicalAnd(kept, inRange), labels, zerosLike(labels)) as Tensor1D;
  return {kept, inRange, safe};
}

/** Final logit of each token's label (−Inf at a masked class): one [N, D] gather, not a pass over V. */
function labelLogits(e: Tensor2D, c: Tensor2D, b: Tensor1D|null, vectors: ClassVectors, labels: Tensor1D,
                     attrs: SluiceLinearCrossEntropyAttrs): Tensor1D {
  const rows = attrs.classifierLayout === 'dv' ? gather(c, labels, 1) : gather(c, labels);
  // 'dv': the gathered [D, N] columns are transposed, N·D values (the size of e, not of the classifier).
  const products = sum(mul(e, attrs.classifierLayout === 'dv' ? transpose(rows) : rows), 1);
  const x = b == null ? products : add(products, gather(b, labels));
  if (attrs.softcap === 0) return x as Tensor1D;
  const capped = applySoftcap(x, attrs.softcap);
  return (vectors.maskAdd == null ? capped : add(capped, gather(vectors.maskAdd, labels))) as Tensor1D;
}

/** [N, size] float mask of `index − start`; rows whose index falls outside the chunk are 0. */
function chunkOneHot(index: Tensor1D, start: number, size: number): Tensor {
  return cast(equal(expandDims(index, 1), range(start, start + size, 1, 'int32')), 'float32');
}

/** `b` null: no bias (attrs.hasBias false); dBias is then zeros. */
function backwardChunks(e: Tensor2D, c: Tensor2D, b: Tensor1D|null, w: Tensor1D, labels: Tensor1D, lse: Tensor1D,
                        argmax: Tensor1D, dLosses: Tensor1D, dLse: Tensor1D, attrs: SluiceLinearCrossEntropyAttrs,
                        v: number): Tensor[] {
  const [n, d] = e.shape;
  const dv = attrs.classifierLayout === 'dv';
  const {softcap, labelSmoothing: ls, zLoss, maxSup} = attrs;
  const vectors = classVectors(b, w, v);
  const {kept, inRange, safe} = labelMasks(labels, attrs.ignoreIndex, v);
  // g: the upstream gradient of kept tokens; NaN for a kept label outside [0, V), so its whole row is NaN.
  const g = where(kept, where(inRange, dLosses, fill([n], NaN)), zerosLike(dLosses));
  const wy = gather(w, safe);
  const gw = mul(g, wy);
  const invVu = div(scalar(1), vectors.unmaskedCount);
  // dL/dz = s·p − us·(w·u) − um·u − l·onehot(y) + m·onehot(argmax), per token:
  const softmaxCoef = expandDims(add(add(mul(gw, add(scalar(1 - ls), mul(scalar(2 * zLoss), lse))),
                                         mul(g, mul(scalar(ls), mul(vectors.weightSum, invVu)))),
                                     dLse), 1);
  const smoothCoef = expandDims(mul(g, mul(scalar(-ls), invVu)), 1);       // times w_c·u_c
  const maxSupCoef = expandDims(mul(gw, mul(scalar(-maxSup), invVu)), 1);  // times u_c
  const labelCoef = expandDims(mul(gw, scalar(-(1 - ls))), 1);
  const argmaxCoef = expandDims(mul(gw, scalar(maxSup)), 1);
  const lseCol = expandDims(lse, 1);

  let dE: Tensor = zeros([n, d]);
  const dC: Tensor[] = [];
  const dB: Tensor[] = [];
  for (const [start, size] of ranges(v, compositeVocabChunk(n, v, attrs.vocabChunk))) {
    const [dENext, dCChunk, dBChunk] = tidy(() => {
      const {cChunk, capped, z} = chunkLogits(e, c, b, vectors, start, size, attrs);
      // z − lse <= 0 for every real entry; the clamp is for tfjs-webgl's packed
      // textures, whose padding lanes hold z = 0: with lse near −1e4 their exp
      // is Inf, and the next packed matMul multiplies it by the other operand's
      // zero padding (Inf · 0 = NaN in every output). Masked classes: exp(−Inf) = 0.
      let dz = mul(exp(minimum(sub(z, lseCol), scalar(0))), softmaxCoef);
      if (ls > 0) {
        dz = add(dz, mul(smoothCoef, slice(vectors.weightedUnmasked, [start], [size])));
      }
      if (maxSup > 0) {
        dz = add(dz, mul(maxSupCoef, slice(vectors.unmasked, [start], [size])));
        dz = add(dz, mul(chunkOneHot(argmax, start, size), argmaxCoef));
      }
      dz = add(dz, mul(chunkOneHot(safe, start, size), labelCoef));
      // The derivative from the finite capped value: 0 at masked classes, never 0 · Inf.
      const dx = softcap > 0 ? mul(dz, softcapDerivative(capped, softcap)) : dz;
      const dCNext = dv ? matMul(e, dx, true, false) : matMul(dx, e, true, false);
      return [add(dE, matMul(dx, cChunk, false, dv)), dCNext, ...(b == null ? [] : [sum(dx, 0)])];
    });
    dE.dispose();
    dE = dENext;
    dC.push(dCChunk);
    if (dBChunk != null) dB.push(dBChunk);
  }
  const dClassifier = dC.length === 1 ? dC[0] : concat(dC, dv ? 1 : 0);
  const dBias = b == null ? zeros([v]) : dB.length === 1 ? dB[0] : concat(dB, 0);
  return [dE, dClassifier, dBias];
}

/**
 * The kernel's four outputs [losses, lse, argmax (int32), entropy ([N] or
 * [0])]. Inside, one packed [3 or 4, N] tensor (customGrad takes a single
 * output), split by `unstackDifferentiable`, whose gradient needs no stock-op
 * gradient.
 */
export function linearCrossEntropyComposite(embeddings: Tensor2D, classifier: Tensor2D, labels: Tensor1D,
                                            bias: Tensor1D|undefined, classWeights: Tensor1D|undefined,
                                            attrs: SluiceLinearCrossEntropyAttrs): Tensor[] {
  const {labelSmoothing: ls, zLoss, maxSup} = attrs;
  const v = attrs.classifierLayout === 'dv' ? classifier.shape[1] : classifier.shape[0];
  if (v > MAX_COMPOSITE_VOCAB) {
    // argmax rides through customGrad as a float32 row (below): exact for indices < 2^24 only.
    fail('linearCrossEntropy', 'classifier', `of shape ${attrs.classifierLayout === 'dv' ? '[D, V]' : '[V, D]'} with ` +
         `V <= ${MAX_COMPOSITE_VOCAB} (2^24) on the composite path, which carries argmax as float32 (the ` +
         `backend '${getBackend()}' has no ${SluiceLinearCrossEntropy} kernel, or the composite is forced)`,
         `shape [${classifier.shape.join(',')}]`);
  }
  const hasBias = attrs.hasBias !== false;
  // The op always passes both; direct kernel calls may leave them out.
  bias = bias ?? zeros([v]);
  classWeights = classWeights ?? fill([v], 1);
  const rows = attrs.computeEntropy ? 4 : 3;
  // customGrad's typing cannot express (inputs..., save); the cast restores it.
  const f = customGrad(((e: Tensor, c: Tensor, b: Tensor, w: Tensor, save: GradSaveFunc) => {
    if (e.shape[0] === 0) {
      // Empty batches stay connected to the inputs so tf.grad still works. The
      // gradients are built from shapes: the op's default zero bias is
      // disposed by backward time, and tfjs-node's ZerosLike reads its input.
      return {value: zeros([rows, 0]), gradFunc: () => [zeros(e.shape), zeros(c.shape), zeros(b.shape), zeros(w.shape)]};
    }
    // Without a real bias (hasBias false) the input is the op's zeros: not read.
    const e2 = e as Tensor2D, c2 = c as Tensor2D, b1 = hasBias ? b as Tensor1D : null, w1 = w as Tensor1D;
    const vectors = classVectors(b1, w1, v);
    const state = forwardChunks(e2, c2, b1, vectors, attrs, v);
    // No unmasked class (V_u = 0), or a row of −Inf logits only: lse NaN, as log of an empty sum
    // (kernel_names.ts), rather than the −Inf that log(0) would give. V_u is tested as well as the max:
    // tfjs-webgl's max of a row of −Inf is a large finite negative number, not −Inf.
    const noClass = equal(vectors.unmaskedCount, scalar(0));
    const lse = where(logicalOr(noClass, equal(state.max, scalar(-Infinity))), fill([e2.shape[0]], NaN),
                      add(safeShift(state.max), log(state.sumExp))) as Tensor1D;
    // And argmax 0 then, the first index of a row of equal (−Inf) logits.
    const argmax = where(noClass, zerosLike(state.argmax), state.argmax);
    const {kept, inRange, safe} = labelMasks(labels, attrs.ignoreIndex, v);
    const wy = gather(w1, safe);
    const zy = labelLogits(e2, c2, b1, vectors, safe, attrs);
    const [sumZ, sumWZ] = needsUnmaskedSums(attrs) ? unmaskedSums(e2, c2, b1, vectors, state, attrs) : [null, null];
    const invVu = div(scalar(1), vectors.unmaskedCount);
    // (1 − ls)·w_y·(lse − z_y) + (ls/V_u)·(S·lse − Σ_U w·z) + zLoss·w_y·lse² + maxSup·w_y·(max − Σ_U z / V_u)
    // lse >= max z >= z_y exactly, but z_y is its own gather-and-sum, not the matMul that fed lse: float32
    // rounding can put it an ulp above lse (a confident token's lse − z_y about −2e-6). That is rounding
    // only, so it is taken as 0; NaN and +Inf pass through.
    const gap = sub(lse, zy);
    let perToken = mul(mul(wy, scalar(1 - ls)), where(less(gap, 0), zerosLike(gap), gap));
    if (ls > 0) {
      perToken = add(perToken, mul(mul(scalar(ls), invVu), sub(mul(vectors.weightSum, lse), sumWZ!)));
    }
    if (zLoss > 0) {
      perToken = add(perToken, mul(mul(wy, scalar(zLoss)), square(lse)));
    }
    if (maxSup > 0) {
      perToken = add(perToken, mul(mul(wy, scalar(maxSup)), sub(state.max, mul(sumZ!, invVu))));
    }
    // where, not a multiply: 0 · NaN would turn an ignored token's 0 into NaN.
    // A label outside [0, V) that the op could not check (GPU-resident on
    // webgpu/webgl) gives NaN rather than the loss of a clamped label.
    const losses = where(kept, where(inRange, perToken, fill(perToken.shape, NaN)), zerosLike(perToken));
    const outputs = [losses, lse, cast(argmax, 'float32')];
    if (attrs.computeEntropy) {
      outputs.push(sub(lse, div(state.sumExpZ!, state.sumExp)) as Tensor1D);
    }
    // lse and argmax leave as rows of the output rather than through `save`:
    // tensors made inside the forward and saved would outlive it as hidden
    // allocations. argmax rides as float32, exact for every index below 2^24 (V is checked above).
    const packed = stack(outputs);
    save([e, c, b, w, labels, packed]);
    return {
      value: packed,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [se, sc, sb, sw, sl, sPacked] = saved;
        const [dLosses, dLse] = [0, 1].map(i => reshape(slice(dy, [i, 0], [1, dy.shape[1]!]), [dy.shape[1]!]));
        const [sLse, sArgmax] = [1, 2].map(i => reshape(slice(sPacked, [i, 0], [1, sPacked.shape[1]!]),
                                                        [sPacked.shape[1]!]));
        const grads = backwardChunks(se as Tensor2D, sc as Tensor2D, hasBias ? sb as Tensor1D : null, sw as Tensor1D,
                                     sl as Tensor1D, sLse as Tensor1D, cast(sArgmax, 'int32') as Tensor1D,
                                     dLosses as Tensor1D, dLse as Tensor1D, attrs, v);
        // classWeights are not differentiated (as PyTorch's weight): zeros.
        return [...grads, zeros(sw.shape)];
      },
    };
  }) as unknown as CustomGradientFunc<Tensor>);
  const packed = f(embeddings, classifier, bias, classWeights);
  const [losses, lse, argmaxFloat, entropy] = unstackDifferentiable(packed);
  return [losses, lse, cast(argmaxFloat, 'int32'), entropy ?? zeros([0])];
}
