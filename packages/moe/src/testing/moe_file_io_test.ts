/**
 * Save/load of a model holding the MoE layer through tfjs-node's file://
 * handler (Node only): weights, the balancing bias and the layer config
 * round-trip through model.json and weights.bin on disk.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {mixtureOfExperts, MixtureOfExperts} from '../mixture_of_experts';

type FileSystemHandler = (p: string) => tf.io.IOHandler;

/** `fileSystem` is tfjs-node's `tf.io.fileSystem`, passed in so this file does not load the native addon. */
export function describeMoeFileRoundTrip(fileSystem: FileSystemHandler) {
  describe('mixtureOfExperts on disk (file://, tfjs-node)', () => {
    it('model.save / loadLayersModel keep outputs, config and the selection bias', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-moe-'));
      try {
        const model = tfl.sequential({layers: [
          mixtureOfExperts({inputShape: [6], numExperts: 4, topK: 2, units: 3, hiddenUnits: 5, router: 'topk',
                            activation: 'swiglu', sharedExperts: 1, seed: 9, balance: {biasUpdateRate: 0.05}}),
        ]});
        const x = tf.randomNormal([16, 6], 0, 1, 'float32', 3);
        for (let i = 0; i < 4; ++i) {
          tf.tidy(() => void model.apply(x, {training: true}));
          (model.layers[0] as MixtureOfExperts).endStep();  // one optimizer step per call: the bias moves
        }
        await model.save(fileSystem(dir));
        const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
        expect(JSON.stringify(json.modelTopology)).toContain('SluiceMixtureOfExperts');
        const loaded = await tfl.loadLayersModel(fileSystem(path.join(dir, 'model.json')));
        const a = model.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
        expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
        const before = await (model.layers[0] as MixtureOfExperts).selectionBiasValues();
        expect(before.some(v => v !== 0)).toBe(true);
        expect(Array.from(await (loaded.layers[0] as MixtureOfExperts).selectionBiasValues())).toEqual(Array.from(before));
        expect((loaded.layers[0] as MixtureOfExperts).moe.activation).toBe('swiglu');
        tf.dispose([x, a, b]);
        model.dispose();
        loaded.dispose();
      } finally {
        rmSync(dir, {recursive: true, force: true});
      }
    });
  });
}
