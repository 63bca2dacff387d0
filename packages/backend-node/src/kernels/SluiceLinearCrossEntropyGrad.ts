/**
 * Backward SluiceLinearCrossEntropy for tfjs-node's 'tensorflow' backend.
 *
 * dL/dz_ij = a_i·p_ij + uS_i·(w⊙u)_j + uM_i·u_j − l_i·[j = y_i] + m_i·[j = argmax_i]
 * (kernel_names.ts), with u_j = 1 at unmasked classes, g the upstream gradient
 * of kept tokens (NaN for a kept label outside [0, V): its row is NaN), w_y
 * the label's weight, V_u = Σu, S = Σ w⊙u:
 *   a = g·w_y·(1 − ls + 2·zLoss·lse) + g·ls·S/V_u + dLse,
 *   uS = −g·ls/V_u, uM = −g·w_y·maxSup/V_u, l = g·w_y·(1 − ls), m = g·w_y·maxSup.
 * With nothing masked and no classWeights the two uniform terms are one
 * column u_i = uS_i + uM_i (the first round's −g(ls + maxSup)/V). Only the
 * softmax term is dense, so only it is recomputed block by block. The label
 * and argmax terms touch N rows: a gather into dE, and per block a scatter
 * of the few rows whose index falls in it (labels at masked classes add
 * nothing: masked classes get exactly 0). Without a softcap the uniform terms
 * are rank two and a_i·p_ij is never materialised: a scales E's rows once
 * (dC = pᵀ·(a⊙E)) and dE's rows once at the end (dE = a⊙(p·C)), so a block
 * costs a matmul, an Exp and two matmuls. dBias rides as one more column of
 * [dC | dBias] (the ones column of [E | 1]); without a real bias (attrs.hasBias
 * false) neither column exists and dBias is zeros.
 *
 * 'vd': dC [V, D] is allocated once and each block is written into its rows
 * in place, so the backward holds one [V, D] tensor, not the blocks plus their
 * concatenation. 'dv': the classifier [D, V] is multiplied as it is; each
 * block's gradient [D, size] is a transposed copy of the block's rows, and
 * the blocks are concatenated at the end (a second [D, V] for that moment).
 *
 * Gradient filtering: a block whose softmax stays below gradFilterEps for
 * every token is skipped after its first matmul; deciding reads back one
 * scalar. Eager execution on CPU is synchronous anyway, so the read costs only
 * the Max pass; on CUDA (tfjs-node-gpu) it would drain the stream once per
 * block, so the kernel does not filter there.
 *
 * Accumulation (issue 18.6), float32 in libtensorflow's kernels: dE is a sum
 * over blocks in vocabulary order (AddV2 after each block's MatMul over its
 * columns); a block's [dC | dBias] rows are one MatMul over the N tokens,
 * plus the uniform and sparse rows (TensorScatterAdd, repeats accumulating).
 */
import {KernelConfig, KernelFunc, Tensor, tensor1d, TensorInfo, tidy} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {consume, TfOps} from '../tf_ops';

import {blockMaskAdd, classifierBlock, classifierRows, concatBlocks, Host, labelWeights, logitsAt, readHost,
        unmaskedClassSums, vocabBlocks, withBiasColumn, withoutZeroBias} from './linear_cross_entropy_shared';

/** Rows of the label/argmax terms that land in one vocabulary block. */
interface SparseRows {
  tokens: number[];  // token i
  terms: number[];   // row of the stacked coefficients: term·N + i
  local: number[];   // index − block start
}

interface Context {
  ops: TfOps;
  inputs: SluiceLinearCrossEntropyGradInputs;
  attrs: SluiceLinearCrossEntropyGradAttrs;
  host: Host;
  dv: boolean;
  lse: Tensor;        // [N, 1]
  softmax: Tensor;    // a [N, 1]
  /**
   * The uniform terms: [N, 1] u = uS + uM (nothing masked, no weights), or
   * [N, 2] (uS, uM) against the host's [V, 2] (w⊙u, u) columns; absent when
   * ls + maxSup = 0.
   */
  uniform?: Tensor;
  sparse: Tensor;     // stacked label (and argmax) coefficients [terms·N, 1]
  logFilterEps: number;  // −Infinity: no filtering
}

/** A block's dense gradients: its part of dE, and [dC | dBias] rows [size, D + 1] ([size, D] without a bias). */
interface BlockGrads {
  dE: Tensor;
  dCB: Tensor;
}

/** Whether every entry of `shifted` = z − lse (log-softmax) of a block is below log(eps). */
function belowFilter(ctx: Context, shifted: Tensor): boolean {
  if (ctx.logFilterEps === -Infinity) {
    return false;
  }
  const max = ctx.ops.reduce('Max', shifted, [0, 1]);
  const skip = max.dataSync()[0] < ctx.logFilterEps;
  max.dispose();
  return skip;
}

/** The uniform terms of a block as [N, size] (capped path), or null when there are none. */
function uniformBlock(ctx: Context, start: number, size: number): Tensor|null {
  if (ctx.uniform == null) return null;
  if (ctx.uniform.shape[1] === 1) return ctx.uniform;  // broadcast over the block
  return ctx.ops.matMul(ctx.uniform, ctx.ops.slice(ctx.host.classColumns!, [start, 0], [size, 2]), false, true);
}

/** Plain logits: s = [E | 1 | −lse]·[C | b | 1]ᵀ is the log-softmax itself; a⊙ is applied outside. */
function plainBlock(ctx: Context, eShifted: Tensor, aE: Tensor, start: number, size: number): BlockGrads|null {
  const {ops, inputs, dv} = ctx;
  const {block, augmented} = classifierBlock(ops, inputs.classifier, inputs.bias, dv, start, size, 1);
  const shifted = ops.matMul(eShifted, augmented, false, !dv);
  augmented.dispose();
  if (belowFilter(ctx, shifted)) {
    shifted.dispose();
    return null;
  }
  // Masked classes: shifted is −Inf there (their bias), so p is exactly 0.
  const p = ops.unary('Exp', shifted);
  shifted.dispose();
  const grads = {dE: ops.matMul(p, block, false, dv), dCB: ops.matMul(p, aE, true, false)};
  p.dispose();
  return grads;
}

/** Softcapped logits: dx = (a·p + uniform)·(1 − t²) with t = tanh(x / softcap), built densely per block. */
function cappedBlock(ctx: Context, eScaled: Tensor, eOnes: Tensor, start: number, size: number): BlockGrads|null {
  const {ops, inputs, dv} = ctx;
  const cap = ctx.attrs.softcap;
  const {block, augmented} = classifierBlock(ops, inputs.classifier, inputs.bias, dv, start, size);
  const xOverCap = ops.matMul(eScaled, augmented, false, !dv);
  augmented.dispose();
  const t = ops.unary('Tanh', xOverCap);
  xOverCap.dispose();
  let z = ops.withScalar('Mul', t, cap);
  const maskAdd = blockMaskAdd(ops, ctx.host, start, size);
  if (maskAdd != null) {
    // −Inf at masked classes, so p = 0 there; t = −1 makes their derivative 1 − t² exactly 0 as well.
    z = consume(z, x => ops.binary('AddV2', x, maskAdd));
  }
  const shifted = ops.binary('Sub', z, ctx.lse);
  z.dispose();
  // With a uniform term every entry of dx is nonzero: filtering would drop it.
  if (ctx.uniform == null && belowFilter(ctx, shifted)) {
    shifted.dispose();
    t.dispose();
    return null;
  }
  const p = ops.unary('Exp', shifted);
  shifted.dispose();
  let dz = ops.binary('Mul', p, ctx.softmax);
  p.dispose();
  const uniform = uniformBlock(ctx, start, size);
  if (uniform != null) {
    dz = consume(dz, x => ops.binary('AddV2', x, uniform));
    if (uniform !== ctx.uniform) uniform.dispose();
  }
  const dx = ops.tanhGrad(t, dz);
  t.dispose();
  dz.dispose();
  const grads = {dE: ops.matMul(dx, block, false, dv), dCB: ops.matMul(dx, eOnes, true, false)};
  dx.dispose();
  return grads;
}

/** dCB + the label/argmax rows that fall in this block (repeated rows accumulate). */
function withSparseRows(ctx: Context, dCB: Tensor, rows: SparseRows|undefined): Tensor {
  if (rows == null) {
    return dCB;
  }
  const {ops} = ctx;
  const m = rows.tokens.length;
  const coefficients = ops.gatherRows(ctx.sparse, tensor1d(rows.terms, 'int32'));
  const embeddings = ops.gatherRows(ctx.inputs.embeddings, tensor1d(rows.tokens, 'int32'));
  const products = ops.binary('Mul', embeddings, coefficients);
  const updates = ctx.inputs.bias != null ? ops.concat([products, coefficients], 1) : products;
  return ops.scatterAddRows(dCB, ops.reshape(tensor1d(rows.local, 'int32'), [m, 1]), updates);
}

/**
 * Groups the kept tokens' label (and argmax) indices by vocabulary block, from
 * the host's labels (out-of-range ones as 0; labels at masked classes left out).
 */
function sparseRowsByBlock(ctx: Context, blocks: Array<[number, number]>): Map<number, SparseRows> {
  const {ops, inputs, attrs, host} = ctx;
  const labels = host.safeLabels;
  const indexSets = attrs.maxSup > 0 ? [labels, ops.readInts(inputs.argmax)] : [labels];
  const n = labels.length;
  const chunk = blocks[0][1];
  const byBlock = new Map<number, SparseRows>();
  indexSets.forEach((indices, term) => {
    for (let i = 0; i < n; ++i) {
      if (!host.keptHost[i] || (term === 0 && host.info.masked?.[labels[i]])) {
        continue;  // g = 0 (ignored), or a masked class, which keeps its exact 0
      }
      const block = Math.floor(indices[i] / chunk);
      let rows = byBlock.get(block);
      if (rows == null) {
        rows = {tokens: [], terms: [], local: []};
        byBlock.set(block, rows);
      }
      rows.tokens.push(i);
      rows.terms.push(term * n + i);
      rows.local.push(indices[i] - blocks[block][0]);
    }
  });
  return byBlock;
}

/** A coefficient column [N, 1] times the softcap derivative at the logits of `indices`. */
function atLogits(ctx: Context, coefficient: Tensor, indices: TensorInfo): Tensor {
  const {ops, inputs, attrs, dv} = ctx;
  if (attrs.softcap === 0) {
    return coefficient;
  }
  const z = logitsAt(ops, inputs.embeddings, inputs.classifier, inputs.bias, dv, indices, attrs.softcap);
  return ops.tanhGrad(ops.withScalar('Mul', z, 1 / attrs.softcap), coefficient);
}

/** The uniform rows [w⊙u | u]·[Σ uS·[e|1] ; Σ uM·[e|1]] of a block's [dC | dBias] (plain path), or the shared row. */
function uniformRows(ctx: Context, uniformRow: Tensor|undefined, start: number, size: number): Tensor|undefined {
  if (uniformRow == null || ctx.uniform!.shape[1] === 1) return uniformRow;
  return ctx.ops.matMul(ctx.ops.slice(ctx.host.classColumns!, [start, 0], [size, 2]), uniformRow);
}

/**
 * Runs the blocks: writes [dC | dBias] rows (dense + uniform + sparse terms)
 * and returns dE's dense part (before a⊙ on the plain path), dBias, and for
 * 'dv' the dC blocks [D, size]. Without a bias the rows are dC's alone and
 * dBias is zeros.
 */
function blockGradients(ctx: Context, dC: Tensor|null): {dE: Tensor|null, dBias: Tensor, dCParts: Tensor[]} {
  const {ops, inputs, attrs, dv} = ctx;
  const {embeddings, classifier} = inputs;
  const [n, d] = embeddings.shape;
  const v = dv ? classifier.shape[1] : classifier.shape[0];
  const withBias = inputs.bias != null;
  const width = withBias ? d + 1 : d;
  const eOnes = withBiasColumn(ops, embeddings, 1, withBias);  // [E | 1], or E without a bias
  const operands: Tensor[] = [];  // [N, D]-sized, disposed once the blocks are done
  let runBlock: (start: number, size: number) => BlockGrads | null;
  // Plain path: [Σ u_i e_i | Σ u_i] per uniform term, added to the rows of [dC | dBias].
  let uniformRow: Tensor|undefined;
  if (attrs.softcap > 0) {
    const eScaled = withBiasColumn(ops, embeddings, 1 / attrs.softcap, withBias);
    runBlock = (start, size) => cappedBlock(ctx, eScaled, eOnes, start, size);
    operands.push(eScaled, eOnes);
  } else {
    const eShifted = ops.concat([eOnes, ops.withScalar('Mul', ctx.lse, -1)], 1);
    const aE = ops.binary('Mul', eOnes, ctx.softmax);
    uniformRow = ctx.uniform && ops.matMul(ctx.uniform, eOnes, true, false);
    eOnes.dispose();
    runBlock = (start, size) => plainBlock(ctx, eShifted, aE, start, size);
    operands.push(eShifted, aE);
  }
  const blocks = vocabBlocks(n, v, attrs.vocabChunk);
  const sparse = sparseRowsByBlock(ctx, blocks);
  let dE: Tensor|null = null;
  const dBias: Tensor[] = [];
  const dCParts: Tensor[] = [];
  blocks.forEach(([start, size], index) => {
    const out = tidy(() => {
      const grads = runBlock(start, size);
      const uniform = uniformRows(ctx, uniformRow, start, size);
      let dCB = grads?.dCB ?? (uniform ? ops.broadcastTo(uniform, [size, width]) : ops.fill([size, width], 0));
      if (grads != null && uniform != null) {
        dCB = ops.binary('AddV2', dCB, uniform);
      }
      dCB = withSparseRows(ctx, dCB, sparse.get(index));
      const rows = withBias ? ops.slice(dCB, [0, 0], [size, d]) : dCB;
      let part: Tensor|undefined;
      if (dv) {
        part = ops.transpose(rows, [1, 0]);
      } else {
        ops.writeRows(dC!, start, rows);
      }
      const blockBias = withBias ? ops.reshape(ops.slice(dCB, [0, d], [size, 1]), [size]) : undefined;
      return {dE: grads?.dE, dBias: blockBias, part};
    });
    if (out.dBias != null) dBias.push(out.dBias);
    if (out.part != null) dCParts.push(out.part);
    if (out.dE != null) {
      const sum: Tensor = dE == null ? out.dE : ops.binary('AddV2', dE, out.dE);
      if (dE != null) {
        dE.dispose();
        out.dE.dispose();
      }
      dE = sum;
    }
  });
  operands.forEach(t => t.dispose());
  return {dE, dBias: withBias ? concatBlocks(ops, dBias, 0) : ops.fill([v], 0), dCParts};
}

export const sluiceLinearCrossEntropyGrad: KernelFunc = ({inputs, backend, attrs}) => {
  const gradAttrs = attrs as unknown as SluiceLinearCrossEntropyGradAttrs;
  // hasBias false: the op's zeros bias is dropped (no bias column anywhere; dBias comes back as zeros).
  const gradInputs = withoutZeroBias(inputs as unknown as SluiceLinearCrossEntropyGradInputs, gradAttrs);
  const {dLosses, dLse, embeddings, classifier, labels, bias, classWeights} = gradInputs;
  const {labelSmoothing: ls, zLoss, maxSup, gradFilterEps, softcap} = gradAttrs;
  const nodeBackend = backend as NodeJSKernelBackend;
  const ops = new TfOps(nodeBackend);
  const dv = gradAttrs.classifierLayout === 'dv';
  const [n, d] = embeddings.shape;
  const v = dv ? classifier.shape[1] : classifier.shape[0];
  if (n === 0) {
    return [ops.fill([0, d], 0), ops.fill(classifier.shape, 0), ops.fill([v], 0)];
  }
  return tidy(() => {
    const host = readHost(ops, labels, bias, classWeights, gradAttrs, v);
    const {info} = host;
    const invVu = 1 / info.unmaskedCount;
    // g: kept tokens' upstream gradient; NaN for a kept label outside [0, V), so its whole row is NaN.
    let g = ops.reshape(ops.select(host.kept, dLosses, ops.fill([], 0)), [n, 1]);
    if (host.outOfRange != null) {
      g = ops.select(host.outOfRange, ops.fill([], NaN), g);
    }
    const wy = labelWeights(ops, host, classWeights);
    const gw = wy == null ? g : ops.binary('Mul', g, wy);
    const lse = ops.reshape(gradInputs.lse, [n, 1]);
    // a = g·w_y·(1 − ls + 2·zLoss·lse) + g·ls·S/V_u + dLse; with w = 1 and nothing masked, g·(1 + 2·zLoss·lse) + dLse.
    let softmax = zLoss > 0 ? ops.binary('Mul', gw, ops.withScalar('AddV2', ops.withScalar('Mul', lse, 2 * zLoss), 1 - ls)) :
                              ops.withScalar('Mul', gw, 1 - ls);
    if (ls > 0) {
      softmax = ops.binary('AddV2', softmax, ops.withScalar('Mul', g, ls * info.weightSum * invVu));
    }
    softmax = ops.binary('AddV2', softmax, ops.reshape(dLse, [n, 1]));
    let uniform: Tensor|undefined;
    if (ls + maxSup > 0) {
      const uS = ops.withScalar('Mul', g, -ls * invVu), uM = ops.withScalar('Mul', gw, -maxSup * invVu);
      uniform = host.classColumns == null ? ops.binary('AddV2', uS, uM) : ops.concat([uS, uM], 1);
    }
    const filter = gradFilterEps > 0 && !nodeBackend.isUsingGpuDevice;
    // The label term −l_i at y_i (0 at a masked class), then maxSup's +m_i at argmax_i, each times the softcap
    // derivative there.
    let labelCoefficient = ops.withScalar('Mul', gw, -(1 - ls));
    if (host.atMasked != null) {
      labelCoefficient = ops.select(host.atMasked, ops.fill([], 0), labelCoefficient);
    }
    const terms = [{indices: host.safe as TensorInfo, coefficient: labelCoefficient}];
    if (maxSup > 0) {
      terms.push({indices: gradInputs.argmax, coefficient: ops.withScalar('Mul', gw, maxSup)});
    }
    const ctx: Context = {
      ops, inputs: gradInputs, attrs: gradAttrs, host, dv, lse, softmax, uniform,
      sparse: ops.fill([1], 0),  // set below: atLogits needs the context
      logFilterEps: filter ? Math.log(gradFilterEps) : -Infinity,
    };
    const coefficients = terms.map(t => atLogits(ctx, t.coefficient, t.indices));
    ctx.sparse = concatBlocks(ops, coefficients, 0);

    const dC = dv ? null : ops.fill([v, d], 0);
    const blocks = blockGradients(ctx, dC);
    const dClassifier = dC ?? concatBlocks(ops, blocks.dCParts, 1);
    // The [N, D] steps below dispose as they go: dC is alive, so each copy counts toward the peak.
    let dE = blocks.dE == null ? ops.fill([n, d], 0) :
        softcap === 0 ? consume(blocks.dE, x => ops.binary('Mul', x, ctx.softmax)) : blocks.dE;
    if (softcap === 0 && uniform != null) {
      // Rank one or two: dz_ij += u_i (or uS_i·(w⊙u)_j + uM_i·u_j) for every j.
      const rankOne = uniform.shape[1] === 1 ?
          ops.binary('Mul', uniform, ops.reshape(ops.reduce('Sum', classifier, [dv ? 1 : 0]), [1, d])) :
          ops.matMul(uniform, unmaskedClassSums(ops, host, classifier, bias, dv, v).rows);
      dE = consume(dE, x => ops.binary('AddV2', x, rankOne), rankOne);
    }
    terms.forEach((t, k) => {
      const rows = consume(classifierRows(ops, classifier, dv, t.indices), x => ops.binary('Mul', x, coefficients[k]));
      dE = consume(dE, x => ops.binary('AddV2', x, rows), rows);
    });
    return [dE, dClassifier, blocks.dBias];
  });
};

export const sluiceLinearCrossEntropyGradConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropyGrad,
  backendName: 'tensorflow',
  kernelFunc: sluiceLinearCrossEntropyGrad,
};
