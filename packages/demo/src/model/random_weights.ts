/**
 * Test helper: every weight of a model set to seeded random values (norm
 * weights near 1, biases non-zero), so no part of the model is a no-op when
 * its outputs are compared with a reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import {seededRandom, uniformArray} from '@sluice/core/testing';

import {MoECausalLM} from './causal_lm';

/** `selectionBias: false` leaves the MoE selection bias at zero (what a Mixtral export requires). */
export function randomizeWeights(model: MoECausalLM, seed: number, {selectionBias = true} = {}) {
  const rand = seededRandom(seed);
  for (const {name, variable} of model.namedWeights()) {
    if (!selectionBias && /selection_bias$/.test(name)) continue;
    const base = /norm\.weight$/.test(name) ? 1 : 0;
    const scale = /selection_bias$/.test(name) ? 0.3 : /norm\.weight$/.test(name) ? 0.3 : 0.6;
    const values = uniformArray(rand, variable.size, -scale, scale).map(v => v + base);
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
  }
}
