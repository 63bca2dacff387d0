/**
 * Forward SluiceLinearCrossEntropy for tfjs-node's 'tensorflow' backend
 * (tfjs-node and tfjs-node-gpu): TensorFlow eager ops over vocabulary blocks.
 * Each block's logits live only while its max, argmax and Σexp are taken; the
 * per-block statistics ([N, 1] each) are merged once after the loop, so the
 * loop itself issues no [N]-sized bookkeeping ops.
 */
import {KernelConfig, KernelFunc, Tensor, TensorInfo, tidy} from '@tensorflow/tfjs-core';
import {SluiceLinearCrossEntropy, SluiceLinearCrossEntropyAttrs, SluiceLinearCrossEntropyInputs} from '@sluice/core';

import type {NodeJSKernelBackend} from '../internal';
import {TfOps} from '../tf_ops';

import {classifierBlock, concatBlocks, keptLabels, logitsAt, vocabBlocks, withBiasColumn} from './linear_cross_entropy_shared';

// A type, not an interface: tidy() takes it as a TensorContainer.
type BlockStats = {
  max: Tensor;     // [N, 1] block max of z
  argmax: Tensor;  // [N, 1] int32, vocabulary index of that max
  sumExp: Tensor;  // [N, 1] Σ exp(z − block max)
  sumZ?: Tensor;   // [N, 1] Σ z, only with a softcap
};

function blockStats(ops: TfOps, scaledE: Tensor, inputs: SluiceLinearCrossEntropyInputs, start: number, size: number,
                    softcap: number): BlockStats {
  const n = scaledE.shape[0];
  const {block, augmented} = classifierBlock(ops, inputs.classifier, inputs.bias, start, size);
  let z = ops.matMul(scaledE, augmented, false, true);
  block.dispose();
  augmented.dispose();
  if (softcap > 0) {
    // scaledE carries 1/softcap, so z holds x / softcap here.
    const t = ops.unary('Tanh', z);
    z.dispose();
    z = ops.withScalar('Mul', t, softcap);
    t.dispose();
  }
  const blockArgmax = ops.argMax(z, 1);
  const max = ops.gatherPerRow(z, blockArgmax);
  const shifted = ops.binary('Sub', z, max);
  const sumZ = softcap > 0 ? ops.reduce('Sum', z, [1], true) : undefined;
  z.dispose();
  const e = ops.unary('Exp', shifted);
  shifted.dispose();
  const sumExp = ops.reduce('Sum', e, [1], true);
  e.dispose();
  const argmax = ops.reshape(ops.withScalar('AddV2', blockArgmax, start), [n, 1]);
  return {max, argmax, sumExp, sumZ};
}

/** [1, D (+1)]: the classifier's mean row, and the mean bias as its last column. */
function columnMeans(ops: TfOps, classifier: TensorInfo, bias: TensorInfo|undefined): Tensor {
  const means = ops.reduce('Mean', classifier, [0], true);
  return bias == null ? means : ops.concat([means, ops.reshape(ops.reduce('Mean', bias, [0]), [1, 1])], 1);
}

export const sluiceLinearCrossEntropy: KernelFunc = ({inputs, backend, attrs}) => {
  const lceInputs = inputs as unknown as SluiceLinearCrossEntropyInputs;
  const {embeddings, classifier, labels, bias} = lceInputs;
  const {softcap, labelSmoothing: ls, zLoss, maxSup, ignoreIndex, vocabChunk} =
      attrs as unknown as SluiceLinearCrossEntropyAttrs;
  const ops = new TfOps(backend as NodeJSKernelBackend);
  const [n] = embeddings.shape;
  const v = classifier.shape[0];
  if (n === 0) {
    return [ops.fill([0], 0), ops.fill([0], 0), ops.fill([0], 0, 'int32')];
  }
  return tidy(() => {
    const scaledE = withBiasColumn(ops, embeddings, softcap > 0 ? 1 / softcap : 1, bias != null);
    const stats: BlockStats[] = [];
    for (const [start, size] of vocabBlocks(n, v, vocabChunk)) {
      stats.push(tidy(() => blockStats(ops, scaledE, lceInputs, start, size, softcap)));
    }
    const maxes = concatBlocks(ops, stats.map(s => s.max), 1);  // [N, blocks]
    const rowMax = ops.reduce('Max', maxes, [1], true);
    // ArgMax keeps the first block on ties, so the first index of the row maximum wins.
    const argmax = ops.gatherPerRow(concatBlocks(ops, stats.map(s => s.argmax), 1), ops.argMax(maxes, 1));
    const rescaled = ops.binary('Mul', concatBlocks(ops, stats.map(s => s.sumExp), 1),
                                ops.unary('Exp', ops.binary('Sub', maxes, rowMax)));
    const lse = ops.binary('AddV2', rowMax, ops.unary('Log', ops.reduce('Sum', rescaled, [1], true)));

    const {kept, safe} = keptLabels(ops, labels, ignoreIndex);
    const labelLogit = logitsAt(ops, embeddings, classifier, bias, safe, softcap);
    let loss = ops.binary('Sub', lse, ops.withScalar('Mul', labelLogit, 1 - ls));
    if (ls > 0 || maxSup > 0) {
      const rowMean = softcap > 0 ?
          ops.withScalar('Mul', ops.reduce('Sum', concatBlocks(ops, stats.map(s => s.sumZ!), 1), [1], true), 1 / v) :
          // Without a cap the mean is linear: [e | 1] · [mean(C) | mean(b)].
          ops.matMul(scaledE, columnMeans(ops, classifier, bias), false, true);
      loss = ops.binary('Sub', loss, ops.withScalar('Mul', rowMean, ls));
      if (maxSup > 0) {
        loss = ops.binary('AddV2', loss, ops.withScalar('Mul', ops.binary('Sub', rowMax, rowMean), maxSup));
      }
    }
    if (zLoss > 0) {
      loss = ops.binary('AddV2', loss, ops.withScalar('Mul', ops.unary('Square', lse), zLoss));
    }
    // select, not a multiply: 0 · NaN would turn an ignored token's 0 into NaN.
    const losses = ops.select(kept, ops.reshape(loss, [n]), ops.fill([], 0));
    return [losses, ops.reshape(lse, [n]), ops.reshape(argmax, [n])];
  });
};

export const sluiceLinearCrossEntropyConfig: KernelConfig = {
  kernelName: SluiceLinearCrossEntropy,
  backendName: 'tensorflow',
  kernelFunc: sluiceLinearCrossEntropy,
};
