/**
 * Save/load of a model holding the MoE layer through the browser's
 * indexeddb:// handler: weights, the balancing bias and the config survive.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {BROWSER_ENVS, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {mixtureOfExperts, MixtureOfExperts} from '../mixture_of_experts';

export function describeMoeIndexedDbRoundTrip() {
  describeWithFlags('mixtureOfExperts in IndexedDB (indexeddb://)', BROWSER_ENVS, env => {
    it('model.save / loadLayersModel keep outputs and the selection bias', async () => {
      const url = `indexeddb://sluice-moe-test-${env.name}`;
      const model = tfl.sequential({layers: [
        mixtureOfExperts({inputShape: [5], numExperts: 3, topK: 2, units: 4, hiddenUnits: 6, seed: 12,
                          balance: {biasUpdateRate: 0.05}}),
      ]});
      const x = tf.randomNormal([10, 5], 0, 1, 'float32', 5);
      for (let i = 0; i < 3; ++i) {
        tf.tidy(() => void model.apply(x, {training: true}));
        (model.layers[0] as MixtureOfExperts).endStep();  // one optimizer step per call: the bias moves
      }
      await model.save(url);
      const loaded = await tfl.loadLayersModel(url);
      const a = model.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      const bias = await (model.layers[0] as MixtureOfExperts).selectionBiasValues();
      expect(bias.some(v => v !== 0)).toBe(true);
      expect(Array.from(await (loaded.layers[0] as MixtureOfExperts).selectionBiasValues())).toEqual(Array.from(bias));
      await tf.io.removeModel(url);
      tf.dispose([x, a, b]);
      model.dispose();
      loaded.dispose();
    });
  });
}
