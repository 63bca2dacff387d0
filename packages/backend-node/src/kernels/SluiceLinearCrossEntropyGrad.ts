/**
 * Backward SluiceLinearCrossEntropy for tfjs-node's 'tensorflow' backend.
 *
 * dL/dz_ij = a_i·p_ij + u_i − l_i·[j = y_i] + m_i·[j = argmax_i], with
 * a = g(1 + 2·zLoss·lse) + dLse, u = −g(ls + maxSup)/V, l = g(1 − ls),
 * m = g·maxSup and g the upstream gradient of kept tokens. Only the softmax
 * term is dense, so only it is recomputed block by block. The label and
 * argmax terms touch N rows: a gather into dE, and per block a scatter of the
 * few rows whose index falls in it. Without a softcap the uniform term is
 * rank one, and a_i·p_ij is never materialised: a scales E's rows once
 * (dC = pᵀ·(a⊙E)) and dE's rows once at the end (dE = a⊙(p·C)), so a block
 * costs a matmul, an Exp and two matmuls.
 *
 * dC is allocated once and each block is written into its rows in place, so
 * the backward holds one [V, D] tensor, not the blocks plus their concatenation.
 *
 * Gradient filtering: a block whose softmax stays below gradFilterEps for
 * every token is skipped after its first matmul; deciding reads back one
 * scalar. Eager execution on CPU is synchronous anyway, so the read costs only
 * the Max pass; on CUDA (tfjs-node-gpu) it would drain the stream once per
 * block, so the kernel does not filter there.
 */
import {KernelConfig, KernelFunc, Tensor, tensor1d, TensorInfo, tidy} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropyGrad, SluiceLinearCrossEntropyGradAttrs, SluiceLinearCrossEntropyGradInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {consume, TfOps} from '../tf_ops';

import {classifierBlock, concatBlocks, keptLabels, logitsAt, vocabBlocks, withBiasColumn} from './linear_cross_entropy_shared';

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
  lse: Tensor;        // [N, 1]
  softmax: Tensor;    // a [N, 1]
  uniform?: Tensor;   // u [N, 1], absent when ls + maxSup = 0
  sparse: Tensor;     // stacked label (and argmax) coefficients [terms·N, 1]
  logFilterEps: number;  // −Infinity: no filtering
}

/** A block's dense gradients: its part of dE, and [dC | dBias] rows [size, D + 1]. */
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

/** Plain logits: s = [E | 1 | −lse]·[C | b | 1]ᵀ is the log-softmax itself; a⊙ is applied outside. */
function plainBlock(ctx: Context, eShifted: Tensor, aE: Tensor, start: number, size: number): BlockGrads|null {
  const {ops, inputs} = ctx;
  const {block, augmented} =
      classifierBlock(ops, inputs.classifier, inputs.bias, start, size, [ops.fill([size, 1], 1)]);
  const shifted = ops.matMul(eShifted, augmented, false, true);
  augmented.dispose();
  if (belowFilter(ctx, shifted)) {
    shifted.dispose();
    return null;
  }
  const p = ops.unary('Exp', shifted);
  shifted.dispose();
  const grads = {dE: ops.matMul(p, block), dCB: ops.matMul(p, aE, true, false)};
  p.dispose();
  return grads;
}

/** Softcapped logits: dx = (a·p + u)·(1 − t²) with t = tanh(x / softcap), built densely per block. */
function cappedBlock(ctx: Context, eScaled: Tensor, eOnes: Tensor, start: number, size: number): BlockGrads|null {
  const {ops, inputs} = ctx;
  const cap = ctx.attrs.softcap;
  const {block, augmented} = classifierBlock(ops, inputs.classifier, inputs.bias, start, size);
  const xOverCap = ops.matMul(eScaled, augmented, false, true);
  augmented.dispose();
  const t = ops.unary('Tanh', xOverCap);
  xOverCap.dispose();
  const z = ops.withScalar('Mul', t, cap);
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
  if (ctx.uniform != null) {
    const withUniform = ops.binary('AddV2', dz, ctx.uniform);
    dz.dispose();
    dz = withUniform;
  }
  const dx = ops.tanhGrad(t, dz);
  t.dispose();
  dz.dispose();
  const grads = {dE: ops.matMul(dx, block), dCB: ops.matMul(dx, eOnes, true, false)};
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
  const updates = ops.concat([ops.binary('Mul', embeddings, coefficients), coefficients], 1);
  return ops.scatterAddRows(dCB, ops.reshape(tensor1d(rows.local, 'int32'), [m, 1]), updates);
}

/** Groups the kept tokens' label (and argmax) indices by vocabulary block: one small read of N ints each. */
function sparseRowsByBlock(ctx: Context, blocks: Array<[number, number]>): Map<number, SparseRows> {
  const {ops, inputs, attrs} = ctx;
  const labels = ops.readInts(inputs.labels);
  const indexSets = attrs.maxSup > 0 ? [labels, ops.readInts(inputs.argmax)] : [labels];
  const n = labels.length;
  const chunk = blocks[0][1];
  const byBlock = new Map<number, SparseRows>();
  indexSets.forEach((indices, term) => {
    for (let i = 0; i < n; ++i) {
      if (labels[i] === attrs.ignoreIndex) {
        continue;  // g = 0: nothing to add
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
function atLogits(ops: TfOps, inputs: SluiceLinearCrossEntropyGradInputs, softcap: number, coefficient: Tensor,
                  indices: TensorInfo): Tensor {
  if (softcap === 0) {
    return coefficient;
  }
  const z = logitsAt(ops, inputs.embeddings, inputs.classifier, inputs.bias, indices, softcap);
  return ops.tanhGrad(ops.withScalar('Mul', z, 1 / softcap), coefficient);
}

/**
 * Runs the blocks: writes [dC | dBias] rows (dense + uniform + sparse terms)
 * and returns dE's dense part (before a⊙ on the plain path) and dBias.
 */
function blockGradients(ctx: Context, dC: Tensor): {dE: Tensor|null, dBias: Tensor} {
  const {ops, inputs, attrs} = ctx;
  const {embeddings, classifier} = inputs;
  const [n, d] = embeddings.shape;
  const eOnes = withBiasColumn(ops, embeddings, 1, true);  // [E | 1]
  const operands: Tensor[] = [];  // [N, D]-sized, disposed once the blocks are done
  let runBlock: (start: number, size: number) => BlockGrads | null;
  // Plain path: [Σ u_i e_i | Σ u_i], added to every row of [dC | dBias].
  let uniformRow: Tensor|undefined;
  if (attrs.softcap > 0) {
    const eScaled = withBiasColumn(ops, embeddings, 1 / attrs.softcap, inputs.bias != null);
    runBlock = (start, size) => cappedBlock(ctx, eScaled, eOnes, start, size);
    operands.push(eScaled, eOnes);
  } else {
    const eShifted = ops.concat([inputs.bias != null ? eOnes : embeddings, ops.withScalar('Mul', ctx.lse, -1)], 1);
    const aE = ops.binary('Mul', eOnes, ctx.softmax);
    uniformRow = ctx.uniform && ops.matMul(ctx.uniform, eOnes, true, false);
    eOnes.dispose();
    runBlock = (start, size) => plainBlock(ctx, eShifted, aE, start, size);
    operands.push(eShifted, aE);
  }
  const blocks = vocabBlocks(n, classifier.shape[0], attrs.vocabChunk);
  const sparse = sparseRowsByBlock(ctx, blocks);
  let dE: Tensor|null = null;
  const dBias: Tensor[] = [];
  blocks.forEach(([start, size], index) => {
    const out = tidy(() => {
      const grads = runBlock(start, size);
      let dCB = grads?.dCB ?? (uniformRow ? ops.broadcastTo(uniformRow, [size, d + 1]) : ops.fill([size, d + 1], 0));
      if (grads != null && uniformRow != null) {
        dCB = ops.binary('AddV2', dCB, uniformRow);
      }
      dCB = withSparseRows(ctx, dCB, sparse.get(index));
      ops.writeRows(dC, start, ops.slice(dCB, [0, 0], [size, d]));
      return {dE: grads?.dE, dBias: ops.reshape(ops.slice(dCB, [0, d], [size, 1]), [size])};
    });
    dBias.push(out.dBias);
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
  return {dE, dBias: concatBlocks(ops, dBias, 0)};
}

export const sluiceLinearCrossEntropyGrad: KernelFunc = ({inputs, backend, attrs}) => {
  const gradInputs = inputs as unknown as SluiceLinearCrossEntropyGradInputs;
  const gradAttrs = attrs as unknown as SluiceLinearCrossEntropyGradAttrs;
  const {dLosses, dLse, embeddings, classifier, labels, bias} = gradInputs;
  const {labelSmoothing: ls, zLoss, maxSup, gradFilterEps, softcap} = gradAttrs;
  const nodeBackend = backend as NodeJSKernelBackend;
  const ops = new TfOps(nodeBackend);
  const [n, d] = embeddings.shape;
  const v = classifier.shape[0];
  const withBias = gradAttrs.hasBias && bias != null;
  if (n === 0) {
    const zeros = [ops.fill([0, d], 0), ops.fill([v, d], 0), ops.fill([v], 0)];
    return withBias ? zeros : zeros.slice(0, 2);
  }
  return tidy(() => {
    const {kept, safe} = keptLabels(ops, labels, gradAttrs.ignoreIndex);
    const g = ops.reshape(ops.select(kept, dLosses, ops.fill([], 0)), [n, 1]);
    const lse = ops.reshape(gradInputs.lse, [n, 1]);
    const ofG = zLoss > 0 ? ops.binary('Mul', g, ops.withScalar('AddV2', ops.withScalar('Mul', lse, 2 * zLoss), 1)) : g;
    const filter = gradFilterEps > 0 && !nodeBackend.isUsingGpuDevice;
    // The label term −l_i at y_i, then maxSup's +m_i at argmax_i, each times the softcap derivative there.
    const terms = [{indices: safe as TensorInfo, coefficient: ops.withScalar('Mul', g, -(1 - ls))}];
    if (maxSup > 0) {
      terms.push({indices: gradInputs.argmax, coefficient: ops.withScalar('Mul', g, maxSup)});
    }
    const coefficients = terms.map(t => atLogits(ops, gradInputs, softcap, t.coefficient, t.indices));
    const ctx: Context = {
      ops, inputs: gradInputs, attrs: gradAttrs, lse,
      softmax: ops.binary('AddV2', ofG, ops.reshape(dLse, [n, 1])),
      uniform: ls + maxSup > 0 ? ops.withScalar('Mul', g, -(ls + maxSup) / v) : undefined,
      sparse: concatBlocks(ops, coefficients, 0),
      logFilterEps: filter ? Math.log(gradFilterEps) : -Infinity,
    };

    const dC = ops.fill([v, d], 0);
    const blocks = blockGradients(ctx, dC);
    // The [N, D] steps below dispose as they go: dC is alive, so each copy counts toward the peak.
    let dE = blocks.dE == null ? ops.fill([n, d], 0) :
        softcap === 0 ? consume(blocks.dE, x => ops.binary('Mul', x, ctx.softmax)) : blocks.dE;
    if (softcap === 0 && ctx.uniform != null) {
      // Rank one: dz_ij += u_i for every j.
      const rankOne = ops.binary('Mul', ctx.uniform, ops.reduce('Sum', classifier, [0], true));
      dE = consume(dE, x => ops.binary('AddV2', x, rankOne), rankOne);
    }
    terms.forEach((t, k) => {
      const rows = consume(ops.gatherRows(classifier, t.indices), x => ops.binary('Mul', x, coefficients[k]));
      dE = consume(dE, x => ops.binary('AddV2', x, rows), rows);
    });
    return withBias ? [dE, dC, blocks.dBias] : [dE, dC];
  });
};

export const sluiceLinearCrossEntropyGradConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropyGrad,
  backendName: 'tensorflow',
  kernelFunc: sluiceLinearCrossEntropyGrad,
};
