// A user's TypeScript program, type-checked by scripts/real_client.mjs with
// `tsc --strict --noEmit` against the packed tarballs (module nodenext, so
// through their exports maps): every op, the head layer and the MoE layer,
// written as the READMEs show them, no casts. The MoE ops and top-1
// suppression are in program_moe_ops.ts, checked as its own spec.
import * as tf from '@tensorflow/tfjs';
import '@sluice/backend-cpu';
import {registerKernels, KERNEL_CONFIGS} from '@sluice/backend-cpu/base';
import {linearCrossEntropy, SLUICE_FORCE_COMPOSITE, SLUICE_WARN_COMPOSITE} from '@sluice/core';
import {mixtureOfExperts, moeCallback} from '@sluice/moe';
import {headLoss, linearCrossEntropyHead, linearSchedule, maxSupCrossEntropy, scheduleCallback,
        sparseCategoricalCrossEntropy} from '@sluice/regularizers';

registerKernels(KERNEL_CONFIGS);
tf.env().set(SLUICE_FORCE_COMPOSITE, false);
tf.env().set(SLUICE_WARN_COMPOSITE, true);

// Root README: the fused loss in a custom loop.
const hidden = tf.randomNormal([8, 16]);
const classifier = tf.variable(tf.randomNormal([100, 16], 0, 0.1));
const labels = tf.tensor1d([1, 5, 7, 99, 0, 3, -100, 42], 'int32');
const opt = tf.train.adam(1e-2);
opt.minimize(() => linearCrossEntropy(hidden, classifier, labels, {labelSmoothing: 0.1, maxSup: 0.1}));

// Core README: returnLse, and gradients.
const {loss, lse} = linearCrossEntropy(hidden, classifier, labels, {softcap: 30, zLoss: 1e-4, returnLse: true});
loss.print();
lse.print();
const dC: tf.Tensor = tf.grad(c => linearCrossEntropy(hidden, c, labels))(classifier);
const perToken: tf.Tensor = linearCrossEntropy(hidden, classifier, labels, {reduction: 'none'});
tf.dispose([dC, perToken]);

// Issue 14's patterns: tf.variableGrads, tf.variable / tf.randomNormal / TensorLike inputs, typed results.
const {value, grads} = tf.variableGrads(() => linearCrossEntropy(hidden, classifier, labels));
const lossValue: tf.Scalar = value;
const lossFromArrays: tf.Scalar = linearCrossEntropy([[0.5, -1], [2, 0]], [[1, 0], [0, 1], [1, 1]], [2, -100]);
const perToken1d: tf.Tensor1D = linearCrossEntropy(hidden, classifier, labels, {reduction: 'none'});
tf.dispose([lossValue, lossFromArrays, perToken1d, ...Object.values(grads)]);

// Core README: rank-3 hidden states, a dense kernel [D, V], shift, masking, extras, tf.Reduction.
const seq = tf.randomNormal([2, 5, 16]);
const seqTokens = tf.tensor2d([[3, 9, 1, 4, 4], [7, 0, 2, 2, 8]], [2, 5], 'int32');
const kernel = tf.variable(tf.randomNormal([16, 12], 0, 0.1));
const bias = tf.concat([tf.zeros([10]), tf.fill([2], -Infinity)]);
const classWeights = tf.tensor1d([1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0]);
const out = linearCrossEntropy(seq, kernel, seqTokens, {
  classifierLayout: 'dv', shift: true, bias, classWeights, labelSmoothing: 0.1, zLoss: 1e-4,
  returnZLoss: true, returnPredictions: true, returnAccuracy: true, returnEntropy: true,
});
const outLoss: tf.Scalar = out.loss, outPredictions: tf.Tensor2D = out.predictions;
const outAccuracy: tf.Scalar = out.accuracy, outEntropy: tf.Tensor2D = out.entropy, outZ: tf.Scalar = out.zLoss;
tf.dispose([outLoss, outPredictions, outAccuracy, outEntropy, outZ]);
const perPosition: tf.Tensor2D = linearCrossEntropy(seq, kernel, seqTokens, {classifierLayout: 'dv', reduction: 'none'});
perPosition.dispose();
const sgd = tf.train.sgd(0.1);
sgd.minimize(() => linearCrossEntropy(seq, kernel, seqTokens, {classifierLayout: 'dv', shift: true, bias,
                                                               reduction: tf.Reduction.MEAN}));

// Regularizers README: losses for model.compile, schedules, the fused head.
const alpha = linearSchedule(0.1, 0.2, 40);
const model = tf.sequential({layers: [
  tf.layers.dense({inputShape: [8], units: 16, activation: 'relu'}),
  tf.layers.dense({units: 5}),
]});
model.compile({optimizer: tf.train.adam(0.01), loss: maxSupCrossEntropy({alpha})});
const ce = sparseCategoricalCrossEntropy({labelSmoothing: 0.1, zLoss: 1e-4, ignoreIndex: -100});
ce(tf.tensor1d([0, -100], 'int32'), tf.tensor2d([[2, 0, 1, 0, 0], [0, 0, 0, 0, 3]])).print();
const callbacks = [scheduleCallback({alpha})];

const T = 6, V = 50, D = 16;
const tokens = tf.input({shape: [T], dtype: 'int32'});
const targets = tf.input({shape: [T], dtype: 'int32'});
const embedding = tf.layers.embedding({inputDim: V, outputDim: D});
const states = tf.layers.dense({units: D, activation: 'relu'}).apply(embedding.apply(tokens)) as tf.SymbolicTensor;
const head = linearCrossEntropyHead({tiedTo: embedding, labelSmoothing: 0.1});
const lm = tf.model({inputs: [tokens, targets], outputs: head.apply([states, targets]) as tf.SymbolicTensor});
lm.compile({optimizer: tf.train.adam(1e-2), loss: headLoss});
const untied = linearCrossEntropyHead({units: V, useBias: false, maxSup: 0.1});
void untied;

// MoE README: the layer in a sequential model, with its callback.
const moeModel = tf.sequential({layers: [
  tf.layers.dense({inputShape: [16], units: 32, activation: 'tanh'}),
  mixtureOfExperts({numExperts: 8, topK: 2, units: 32, hiddenUnits: 64,
                    balance: {auxLoss: 0.01, routerZLoss: 1e-3, biasUpdateRate: 1e-3}}),
  tf.layers.dense({units: 1}),
]});
moeModel.compile({optimizer: 'adam', loss: 'meanSquaredError'});
const moeCallbacks = [moeCallback(moeModel, {onMetrics: (step, m) => console.log(step, m.load, m.maxViolation)})];

export {callbacks, moeCallbacks};
