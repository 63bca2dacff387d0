/**
 * The trainer's pieces, without running a full training: flag parsing and
 * its errors, checkpoints (round trip, atomic replace, corrupt and missing
 * files), the tokenizer and its unigram baseline, and a few steps of the
 * model lowering its loss without leaking tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {parseTrainerArgs} from './args';
import {readCheckpoint, writeCheckpoint} from './checkpoint';
import {UsageError} from './corpus';
import {TinyMoELM} from './model';
import {rng, sampleBatch, tokenize, unigramEntropy, Vocabulary} from './tokenizer';

export function describeTrainer() {
  describe('trainer (npm start)', () => {
    it('parses flags and rejects bad ones with the flag named', () => {
      const a = parseTrainerArgs(['--steps', '12', '--lr=0.01', '--resume']);
      expect(a === 'help' ? null : [a.steps, a.lr, a.resume, a.backend]).toEqual([12, 0.01, true, 'auto']);
      expect(parseTrainerArgs(['--help'])).toBe('help');
      const bad: Array<[string[], RegExp]> = [
        [['--steps', '0'], /--steps must be >= 1, got 0/],
        [['--steps', '2.5'], /--steps must be an integer, got 2.5/],
        [['--lr', 'fast'], /--lr must be a number, got 'fast'/],
        [['--backend', 'tpu'], /--backend must be one of auto, tensorflow, cpu, got 'tpu'/],
        [['--top-k', '5', '--experts', '4'], /--top-k must be <= --experts \(4\), got 5/],
        [['--batches', '3'], /unknown argument '--batches'/],
        [['--steps'], /--steps needs a value/],
      ];
      for (const [argv, message] of bad) {
        expect(() => parseTrainerArgs(argv)).toThrowMatching(
            e => e instanceof UsageError && message.test((e as Error).message));
      }
    });

    it('checkpoints round-trip, replace atomically, and corrupt or missing ones fail clearly', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ckpt-'));
      try {
        const file = path.join(dir, 'ck.bin');
        const weights = [{name: 'w', shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6])}];
        const opt = [{name: 'w/m', shape: [2, 3], values: new Float32Array(6).fill(0.5)}];
        writeCheckpoint(file, {step: 7, config: {dim: 3}, vocabulary: ['<unk>', 'a'], history: {x: 1}}, weights, opt);
        const back = readCheckpoint(file);
        expect([back.step, back.config.dim, back.vocabulary, Array.from(back.weights[0].values),
                Array.from(back.optimizer[0].values)])
            .toEqual([7, 3, ['<unk>', 'a'], [1, 2, 3, 4, 5, 6], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]);
        // A write that died half way leaves only a temporary file: the checkpoint still loads.
        writeFileSync(`${file}.tmp-12345`, readFileSync(file).subarray(0, 20));
        expect(readCheckpoint(file).step).toBe(7);
        writeFileSync(path.join(dir, 'cut.bin'), readFileSync(file).subarray(0, readFileSync(file).length - 8));
        expect(() => readCheckpoint(path.join(dir, 'cut.bin'))).toThrowError(UsageError, /is corrupt \(data of 'w/);
        writeFileSync(path.join(dir, 'junk.bin'), 'not a checkpoint at all');
        expect(() => readCheckpoint(path.join(dir, 'junk.bin'))).toThrowError(UsageError, /not a sluice checkpoint/);
        expect(() => readCheckpoint(path.join(dir, 'none.bin'))).toThrowError(UsageError, /no checkpoint at/);
      } finally {
        rmSync(dir, {recursive: true, force: true});
      }
    });

    it('tokenizes words and punctuation; the unigram baseline of a uniform stream is ln V', () => {
      expect(tokenize('Call me Ishmael. It’s fine—really!')).toEqual(
          ['call', 'me', 'ishmael', '.', 'it\'s', 'fine', '—', 'really', '!']);
      const v = Vocabulary.build(['b', 'a', 'b', 'c', 'b', 'a'], 3);
      expect(v.words).toEqual(['<unk>', 'b', 'a']);
      expect(Array.from(v.encode(['a', 'c', 'b']))).toEqual([2, 0, 1]);
      expect(unigramEntropy(Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]), 4)).toBeCloseTo(Math.log(4), 12);
    });

    it('a few steps of the MoE language model lower its loss and leak nothing', async () => {
      const ids = Int32Array.from({length: 400}, (_, i) => (i * 7) % 13);  // a periodic stream: learnable
      const model = new TinyMoELM({vocab: 13, dim: 8, layers: 1, context: 6, experts: 2, topK: 1, hidden: 8}, 3);
      const opt = tf.train.adam(0.03);
      const vars = model.trainableVariables();
      const before = tf.memory().numTensors;
      const losses: number[] = [];
      for (let step = 0; step < 30; ++step) {
        const b = sampleBatch(ids, 4, 6, rng(step + 1));
        const loss = opt.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'), 4,
                                                   0.1, true).total, true, vars)!;
        losses.push((await loss.data())[0]);
        loss.dispose();
        if (step === 0) expect(tf.memory().numTensors).toBeGreaterThan(before);  // Adam's slots appear
      }
      const settled = tf.memory().numTensors;
      const b = sampleBatch(ids, 4, 6, rng(99));
      tf.dispose(opt.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'), 4, 0.1,
                                               true).total, true, vars) ?? []);
      expect(tf.memory().numTensors).toBe(settled);
      expect(losses[losses.length - 1]).toBeLessThan(losses[0] - 0.5);
      opt.dispose();
      model.dispose();
    });
  });
}
