/**
 * `npm run study:maxsup`: plain cross-entropy vs label smoothing vs MaxSup on
 * a generated 10-class problem whose classes are each a mixture of 3 Gaussian
 * sub-clusters in 32-D (so intra-class diversity exists to be kept or lost).
 * Same data, network, seeds and steps for all three; reports test accuracy
 * and the statistics the MaxSup paper looks at: the gap between the top-1
 * and the mean logit, and the intra-class spread of penultimate features
 * relative to the distance between class centroids.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {linearSchedule, maxSupCrossEntropy, scheduleCallback, sparseCategoricalCrossEntropy} from '@sluice/regularizers';

const CLASSES = 10, SUB = 3, DIM = 32, TRAIN = 2000, TEST = 4000, EPOCHS = 30, BATCH = 100, NOISE = 2.2;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number) {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function makeData(seed: number) {
  const rand = rng(seed);
  const centers = Array.from({length: CLASSES * SUB}, () => Array.from({length: DIM}, () => 1.2 * gaussian(rand)));
  const sample = (count: number, r: () => number) => {
    const x = new Float32Array(count * DIM), y = new Int32Array(count);
    for (let i = 0; i < count; ++i) {
      const c = Math.floor(r() * CLASSES), s = Math.floor(r() * SUB);
      y[i] = c;
      for (let k = 0; k < DIM; ++k) x[i * DIM + k] = centers[c * SUB + s][k] + NOISE * gaussian(r);
    }
    return {x: tf.tensor2d(x, [count, DIM]), y: tf.tensor1d(y, 'int32'), labels: y};
  };
  return {train: sample(TRAIN, rng(seed + 1)), test: sample(TEST, rng(seed + 2))};
}

async function run(name: string, data: ReturnType<typeof makeData>, makeLoss: () => {
  loss: tfl.LayersModel['loss'] | ((a: tf.Tensor, b: tf.Tensor) => tf.Tensor), callbacks: tfl.CustomCallback[]}) {
  const features = tfl.sequential({layers: [
    tfl.layers.dense({inputShape: [DIM], units: 64, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({seed: 1})}),
    tfl.layers.dense({units: 32, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({seed: 2})}),
  ]});
  const head = tfl.layers.dense({units: CLASSES, kernelInitializer: tfl.initializers.glorotUniform({seed: 3})});
  const model = tfl.sequential({layers: [features, head]});
  const {loss, callbacks} = makeLoss();
  model.compile({optimizer: tf.train.adam(3e-3), loss: loss as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor});
  const oneHot = tf.oneHot(data.train.y, CLASSES);
  await model.fit(data.train.x, oneHot, {epochs: EPOCHS, batchSize: BATCH, verbose: 0, shuffle: false, callbacks});
  oneHot.dispose();
  const stats = tf.tidy(() => {
    const feats = features.predict(data.test.x) as tf.Tensor2D;
    const logits = head.apply(feats) as tf.Tensor2D;
    const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), data.test.y), 'float32'));
    const gap = tf.mean(tf.sub(tf.max(logits, 1), tf.mean(logits, 1)));
    // Intra-class spread: mean distance to the class centroid / mean distance between centroids.
    const oh = tf.cast(tf.oneHot(data.test.y, CLASSES), 'float32');
    const centroids = tf.div(tf.matMul(oh, feats, true, false), tf.expandDims(tf.sum(oh, 0), 1));
    const own = tf.matMul(oh, centroids);
    const intra = tf.mean(tf.norm(tf.sub(feats, own), 'euclidean', 1));
    const diff = tf.sub(tf.expandDims(centroids, 0), tf.expandDims(centroids, 1));
    const inter = tf.div(tf.sum(tf.norm(diff, 'euclidean', 2)), CLASSES * (CLASSES - 1));
    return tf.stack([acc, gap, tf.div(intra, inter)]);
  });
  const [acc, gap, spread] = Array.from(await stats.data());
  stats.dispose();
  model.dispose();
  return {name, acc, gap, spread};
}

async function main() {
  await tf.setBackend('cpu');
  const data = makeData(7);
  const steps = EPOCHS * Math.ceil(TRAIN / BATCH);
  console.log(`MaxSup study: ${CLASSES} classes × ${SUB} sub-clusters in ${DIM}-D, ${TRAIN} train / ${TEST} test, ` +
              `noise σ ${NOISE}, MLP 32→64→32→10, Adam 3e-3, ${EPOCHS} epochs, backend '${tf.getBackend()}'`);
  const rows = [];
  rows.push(await run('cross-entropy', data, () => ({loss: sparseCategoricalCrossEntropy(), callbacks: []})));
  rows.push(await run('label smoothing 0.1', data,
                      () => ({loss: sparseCategoricalCrossEntropy({labelSmoothing: 0.1}), callbacks: []})));
  rows.push(await run('MaxSup α 0.1→0.2', data, () => {
    const alpha = linearSchedule(0.1, 0.2, steps);
    return {loss: maxSupCrossEntropy({alpha}), callbacks: [scheduleCallback(alpha)]};
  }));
  console.log('\n| loss | test accuracy | top-1 − mean logit | intra-class spread / centroid distance |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${(100 * r.acc).toFixed(1)}% | ${r.gap.toFixed(2)} | ${r.spread.toFixed(3)} |`);
  }
  process.exit(0);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
