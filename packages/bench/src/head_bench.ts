/**
 * `--op head`: one model.fit step of a language-model head, the way a tfjs
 * user writes it (tf.layers.dense to the logits [B, T, V], then
 * tf.losses.softmaxCrossEntropy against one-hot targets) against
 * linearCrossEntropyHead + headLoss, both after one dense layer D -> D over
 * the same hidden states [B, T, D], with SGD; peak memory is what the step allocates beyond the
 * inputs and weights (the naive model's one-hot targets, N×V floats, exist
 * before the step and are not counted).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {headLoss, linearCrossEntropyHead} from '@sluice/regularizers';

import {formatBytes, measure, MeasuredRow, ratioTable} from './measure';

export interface HeadShape {
  /** Sequences per batch and tokens per sequence: N = b·t. */
  b: number; t: number;
  d: number; v: number;
}

type HeadRow = MeasuredRow;

// The model's input is the hidden states themselves: the head is what is measured, not a trunk.
function trunk(shape: HeadShape) {
  const tokens = tfl.input({shape: [shape.t, shape.d]});
  const hidden = tfl.layers.dense({units: shape.d}).apply(tokens) as tfl.SymbolicTensor;
  return {tokens, hidden};
}

function naiveModel(shape: HeadShape) {
  const {tokens, hidden} = trunk(shape);
  const logits = tfl.layers.dense({units: shape.v}).apply(hidden) as tfl.SymbolicTensor;
  const model = tfl.model({inputs: tokens, outputs: logits});
  model.compile({optimizer: tf.train.sgd(0.1),
                 loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred)});
  return model;
}

function fusedModel(shape: HeadShape) {
  const {tokens, hidden} = trunk(shape);
  const labels = tfl.input({shape: [shape.t], dtype: 'int32'});
  const losses = linearCrossEntropyHead({units: shape.v}).apply([hidden, labels]) as tfl.SymbolicTensor;
  const model = tfl.model({inputs: [tokens, labels], outputs: losses});
  model.compile({optimizer: tf.train.sgd(0.1), loss: headLoss});
  return model;
}

export async function benchHead(shape: HeadShape, repeats: number, log: (s: string) => void): Promise<HeadRow[]> {
  const tokens = tf.randomNormal([shape.b, shape.t, shape.d], 0, 1, 'float32', 1);
  const labels = tf.randomUniform([shape.b, shape.t], 0, shape.v, 'int32', 2);
  const oneHot = tf.oneHot(labels, shape.v);
  const rows: HeadRow[] = [];
  const variants: Array<[string, () => tfl.LayersModel, (m: tfl.LayersModel) => Promise<unknown>]> = [
    ['naive (tf.layers.dense + tf.losses.softmaxCrossEntropy)', () => naiveModel(shape),
     m => m.trainOnBatch(tokens, oneHot)],
    ['linearCrossEntropyHead + headLoss', () => fusedModel(shape), m => m.trainOnBatch([tokens, labels], labels)],
  ];
  for (const [variant, build, step] of variants) {
    log(`  running ${variant} ...`);
    const model = build();
    const m = await measure(async () => {
      await step(model);
      return [];
    }, repeats);
    log(`    ${m.error ? `failed: ${m.error}` : `${m.ms.toFixed(0)} ms, peak ${formatBytes(m.peakBytes)}`}`);
    rows.push({variant, m});
    model.dispose();
  }
  tf.dispose([tokens, labels, oneHot]);
  return rows;
}

export function headTable(shape: HeadShape, rows: HeadRow[]): string {
  return ratioTable(rows, {timeHeader: 'one fit step', logitsBytes: shape.b * shape.t * shape.v * 4});
}
