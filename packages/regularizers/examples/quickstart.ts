// The README's example, runnable from the repo root:
//   node scripts/run_ts.mjs packages/regularizers/examples/quickstart.ts
import * as tf from '@tensorflow/tfjs';
import '@sluice/backend-cpu';  // optional: sluice's CPU kernels (without it, a composite of tfjs ops runs)
import {linearSchedule, maxSupCrossEntropy, scheduleCallback, sparseCategoricalCrossEntropy} from '@sluice/regularizers';

async function main() {
  await tf.setBackend('cpu');

  // 1. model.compile: yPred are logits (no softmax layer), yTrue one-hot.
  //    MaxSup's α rises from 0.1 to 0.2 over the 40 optimizer steps of this fit.
  const alpha = linearSchedule(0.1, 0.2, 40);
  const model = tf.sequential({layers: [
    tf.layers.dense({inputShape: [8], units: 16, activation: 'relu'}),
    tf.layers.dense({units: 5}),
  ]});
  model.compile({optimizer: tf.train.adam(0.01), loss: maxSupCrossEntropy({alpha})});
  const xs = tf.randomNormal([64, 8], 0, 1, 'float32', 1);
  const ids = tf.argMax(tf.matMul(xs, tf.randomNormal([8, 5], 0, 1, 'float32', 2)), 1);
  const ys = tf.oneHot(ids, 5);
  const history = await model.fit(xs, ys, {epochs: 4, batchSize: 8, verbose: 0, callbacks: [scheduleCallback({alpha})]});
  console.log('loss per epoch ', (history.history.loss as number[]).map(l => l.toFixed(3)).join(' '));
  console.log('alpha per epoch', (history.history.alpha as number[]).map(a => a.toFixed(3)).join(' '));

  // 2. Custom loop: int32 class ids, per-sample losses [batch].
  const ce = sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 1e-4, ignoreIndex: -100});
  const logits = tf.tensor2d([[2, 0, 1, 0, 0], [0, 0, 0, 0, 3]]);
  ce(tf.tensor1d([0, -100], 'int32'), logits).print();  // the second sample is ignored: 0

  // 3. Fused: from hidden states [N, D] and the classifier [V, D]; the [N, V] logits are never built.
  const hidden = tf.randomNormal([6, 8], 0, 1, 'float32', 3) as tf.Tensor2D;
  const classifier = tf.randomNormal([5, 8], 0, 1, 'float32', 4) as tf.Tensor2D;
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
  const maxSup = maxSupCrossEntropy({alpha: 0.1});
  maxSup.fused(hidden, classifier, labels, {bias: tf.zeros([5])}).print();  // scalar: the mean
  // Same value through the logits, for comparison:
  tf.mean(maxSup(labels, tf.matMul(hidden, classifier, false, true))).print();
}

main();
