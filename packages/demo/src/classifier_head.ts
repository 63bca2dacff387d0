/**
 * `npm start` (for now): trains a softmax classifier head with the fused
 * linearCrossEntropy on synthetic data and prints the loss falling. The
 * hidden states come from per-class centres plus noise, so a linear head can
 * learn them; the loss starts near ln V and should fall well below it.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy} from '@sluice/core';

const N = 4096, D = 64, V = 2000, BATCH = 512, EPOCHS = 6;

function syntheticData() {
  return tf.tidy(() => {
    const centres = tf.randomNormal([V, D], 0, 1, 'float32', 7);
    const labels = tf.randomUniform([N], 0, V, 'int32', 8) as tf.Tensor1D;
    const hidden = tf.add(tf.gather(centres, labels), tf.randomNormal([N, D], 0, 0.7, 'float32', 9)) as tf.Tensor2D;
    return {hidden, labels};
  });
}

async function main() {
  await tf.setBackend('cpu');
  const {hidden, labels} = syntheticData();
  // tf.variable keeps its initial tensor alive as a second handle: make it inside a tidy.
  const classifier = tf.tidy(() => tf.variable(tf.randomNormal([V, D], 0, 0.02, 'float32', 10), true, 'classifier'));
  const bias = tf.tidy(() => tf.variable(tf.zeros([V]), true, 'bias'));
  const optimizer = tf.train.adam(0.02);
  console.log(`classifier head: N=${N} D=${D} V=${V}, batch ${BATCH}, backend '${tf.getBackend()}'`);
  console.log(`uniform guess loss ln V = ${Math.log(V).toFixed(3)}`);
  for (let epoch = 1; epoch <= EPOCHS; ++epoch) {
    let total = 0;
    const started = performance.now();
    for (let start = 0; start < N; start += BATCH) {
      const loss = optimizer.minimize(() => tf.tidy(() => {
        const e = tf.slice(hidden, [start, 0], [BATCH, D]) as tf.Tensor2D;
        const y = tf.slice(labels, [start], [BATCH]) as tf.Tensor1D;
        return linearCrossEntropy(e, classifier as tf.Tensor2D, y,
                                  {bias: bias as tf.Tensor1D, labelSmoothing: 0.05, maxSup: 0.05}) as tf.Scalar;
      }), true)!;
      total += (await loss.data())[0];
      loss.dispose();
    }
    const secs = (performance.now() - started) / 1000;
    console.log(`epoch ${epoch}: mean loss ${(total / (N / BATCH)).toFixed(3)}  (${(N / secs).toFixed(0)} tokens/s)`);
  }
  const accuracy = tf.tidy(() => {
    const logits = tf.add(tf.matMul(hidden, classifier, false, true), bias);
    return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')).dataSync()[0];
  });
  console.log(`training accuracy ${(100 * accuracy).toFixed(1)}% (chance ${(100 / V).toFixed(2)}%)`);
  tf.dispose([hidden, labels, classifier, bias]);
  optimizer.dispose();
  console.log(`tensors alive at exit: ${tf.memory().numTensors}`);
}

main().then(() => process.exit(0), err => {
  console.error(err);
  process.exit(1);
});
