/**
 * A tied linearCrossEntropyHead through tfjs-node's file:// handler (Node
 * only): model.json names the embedding, weights.bin holds its matrix once,
 * and the loaded head reads the loaded embedding (a fit step moves both).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {headLoss} from '../head_loss';
import {LinearCrossEntropyHead, linearCrossEntropyHead} from '../linear_cross_entropy_head';

type FileSystemHandler = (p: string) => tf.io.IOHandler;

/** `fileSystem` is tfjs-node's `tf.io.fileSystem`, passed in so this file does not load the native addon. */
export function describeHeadFileRoundTrip(fileSystem: FileSystemHandler) {
  describe('linearCrossEntropyHead on disk (file://, tfjs-node)', () => {
    it('a tied head stays tied through model.save / loadLayersModel', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-head-'));
      const isTest = tf.env().getBool('IS_TEST');
      tf.env().set('IS_TEST', false);  // tfjs-node's fused matMul trips the per-kernel data-id check
      try {
        const tokens = tfl.input({shape: [4], dtype: 'int32'});
        const labels = tfl.input({shape: [4], dtype: 'int32'});
        const embedding = tfl.layers.embedding({inputDim: 9, outputDim: 3, name: 'tok_embed'});
        const hidden = tfl.layers.dense({units: 3}).apply(embedding.apply(tokens)) as tfl.SymbolicTensor;
        const losses = linearCrossEntropyHead({tiedTo: embedding, zLoss: 1e-3}).apply([hidden, labels]);
        const model = tfl.model({inputs: [tokens, labels], outputs: losses as tfl.SymbolicTensor});
        await model.save(fileSystem(dir));
        const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
        expect(JSON.stringify(json.modelTopology)).toContain('"tied_to":{"name":"tok_embed"}');
        const specs = json.weightsManifest.flatMap((g: {weights: Array<{name: string}>}) => g.weights.map(w => w.name));
        expect(specs.filter((n: string) => n.includes('tok_embed')).length).toBe(1);
        const loaded = await tfl.loadLayersModel(fileSystem(path.join(dir, 'model.json')));
        const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'int32');
        const y = tf.tensor2d([2, 3, 4, -100, 6, 7, 8, 0], [2, 4], 'int32');
        const a = model.predict([x, y]) as tf.Tensor, b = loaded.predict([x, y]) as tf.Tensor;
        expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
        loaded.compile({optimizer: tf.train.sgd(0.5), loss: headLoss});
        await loaded.fit([x, y], y, {epochs: 1, verbose: 0});
        const head = loaded.layers.find(l => l instanceof LinearCrossEntropyHead) as LinearCrossEntropyHead;
        const trained = loaded.getLayer('tok_embed').getWeights()[0];
        expect(Array.from(await head.classifierValue().data())).toEqual(Array.from(await trained.data()));
        expect(Array.from(await trained.data())).not.toEqual(Array.from(await embedding.getWeights()[0].data()));
        tf.dispose([x, y, a, b]);
        model.dispose();
        loaded.dispose();
      } finally {
        tf.env().set('IS_TEST', isTest);
        rmSync(dir, {recursive: true, force: true});
      }
    });
  });
}
