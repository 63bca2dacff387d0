// The core README's top-1 suppression and sparse expert dispatch as a user's
// strict TypeScript writes them (scripts/real_client.mjs type-checks it with
// program.ts, as its own spec): tf.randomNormal inputs, no casts.
import * as tf from '@tensorflow/tfjs';
import '@sluice/backend-cpu';
import {expertCombine, expertDispatch, groupedMatMul, routeTopK, topOneSuppression} from '@sluice/core';

// Core README: top-1 suppression and sparse expert dispatch.
topOneSuppression(tf.randomNormal([4, 100]), 0.1).print();
const x = tf.randomNormal([8, 16]), logits = tf.randomNormal([8, 4]);
const w1 = tf.randomNormal([4, 16, 32]), w2 = tf.randomNormal([4, 32, 16]);
const {expertIndices, gates} = routeTopK(logits, 2);
const d = expertDispatch(x, expertIndices, 4, {capacity: 5});
const h = tf.relu(groupedMatMul(d.dispatched, w1, d.expertOffsets));
const y: tf.Tensor2D = expertCombine(groupedMatMul(h, w2, d.expertOffsets), d.sourceRows, gates);
y.print();
