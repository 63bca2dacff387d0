/**
 * Forward SluiceLinearCrossEntropy for tfjs-node's 'tensorflow' backend
 * (tfjs-node and tfjs-node-gpu): TensorFlow eager ops over vocabulary blocks,
 * implementing the whole kernel contract (kernel_names.ts in @sluice/core).
 * Each block's logits live only while its max, argmax, Σexp (and the sums
 * smoothing, maxSup and the entropy need) are taken; the per-block statistics
 * ([N, 1] each) are merged once after the loop, so the loop itself issues no
 * [N]-sized bookkeeping ops. Wholly masked blocks are skipped.
 *
 * Accumulation (issue 18.6), float32 throughout, in libtensorflow's kernels:
 * logits are one MatMul per block (Eigen's/oneDNN's blocked order over D);
 * per block, Max, Σexp(z − block max), Σ exp·z and Σ_U z are TF Sum
 * reductions over the block's columns; blocks are then merged in one pass:
 * lse = max + log Σ_b Σexp_b·exp(max_b − max), a Sum over the [N, blocks]
 * statistics. Without a softcap Σ_U z and Σ_U w·z are linear: e · (Σ_U c, a
 * MatMul over V) + Σ_U b. Without a real bias (attrs.hasBias false) nothing
 * of the bias is read or multiplied.
 */
import {KernelConfig, KernelFunc, Tensor, tidy} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

import {blockMaskAdd, classifierBlock, concatBlocks, Host, labelWeights, logitsAt, readHost, unmaskedClassSums,
        vocabBlocks, whollyMasked, withBiasColumn, withoutZeroBias} from './linear_cross_entropy_shared';

// A type, not an interface: tidy() takes it as a TensorContainer.
type BlockStats = {
  max: Tensor;      // [N, 1] block max of z
  argmax: Tensor;   // [N, 1] int32, vocabulary index of that max
  sumExp: Tensor;   // [N, 1] Σ exp(z − block max)
  sumExpZ?: Tensor; // [N, 1] Σ exp(z − block max)·z, for the entropy
  sums?: Tensor;    // [N, 2] (Σ_U w·z, Σ_U z), or [N, 1] Σ z with nothing masked or weighted; only with a softcap
};

interface Job {
  ops: TfOps;
  inputs: SluiceLinearCrossEntropyInputs;
  attrs: SluiceLinearCrossEntropyAttrs;
  host: Host;
  dv: boolean;
  /** Whether the block sums of z are needed (a softcap with smoothing or maxSup). */
  needSums: boolean;
}

function blockStats(job: Job, scaledE: Tensor, start: number, size: number): BlockStats {
  const {ops, inputs, attrs, host, dv} = job;
  const {softcap} = attrs;
  const n = scaledE.shape[0];
  const {block, augmented} = classifierBlock(ops, inputs.classifier, inputs.bias, dv, start, size);
  let z = ops.matMul(scaledE, augmented, false, !dv);
  block.dispose();
  augmented.dispose();
  let sums: Tensor|undefined;
  if (softcap > 0) {
    // scaledE carries 1/softcap, so z holds x / softcap here.
    const t = ops.unary('Tanh', z);
    z.dispose();
    z = ops.withScalar('Mul', t, softcap);
    t.dispose();
    if (job.needSums) {
      // The capped value is finite at masked classes (−softcap): weighted by the [w⊙u | u] columns it drops out.
      sums = host.classColumns == null ? ops.reduce('Sum', z, [1], true) :
                                         ops.matMul(z, ops.slice(host.classColumns, [start, 0], [size, 2]));
    }
    const maskAdd = blockMaskAdd(ops, host, start, size);
    if (maskAdd != null) {
      // softcap(−Inf) = −softcap: masked classes are set back to −Inf.
      const masked = ops.binary('AddV2', z, maskAdd);
      z.dispose();
      z = masked;
    }
  }
  const blockArgmax = ops.argMax(z, 1);
  const max = ops.gatherPerRow(z, blockArgmax);
  const shifted = ops.binary('Sub', z, max);
  const e = ops.unary('Exp', shifted);
  shifted.dispose();
  // exp·z with MulNoNan: 0 where exp is 0 (masked classes, z = −Inf), never 0 · −Inf.
  const sumExpZ = attrs.computeEntropy ? ops.reduce('Sum', ops.binary('MulNoNan', z, e), [1], true) : undefined;
  z.dispose();
  const sumExp = ops.reduce('Sum', e, [1], true);
  e.dispose();
  const argmax = ops.reshape(ops.withScalar('AddV2', blockArgmax, start), [n, 1]);
  return {max, argmax, sumExp, sumExpZ, sums};
}

/** [Σ_U w·z, Σ_U z] per token as two [N, 1] columns. */
function unmaskedSums(job: Job, stats: BlockStats[], scaledE: Tensor, v: number): [Tensor, Tensor] {
  const {ops, inputs, host, dv} = job;
  const n = scaledE.shape[0];
  let both: Tensor;
  if (job.attrs.softcap > 0) {
    both = stats.map(s => s.sums!).reduce((a, b) => ops.binary('AddV2', a, b));
    if (both.shape[1] === 1) return [both, both];
  } else {
    // Linear: [e | 1] · [Σ_U (w⊙)c | Σ_U (w⊙)b].
    const {rows, biasSums} = unmaskedClassSums(ops, host, inputs.classifier, inputs.bias, dv, v);
    const withBias = inputs.bias != null ? ops.concat([rows, ops.transpose(biasSums, [1, 0])], 1) : rows;
    both = ops.matMul(scaledE, withBias, false, true);
  }
  return [ops.slice(both, [0, 0], [n, 1]), ops.slice(both, [0, 1], [n, 1])];
}

export const sluiceLinearCrossEntropy: KernelFunc = ({inputs, backend, attrs}) => {
  const lceAttrs = attrs as unknown as SluiceLinearCrossEntropyAttrs;
  // hasBias false: the op's zeros bias is dropped here, so no block carries a bias column and the
  // embeddings get no ones column (a missing hasBias is taken as true).
  const lceInputs = withoutZeroBias(inputs as unknown as SluiceLinearCrossEntropyInputs, lceAttrs);
  const {embeddings, classifier, labels, bias, classWeights} = lceInputs;
  const {softcap, labelSmoothing: ls, zLoss, maxSup, vocabChunk, computeEntropy} = lceAttrs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const dv = lceAttrs.classifierLayout === 'dv';
  const [n] = embeddings.shape;
  const v = dv ? classifier.shape[1] : classifier.shape[0];
  if (n === 0) {
    return [ops.fill([0], 0), ops.fill([0], 0), ops.fill([0], 0, 'int32'), ops.fill([0], 0)];
  }
  return tidy(() => {
    const host = readHost(ops, labels, bias, classWeights, lceAttrs, v);
    const {info} = host;
    const entropyOut = (t: Tensor) => computeEntropy ? ops.reshape(t, [n]) : ops.fill([0], 0);
    if (info.unmaskedCount === 0) {
      // Every class masked: lse = log 0 − and every kept token's loss is NaN.
      const nan = ops.fill([n], NaN);
      return [ops.select(host.kept, nan, ops.fill([], 0)), nan, ops.fill([n], 0, 'int32'), entropyOut(nan)];
    }
    const job: Job = {ops, inputs: lceInputs, attrs: lceAttrs, host, dv, needSums: softcap > 0 && (ls > 0 || maxSup > 0)};
    const scaledE = withBiasColumn(ops, embeddings, softcap > 0 ? 1 / softcap : 1, bias != null);
    const stats: BlockStats[] = [];
    for (const [start, size] of vocabBlocks(n, v, vocabChunk)) {
      if (!whollyMasked(host, start, size)) {
        stats.push(tidy(() => blockStats(job, scaledE, start, size)));
      }
    }
    const maxes = concatBlocks(ops, stats.map(s => s.max), 1);  // [N, blocks]
    const rowMax = ops.reduce('Max', maxes, [1], true);
    // ArgMax keeps the first block on ties, so the first index of the row maximum wins.
    const argmax = ops.gatherPerRow(concatBlocks(ops, stats.map(s => s.argmax), 1), ops.argMax(maxes, 1));
    const blockScale = ops.unary('Exp', ops.binary('Sub', maxes, rowMax));
    const total = ops.reduce('Sum', ops.binary('Mul', concatBlocks(ops, stats.map(s => s.sumExp), 1), blockScale), [1],
                             true);
    const lse = ops.binary('AddV2', rowMax, ops.unary('Log', total));
    let entropy: Tensor|undefined;
    if (computeEntropy) {
      const expZ = ops.reduce('Sum', ops.binary('Mul', concatBlocks(ops, stats.map(s => s.sumExpZ!), 1), blockScale),
                              [1], true);
      entropy = ops.binary('Sub', lse, ops.binary('RealDiv', expZ, total));
    }

    const wy = labelWeights(ops, host, classWeights);
    const weighted = (t: Tensor) => wy == null ? t : ops.binary('Mul', t, wy);
    let labelLogit = logitsAt(ops, embeddings, classifier, bias, dv, host.safe, softcap);
    if (host.atMasked != null) {
      // A label at a masked class: z_y = −Inf, so its loss is +Inf (as PyTorch).
      labelLogit = ops.select(host.atMasked, ops.fill([], -Infinity), labelLogit);
    }
    // lse >= max_c z_c >= z_y exactly, but z_y is its own Mul + Sum, not the MatMul that fed lse: float32
    // rounding can put it an ulp above lse, and a confident token's lse − z_y would read about −4e-6. Such a
    // difference is rounding only, so it is taken as 0 (NaN and +Inf pass through the Less).
    const gap = ops.binary('Sub', lse, labelLogit);
    const labelTerm = ops.select(ops.withScalar('Less', gap, 0), ops.fill([], 0), gap);
    let loss = weighted(ops.withScalar('Mul', labelTerm, 1 - ls));
    if (ls > 0 || maxSup > 0) {
      const [sumWZ, sumZ] = unmaskedSums(job, stats, scaledE, v);
      if (ls > 0) {
        const smoothing = ops.binary('Sub', ops.withScalar('Mul', lse, info.weightSum), sumWZ);
        loss = ops.binary('AddV2', loss, ops.withScalar('Mul', smoothing, ls / info.unmaskedCount));
      }
      if (maxSup > 0) {
        const gap = ops.binary('Sub', rowMax, ops.withScalar('Mul', sumZ, 1 / info.unmaskedCount));
        loss = ops.binary('AddV2', loss, weighted(ops.withScalar('Mul', gap, maxSup)));
      }
    }
    if (zLoss > 0) {
      loss = ops.binary('AddV2', loss, weighted(ops.withScalar('Mul', ops.unary('Square', lse), zLoss)));
    }
    if (host.outOfRange != null) {
      // A label the op could not check: NaN, never the loss of a clamped label.
      loss = ops.select(host.outOfRange, ops.fill([], NaN), loss);
    }
    // select, not a multiply: 0 · NaN would turn an ignored token's 0 into NaN.
    const losses = ops.select(host.kept, ops.reshape(loss, [n]), ops.fill([], 0));
    return [losses, ops.reshape(lse, [n]), ops.reshape(argmax, [n]), entropyOut(entropy ?? lse)];
  });
};

export const sluiceLinearCrossEntropyConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropy,
  backendName: 'tensorflow',
  kernelFunc: sluiceLinearCrossEntropy,
};
