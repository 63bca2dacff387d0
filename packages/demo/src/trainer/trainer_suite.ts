/**
 * The trainer's pieces, without running a full training: flag parsing and
 * its errors, checkpoints (round trip, atomic replace, corrupt and missing
 * files), the tokenizer and its unigram baseline, and a few steps of the
 * model lowering its loss without leaking tensors; determinism (same seed,
 * same loss curve) and resuming after an interrupted checkpoint write.
 */
import * as tf from '@tensorflow/tfjs-core';
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {parseTrainerArgs} from './args';
import {readCheckpoint, writeCheckpoint} from './checkpoint';
import {UsageError} from './corpus';
import {ModelConfig, TinyMoELM} from './model';
import {rng, sampleBatch, tokenize, unigramEntropy, Vocabulary} from './tokenizer';

/** node:fs itself (not esbuild's namespace copy), so a spec can make its writeSync fail. */
const fs = require('node:fs') as typeof import('node:fs');

const RUN_CONFIG: ModelConfig = {vocab: 13, dim: 8, layers: 1, context: 6, experts: 2, topK: 1, hidden: 8};
const RUN_IDS = Int32Array.from({length: 400}, (_, i) => (i * 7) % 13);

/**
 * A short training run as `npm start` does it (main.ts): model and batch
 * order from the seed, Adam, the fused loss with MaxSup, checkpoints holding
 * every weight (MoE selection bias included) and Adam's state.
 */
class TrainerRun {
  readonly model: TinyMoELM;
  readonly optimizer = tf.train.adam(0.03);
  readonly losses: number[] = [];
  step = 0;

  /** `seed` initialises the model; `batchSeed` (default: the same) orders the batches. */
  constructor(seed: number, readonly batchSeed = seed) {
    this.model = new TinyMoELM(RUN_CONFIG, seed);
  }

  async train(toStep: number) {
    const vars = this.model.trainableVariables();
    while (this.step < toStep) {
      ++this.step;
      const b = sampleBatch(RUN_IDS, 4, RUN_CONFIG.context, rng(this.batchSeed * 1_000_003 + this.step));
      const loss = this.optimizer.minimize(() => this.model.loss(tf.tensor1d(b.inputs, 'int32'),
                                                                 tf.tensor1d(b.targets, 'int32'), 4, 0.1, true).total,
                                           true, vars)!;
      this.model.moe.forEach(m => m.endStep());
      this.losses.push((await loss.data())[0]);
      loss.dispose();
    }
  }

  async save(file: string) {
    const weights = await Promise.all(this.model.namedWeights().map(async ({name, variable}) =>
        ({name, shape: variable.shape, values: await variable.data() as Float32Array})));
    const slots = await this.optimizer.getWeights();
    const optimizer = await Promise.all(slots.map(async w => ({name: w.name, shape: w.tensor.shape,
                                                               values: await w.tensor.data() as Float32Array})));
    // getWeights makes a new int32 scalar for the step count (the moments are the optimizer's own variables).
    tf.dispose(slots.filter(w => !(w.tensor instanceof tf.Variable)).map(w => w.tensor));
    writeCheckpoint(file, {step: this.step, config: {...RUN_CONFIG}, vocabulary: [], history: {losses: this.losses}},
                    weights, optimizer);
  }

  /** As `--resume`: every weight and Adam's state from the file, then the step and the curve so far. */
  async restore(file: string) {
    const ck = readCheckpoint(file);
    const byName = new Map(ck.weights.map(w => [w.name, w]));
    for (const {name, variable} of this.model.namedWeights()) {
      const w = byName.get(name)!;
      expect(w).withContext(`checkpoint weight ${name}`).toBeDefined();
      tf.tidy(() => variable.assign(tf.tensor(w.values, w.shape)));
    }
    const slots = ck.optimizer.map(o => ({name: o.name, tensor: tf.tensor(o.values, o.shape)}));
    await this.optimizer.setWeights(slots);
    tf.dispose(slots.map(s => s.tensor));  // setWeights makes variables of its own from them
    this.step = ck.step;
    this.losses.splice(0, this.losses.length, ...(ck.history as {losses: number[]}).losses);
  }

  dispose() {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

async function lossCurve(seed: number, steps: number): Promise<number[]> {
  const run = new TrainerRun(seed);
  try {
    await run.train(steps);
    return run.losses;
  } finally {
    run.dispose();
  }
}

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

    it('the same seed gives the same loss curve on cpu, bit for bit; another seed another curve', async () => {
      await tf.ready();
      expect(tf.getBackend()).toBe('cpu');
      const a = await lossCurve(11, 12), b = await lossCurve(11, 12), c = await lossCurve(12, 12);
      expect(a.length).toBe(12);
      expect(a.every(Number.isFinite)).toBe(true);
      expect(b).toEqual(a);
      expect(c.some((l, i) => l !== a[i])).withContext(`seed 12 ${c} vs seed 11 ${a}`).toBe(true);
      expect(c[0]).not.toBe(a[0]);  // another initialisation and other batches from the very first step
    });

    it('an interrupted checkpoint write leaves the previous checkpoint loadable, and resuming continues the curve',
       async () => {
         const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ckpt-'));
         const file = path.join(dir, 'run.bin');
         const leftovers = () => readdirSync(dir).filter(n => n !== 'run.bin');
         const tensorsBefore = tf.memory().numTensors;
         const runs: TrainerRun[] = [];
         try {
           const reference = await lossCurve(21, 8);  // never interrupted

           const first = new TrainerRun(21);
           runs.push(first);
           await first.train(4);
           await first.save(file);
           const good = readFileSync(file);
           // Adam's iteration count is an int32 tensor: it must come back as 4, not as the float32 of its bits.
           expect(readCheckpoint(file).optimizer[0].values[0]).toBe(4);
           // A process killed mid-write earlier left a truncated temporary (pid 2^30: no such process).
           writeFileSync(`${file}.tmp-1073741824`, good.subarray(0, 100));
           await first.train(8);

           // The disk fills up half way through the tensor data of the step-8 checkpoint.
           const realWrite = fs.writeSync;
           let calls = 0;
           spyOn(fs, 'writeSync').and.callFake(((...args: Parameters<typeof fs.writeSync>) => {
             if (++calls === 5) {
               throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'});
             }
             return (realWrite as (...a: unknown[]) => number)(...args);
           }) as typeof fs.writeSync);
           await expectAsync(first.save(file)).toBeRejectedWithError(/ENOSPC/);
           (fs.writeSync as jasmine.Spy).and.callThrough();
           expect(calls).toBe(5);
           expect(readFileSync(file).equals(good)).withContext('the step-4 checkpoint is byte for byte intact').toBe(true);
           expect(readCheckpoint(file).step).toBe(4);
           // The failed write removed its own temporary; the dead process's one is still there.
           expect(leftovers()).toEqual(['run.bin.tmp-1073741824']);

           // A short write (fewer bytes than asked, as writeSync may do) must not truncate the checkpoint.
           let shortened = false;
           (fs.writeSync as jasmine.Spy).and.callFake((fd: number, buffer: Uint8Array, offset?: number, length?: number) => {
             const start = offset ?? 0, count = length ?? buffer.length - start;
             if (!shortened && count > 64) {
               shortened = true;
               return realWrite(fd, buffer, start, Math.floor(count / 2));
             }
             return realWrite(fd, buffer, start, count);
           });
           const scratch = path.join(dir, 'short.bin');
           await first.save(scratch);
           (fs.writeSync as jasmine.Spy).and.callThrough();
           expect(shortened).toBe(true);
           expect(readCheckpoint(scratch).step).toBe(8);
           rmSync(scratch);
           first.dispose();  // the process 'died' (variable names are global: one model at a time)
           runs.pop();

           // Resume into a model initialised from another seed (99): every weight must come from the file.
           // Batches follow the run's seed (21), as main.ts's do.
           const other = new TrainerRun(99, 21);
           runs.push(other);
           await other.restore(file);
           expect(other.step).toBe(4);
           expect(other.losses).toEqual(reference.slice(0, 4));
           await other.train(8);
           expect(other.losses.slice(0, 4)).toEqual(reference.slice(0, 4));
           // Bit for bit: the weights, Adam's moments and its step count all come back exactly (the bias
           // corrections β^t are recomputed as pow() instead of running products, which happens to agree here).
           expect(other.losses.slice(4)).toEqual(reference.slice(4));
           console.log(`\n[checkpoint] uninterrupted steps 5-8: ${reference.slice(4).join(', ')}; resumed from step 4: ` +
                       `${other.losses.slice(4).join(', ')}`);

           // The next successful write replaces the checkpoint and clears the dead writer's temporary.
           await other.save(file);
           expect(readCheckpoint(file).step).toBe(8);
           expect(leftovers()).toEqual([]);
           expect(existsSync(file)).toBe(true);
         } finally {
           runs.forEach(r => r.dispose());
           rmSync(dir, {recursive: true, force: true});
         }
         expect(tf.memory().numTensors).toBe(tensorsBefore);
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
