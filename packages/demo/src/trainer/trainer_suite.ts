/**
 * The trainer's pieces, without running a full training: flags and their
 * errors; the model config and its errors; the model's parts (RMSNorm, RoPE,
 * grouped-query attention, router and MoE block) and the whole Mixtral and
 * Glm4Moe models against a float64 reference in plain loops; gradients
 * against finite differences of that reference; the GPT-2 tokenizer and its
 * cache; checkpoints (round trip, atomic replace, corrupt, missing and
 * old-format files); determinism, resuming after an interrupted write, and
 * leak-free training steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {expectClose, seededRandom, uniformArray} from '@sluice/core/testing';

import {groupedQueryAttention, causalMask} from '../model/attention';
import {MoECausalLM} from '../model/causal_lm';
import {randomizeWeights} from '../model/random_weights';
import {glm4MoeConfig, mixtralConfig, resolveLMConfig, TransformersConfig} from '../model/config';
import {rmsNorm} from '../model/rms_norm';
import {applyRotary, rotaryTables} from '../model/rotary';
import {loadStateDict} from '../transformers/state_dict';
import {configOverrides, parseTrainerArgs} from './args';
import {readCheckpoint, writeCheckpoint} from './checkpoint';
import {cachedTokens, UsageError} from './corpus';
import {attentionRef, forwardRef, lossRef, moeBlockRef, RefWeights, rmsNormRef, rotaryRef} from './lm_reference';
import {decode, encode, rng, sampleBatch, TOKENIZER, unigramEntropy} from './tokenizer';

/** node:fs itself (not esbuild's namespace copy), so a spec can make its writeSync fail. */
const fs = require('node:fs') as typeof import('node:fs');

/** Tiny configs: every feature of each architecture on, shapes a few units wide. */
const TINY_MIXTRAL = mixtralConfig({vocab_size: 13, hidden_size: 8, intermediate_size: 6, num_hidden_layers: 1,
                                    num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4,
                                    num_local_experts: 3, num_experts_per_tok: 2, max_position_embeddings: 16});
const MIXTRAL_UNTIED_K1 = mixtralConfig({vocab_size: 11, hidden_size: 12, intermediate_size: 5, num_hidden_layers: 2,
                                         num_attention_heads: 6, num_key_value_heads: 2, head_dim: null,
                                         num_local_experts: 4, num_experts_per_tok: 1, tie_word_embeddings: false,
                                         rope_parameters: {rope_type: 'default', rope_theta: 500}, rms_norm_eps: 1e-3,
                                         max_position_embeddings: 16});
const TINY_GLM = glm4MoeConfig({vocab_size: 13, hidden_size: 8, intermediate_size: 10, moe_intermediate_size: 4,
                                num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 6,
                                n_routed_experts: 5, num_experts_per_tok: 3, n_shared_experts: 2,
                                routed_scaling_factor: 1.7, use_qk_norm: true, tie_word_embeddings: false,
                                rope_parameters: {rope_type: 'default', rope_theta: 1000, partial_rotary_factor: 0.75},
                                max_position_embeddings: 16});
const GLM_UNNORMALISED = glm4MoeConfig({vocab_size: 9, hidden_size: 8, moe_intermediate_size: 3,
                                        num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2,
                                        head_dim: 4, n_routed_experts: 4, num_experts_per_tok: 2,
                                        norm_topk_prob: false, first_k_dense_replace: 0, attention_bias: false,
                                        max_position_embeddings: 16});

async function refWeights(model: MoECausalLM): Promise<RefWeights> {
  const out: RefWeights = new Map();
  for (const {name, variable} of model.namedWeights()) out.set(name, Float64Array.from(await variable.data()));
  return out;
}

interface TransformersFixture {
  transformers: string;
  config: TransformersConfig;
  state_dict: Record<string, {shape: number[], values: number[]}>;
  input_ids: number[][];
  logits: number[];
}

const RUN_CONFIG = TINY_MIXTRAL;
const RUN_CONTEXT = 6;
const RUN_IDS = Int32Array.from({length: 400}, (_, i) => (i * 7) % 13);

/**
 * A short training run as `npm start` does it (main.ts): model and batch
 * order from the seed, Adam, the fused loss with MaxSup, checkpoints holding
 * every weight (MoE selection bias included) and Adam's state.
 */
class TrainerRun {
  readonly model: MoECausalLM;
  readonly optimizer = tf.train.adam(0.03);
  readonly losses: number[] = [];
  step = 0;

  /** `seed` initialises the model; `batchSeed` (default: the same) orders the batches. */
  constructor(seed: number, readonly batchSeed = seed) {
    this.model = new MoECausalLM(RUN_CONFIG, seed, {auxLoss: 0.01, routerZLoss: 1e-3});
  }

  async train(toStep: number) {
    const vars = this.model.trainableVariables();
    while (this.step < toStep) {
      ++this.step;
      const b = sampleBatch(RUN_IDS, 4, RUN_CONTEXT, rng(this.batchSeed * 1_000_003 + this.step));
      const loss = this.optimizer.minimize(() => this.model.loss(tf.tensor1d(b.inputs, 'int32'),
                                                                 tf.tensor1d(b.targets, 'int32'), 4, 0.1, true).total,
                                           true, vars)!;
      this.model.moe.forEach(m => m?.endStep());
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
    writeCheckpoint(file, {step: this.step, config: RUN_CONFIG, tokenizer: TOKENIZER.id,
                           history: {losses: this.losses}}, weights, optimizer);
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

const TOL = 2e-4;  // float32 against float64, on cpu

export function describeTrainer() {
  describe('trainer (npm start)', () => {
    it('parses flags with util.parseArgs and rejects bad ones naming the flag', () => {
      const a = parseTrainerArgs(['--steps', '12', '--lr=0.01', '--resume', '--set', 'num_hidden_layers=3',
                                  '--set', 'hidden_act=silu']);
      expect(a === 'help' ? null : [a.steps, a.batch, a.lr, a.resume, a.backend, a.preset, a.set])
          .toEqual([12, undefined, 0.01, true, 'auto', 'mixtral', ['num_hidden_layers=3', 'hidden_act=silu']]);
      expect(configOverrides(['num_hidden_layers=3', 'hidden_act=silu', 'sliding_window=null']))
          .toEqual({num_hidden_layers: 3, hidden_act: 'silu', sliding_window: null});
      // --resume alone continues the checkpoint's own model; any model flag builds the run's config from the flags.
      const modelFlags = (argv: string[]) => (parseTrainerArgs(argv) as {modelFlags: boolean}).modelFlags;
      expect([['--resume'], ['--resume', '--preset', 'mixtral'], ['--config', 'c.json'], ['--set', 'vocab_size=50304']]
                 .map(modelFlags)).toEqual([false, true, true, true]);
      expect(parseTrainerArgs(['--help'])).toBe('help');
      expect(parseTrainerArgs(['-h'])).toBe('help');
      const bad: Array<[string[], RegExp]> = [
        [['--steps', '0'], /--steps must be >= 1, got 0/],
        [['--steps', '2.5'], /--steps must be an integer, got 2.5/],
        [['--lr', 'fast'], /--lr must be a number, got 'fast'/],
        [['--backend', 'tpu'], /--backend must be one of auto, tensorflow, cpu, got 'tpu'/],
        [['--batches', '3'], /Unknown option '--batches'/],
        [['--steps'], /--steps <value>' argument missing/],
        [['extra'], /Unexpected argument 'extra'/],
      ];
      for (const [argv, message] of bad) {
        expect(() => parseTrainerArgs(argv)).toThrowMatching(
            e => e instanceof UsageError && message.test((e as Error).message));
      }
      expect(() => configOverrides(['layers'])).toThrowError(UsageError, /--set must be field=value, got 'layers'/);
    });

    it('rejects a config the architecture cannot express at construction, naming the field', () => {
      const bad: Array<[TransformersConfig, RegExp]> = [
        [mixtralConfig({hidden_size: 10, head_dim: null, num_attention_heads: 4}),
         /MixtralForCausalLM config: num_attention_heads must be a divisor of hidden_size \(10\) when head_dim is not given, got 4/],
        [mixtralConfig({num_attention_heads: 4, num_key_value_heads: 3}),
         /num_key_value_heads must be a divisor of num_attention_heads \(4\), got 3/],
        [mixtralConfig({num_experts_per_tok: 5}), /num_experts_per_tok must be <= num_local_experts \(4\), got 5/],
        [glm4MoeConfig({num_experts_per_tok: 9}), /num_experts_per_tok must be <= n_routed_experts \(8\), got 9/],
        [mixtralConfig({head_dim: 15}), /head_dim must be even \(rotate_half splits each head in two halves\), got 15/],
        [glm4MoeConfig({head_dim: 10}),
         /Glm4MoeForCausalLM config: rope_parameters.partial_rotary_factor must be a factor that makes int\(head_dim · factor\) even and >= 2 \(head_dim 10 gives 5/],
        [glm4MoeConfig({n_group: 2}), /n_group must be 1 \(this demo model has one expert group; .*\), got 2/],
        [glm4MoeConfig({topk_group: 2}), /topk_group must be 1/],
        [glm4MoeConfig({routed_scaling_factor: 0}), /routed_scaling_factor must be a finite number > 0, got 0/],
        [glm4MoeConfig({norm_topk_prob: 'yes'}), /norm_topk_prob must be true or false, got 'yes'/],
        [glm4MoeConfig({first_k_dense_replace: 3}), /first_k_dense_replace must be <= num_hidden_layers \(2\), got 3/],
        [mixtralConfig({sliding_window: 16}), /sliding_window must be null or >= max_position_embeddings \(64\)/],
        [mixtralConfig({rope_parameters: {rope_type: 'yarn', rope_theta: 1e4}}),
         /rope_parameters.rope_type must be 'default'.*got 'yarn'/],
        [mixtralConfig({hidden_act: 'gelu'}), /hidden_act must be 'silu' \(the experts are SwiGLU\), got 'gelu'/],
        [mixtralConfig({router_jitter_noise: 0.1}), /router_jitter_noise must be 0/],
        [mixtralConfig({vocab_size: 0}), /vocab_size must be an integer >= 1, got 0/],
        [mixtralConfig({architectures: ['LlamaForCausalLM']}),
         /config.json: architectures must be \['MixtralForCausalLM'\] or \['Glm4MoeForCausalLM'\], got \["LlamaForCausalLM"\]/],
        [mixtralConfig({model_type: 'glm4_moe'}), /model_type must be 'mixtral' \(architectures is MixtralForCausalLM\)/],
      ];
      const before = tf.memory().numTensors;
      for (const [config, message] of bad) {
        expect(() => new MoECausalLM(config, 1)).toThrowError(message);
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(resolveLMConfig(mixtralConfig()).rotaryDim).toBe(16);
      expect(resolveLMConfig(glm4MoeConfig()).rotaryDim).toBe(8);  // int(16 · 0.5)
    });

    it('RMSNorm, rotary embeddings and grouped-query attention match float64 loops', async () => {
      const rand = seededRandom(3);
      const [n, d] = [5, 6];
      const x = uniformArray(rand, n * d, -2, 2), w = uniformArray(rand, d, 0.5, 1.5);
      const y = await tf.tidy(() => rmsNorm(tf.tensor2d(x, [n, d]), tf.tensor1d(w), 1e-5)).data();
      const ref = Array.from({length: n}, (_, i) => Array.from(rmsNormRef(x.subarray(i * d, (i + 1) * d), w, 1e-5)));
      expectClose(y, ref.flat(), TOL, 'rmsNorm');

      const [b, h, t, hd] = [2, 3, 7, 8];
      const q = uniformArray(rand, b * h * t * hd, -1, 1);
      for (const [r, theta] of [[8, 10000], [4, 500]]) {
        const tables = rotaryTables(t, r, theta);
        const out = await tf.tidy(() => applyRotary(tf.tensor4d(q, [b, h, t, hd]), tables)).data();
        const expected: number[] = [];
        for (let i = 0; i < b * h; ++i) {
          for (let p = 0; p < t; ++p) {
            const off = (i * t + p) * hd;
            expected.push(...rotaryRef(q.subarray(off, off + hd), p, r, theta));
          }
        }
        expectClose(out, expected, TOL, `rotary r=${r} of head_dim ${hd}, theta ${theta}`);
        tf.dispose([tables.cos, tables.sin]);
      }

      const [heads, kvHeads] = [6, 2];
      const qs = uniformArray(rand, b * heads * t * hd, -1, 1), ks = uniformArray(rand, b * kvHeads * t * hd, -1, 1);
      const vs = uniformArray(rand, b * kvHeads * t * hd, -1, 1);
      const mask = causalMask(t, heads / kvHeads);
      const att = await tf.tidy(() => groupedQueryAttention(tf.tensor4d(qs, [b, heads, t, hd]),
                                                            tf.tensor4d(ks, [b, kvHeads, t, hd]),
                                                            tf.tensor4d(vs, [b, kvHeads, t, hd]), mask)).data();
      mask.dispose();
      const vecs = (a: Float32Array, count: number, batch: number) => Array.from({length: count}, (_, hh) =>
          Array.from({length: t}, (_, p) => Float64Array.from(
              a.subarray(((batch * count + hh) * t + p) * hd, ((batch * count + hh) * t + p + 1) * hd))));
      const expected = [];
      for (let bb = 0; bb < b; ++bb) {
        expected.push(...attentionRef(vecs(qs, heads, bb), vecs(ks, kvHeads, bb), vecs(vs, kvHeads, bb))
                              .flatMap(row => Array.from(row)));
      }
      expectClose(att, expected, TOL, 'grouped-query attention (6 heads, 2 KV heads)');
    });

    for (const [name, config] of [['Mixtral (softmax top-2)', TINY_MIXTRAL], ['Mixtral (top-1, renormalised)',
                                   MIXTRAL_UNTIED_K1], ['Glm4Moe (sigmoid + selection bias, scaled, 2 shared)', TINY_GLM],
                                  ['Glm4Moe (gates not renormalised)', GLM_UNNORMALISED]] as const) {
      it(`router and MoE block of ${name} match float64 loops`, async () => {
        const model = new MoECausalLM(config, 4);
        randomizeWeights(model, 9);
        const l = model.moe.findIndex(m => m != null);
        const n = 17, d = model.spec.hiddenSize;
        const x = uniformArray(seededRandom(12), n * d, -1.5, 1.5);
        const y = await tf.tidy(() => model.moe[l]!.apply(tf.tensor2d(x, [n, d])) as tf.Tensor).data();
        const w = await refWeights(model);
        const expected = Array.from({length: n}, (_, i) => Array.from(moeBlockRef(x.subarray(i * d, (i + 1) * d),
                                                                                   model.spec, w, l)));
        expectClose(y, expected.flat(), TOL, `${name} MoE block`);
        model.dispose();
      });

      it(`the whole ${name} model's logits match the float64 reference`, async () => {
        const model = new MoECausalLM(config, 5);
        randomizeWeights(model, 21);
        const batch = 2, t = 7, v = model.spec.vocabSize;
        const ids = Int32Array.from({length: batch * t}, (_, i) => (i * 5 + 3) % v);
        const logits = tf.tidy(() => model.logits(tf.tensor1d(ids, 'int32'), batch));
        const ref = forwardRef(model.spec, await refWeights(model), ids, batch);
        expectClose(await logits.data(), ref.logits.flatMap(r => Array.from(r)), TOL, `${name} logits`);
        logits.dispose();
        // The fused training loss is the mean cross-entropy of these logits.
        const targets = Int32Array.from(ids, (id, i) => (id + i) % v);
        const ce = tf.tidy(() => model.loss(tf.tensor1d(ids, 'int32'), tf.tensor1d(targets, 'int32'), batch, 0, false).ce);
        expect(Math.abs((await ce.data())[0] - lossRef(model.spec, await refWeights(model), ids, targets, batch)))
            .toBeLessThan(1e-4);
        ce.dispose();
        model.dispose();
      });
    }

    for (const name of ['mixtral_tiny', 'glm4_moe_tiny']) {
      it(`${name}: the logits transformers computes for its config.json and weights (packages/demo/tools)`,
         async () => {
           const fixture = require(`./testdata/${name}.json`) as TransformersFixture;
           const model = new MoECausalLM(fixture.config, 1);
           // transformers' own state dict (v5 modules: fused experts), loaded as npm run import does.
           await loadStateDict(model, Object.fromEntries(Object.entries(fixture.state_dict).map(([k, v]) =>
               [k, {dtype: 'float32', shape: v.shape, values: Float32Array.from(v.values)}])), 'fixture');
           const ids = Int32Array.from(fixture.input_ids.flat());
           const logits = tf.tidy(() => model.logits(tf.tensor1d(ids, 'int32'), fixture.input_ids.length));
           expectClose(await logits.data(), fixture.logits, 1e-4,
                       `${fixture.config['architectures']} logits vs transformers ${fixture.transformers}`);
           logits.dispose();
           model.dispose();
         });
    }

    it('gradients of every kind of weight agree with finite differences of the float64 reference', async () => {
      for (const config of [TINY_MIXTRAL, TINY_GLM]) {
        const model = new MoECausalLM(config, 6);
        randomizeWeights(model, 33);
        const batch = 2, t = 5, v = model.spec.vocabSize;
        const ids = Int32Array.from({length: batch * t}, (_, i) => (i * 3 + 1) % v);
        const targets = Int32Array.from(ids, (id, i) => (id * 2 + i) % v);
        const named = model.namedWeights().filter(w => w.variable.trainable);
        const {grads, value} = tf.variableGrads(() => model.loss(tf.tensor1d(ids, 'int32'), tf.tensor1d(targets, 'int32'),
                                                                 batch, 0, false).ce, named.map(w => w.variable));
        const w = await refWeights(model);
        const rand = seededRandom(8);
        let checked = 0;
        for (const {name, variable} of named) {
          const g = await grads[variable.name].data();
          const base = w.get(name)!;
          for (let probe = 0; probe < 2; ++probe) {
            const at = Math.floor(rand() * base.length), h = 1e-5, keep = base[at];
            base[at] = keep + h;
            const up = lossRef(model.spec, w, ids, targets, batch);
            base[at] = keep - h;
            const down = lossRef(model.spec, w, ids, targets, batch);
            base[at] = keep;
            const fd = (up - down) / (2 * h);
            expect(Math.abs(g[at] - fd)).withContext(`${model.spec.architecture} d loss / d ${name}[${at}]: ` +
                                                     `autodiff ${g[at]}, finite differences ${fd}`)
                .toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
            ++checked;
          }
        }
        expect(checked).toBeGreaterThan(20);
        tf.dispose([value, ...Object.values(grads)]);
        model.dispose();
      }
    });

    it('GPT-2 tokens: known ids, a lossless round trip of any text, and a token cache rebuilt when stale', () => {
      expect(Array.from(encode('Hello world'))).toEqual([15496, 995]);
      expect(TOKENIZER.vocabSize).toBe(50257);
      // Byte-level BPE: characters outside the 256 base bytes go in as their UTF-8 bytes; special-token text is text.
      for (const text of ['Call me Ishmael.', 'naïve café — “quoted” 日本語 🐳 e\u0301 \u0000\t\r\n',
                          'a <|endoftext|> b', '   leading and trailing   ']) {
        const ids = encode(text);
        expect(Array.from(ids).every(id => id >= 0 && id < TOKENIZER.vocabSize && id !== TOKENIZER.endOfText))
            .toBe(true);
        expect(decode(ids)).toBe(text);
      }
      expect(unigramEntropy(Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]), 4)).toBeCloseTo(Math.log(4), 12);
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-tokens-'));
      try {
        const first = cachedTokens('Call me Ishmael. Some years ago', dir);
        expect(first.cache).toBe('built (none yet)');
        expect(Array.from(first.ids)).toEqual(Array.from(encode('Call me Ishmael. Some years ago')));
        const again = cachedTokens('Call me Ishmael. Some years ago', dir);
        expect([again.cache, Array.from(again.ids)]).toEqual(['hit', Array.from(first.ids)]);
        // A cache written by another tokenizer version is stale.
        writeFileSync(first.file, readFileSync(first.file, 'latin1').replace(TOKENIZER.id, 'gpt-tokenizer@0.0.1/gpt2'),
                      'latin1');
        expect(cachedTokens('Call me Ishmael. Some years ago', dir).cache)
            .toBe('built (stale: made by gpt-tokenizer@0.0.1/gpt2)');
        expect(cachedTokens('Call me Ishmael. Some years ago', dir).cache).toBe('hit');
      } finally {
        rmSync(dir, {recursive: true, force: true});
      }
    });

    it('checkpoints round-trip, replace atomically, and corrupt, missing or word-level ones fail clearly', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ckpt-'));
      try {
        const file = path.join(dir, 'ck.bin');
        const weights = [{name: 'w', shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6])}];
        const opt = [{name: 'w/m', shape: [2, 3], values: new Float32Array(6).fill(0.5)}];
        writeCheckpoint(file, {step: 7, config: TINY_MIXTRAL, tokenizer: TOKENIZER.id, history: {x: 1}}, weights, opt);
        const back = readCheckpoint(file);
        expect([back.step, back.config, back.tokenizer, Array.from(back.weights[0].values),
                Array.from(back.optimizer[0].values)])
            .toEqual([7, TINY_MIXTRAL, TOKENIZER.id, [1, 2, 3, 4, 5, 6], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]);
        // A write that died half way leaves only a temporary file: the checkpoint still loads.
        writeFileSync(`${file}.tmp-12345`, readFileSync(file).subarray(0, 20));
        expect(readCheckpoint(file).step).toBe(7);
        writeFileSync(path.join(dir, 'cut.bin'), readFileSync(file).subarray(0, readFileSync(file).length - 8));
        expect(() => readCheckpoint(path.join(dir, 'cut.bin'))).toThrowError(UsageError, /is corrupt \(data of 'w/);
        writeFileSync(path.join(dir, 'junk.bin'), 'not a checkpoint at all');
        expect(() => readCheckpoint(path.join(dir, 'junk.bin'))).toThrowError(UsageError, /not a sluice checkpoint/);
        expect(() => readCheckpoint(path.join(dir, 'none.bin'))).toThrowError(UsageError, /no checkpoint at/);
        // The header the word-level trainer wrote: {step, config: {vocab, dim, ...}, vocabulary, history}.
        const old = path.join(dir, 'old.bin');
        writeCheckpoint(old, {step: 400, config: {vocab: 3, dim: 64}, vocabulary: ['<unk>', 'the', 'whale'],
                              history: {}} as unknown as Parameters<typeof writeCheckpoint>[1], weights, opt);
        expect(() => readCheckpoint(old)).toThrowError(
            UsageError, /was written by the older word-level model \(a vocabulary of 3 words, no transformers config\)/);
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

    for (const [name, config] of [['Mixtral', TINY_MIXTRAL], ['Glm4Moe', TINY_GLM]] as const) {
      it(`a few training steps of the ${name} model lower its loss and leak nothing`, async () => {
        const ids = Int32Array.from({length: 400}, (_, i) => (i * 7) % 13);  // a periodic stream: learnable
        const initial = tf.memory().numTensors;
        const model = new MoECausalLM(config, 3, {biasUpdateRate: 0.01, auxLoss: 0.01, routerZLoss: 1e-3});
        const opt = tf.train.adam(0.03);
        const vars = model.trainableVariables();
        const before = tf.memory().numTensors;
        const losses: number[] = [];
        const step = async (seed: number) => {
          const b = sampleBatch(ids, 4, 6, rng(seed));
          const loss = opt.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'), 4,
                                                     0.1, true).total, true, vars)!;
          // As main.ts: the optimizer step ends the MoE layers' step (the aux-loss-free bias update).
          model.moe.forEach(m => m?.endStep());
          losses.push((await loss.data())[0]);
          loss.dispose();
        };
        for (let s = 0; s < 30; ++s) await step(s + 1);
        expect(tf.memory().numTensors).toBeGreaterThan(before);  // Adam's slots, the rotary tables and the mask
        const settled = tf.memory().numTensors;
        const biases = async () => Promise.all(model.moe.filter(m => m != null).map(m => m!.selectionBiasValues()));
        const biasesBefore = await biases();
        await step(99);
        await step(100);
        expect(tf.memory().numTensors).toBe(settled);
        // The leak check covered the bias update where the architecture has a selection bias (Glm4Moe's
        // e_score_correction_bias; Mixtral's layers get biasUpdateRate 0): it starts at zero and moved in the
        // two steps measured too.
        expect(biasesBefore.length).toBeGreaterThan(0);
        const biasesAfter = await biases();
        biasesAfter.forEach((b, l) => {
          const moved = b.some((x, i) => x !== biasesBefore[l][i]);
          if (model.spec.selectionBias) {
            expect(biasesBefore[l].some(x => x !== 0)).withContext(`MoE layer ${l}: bias after 30 steps`).toBe(true);
            expect(moved).withContext(`MoE layer ${l}: bias moved in steps 31-32`).toBe(true);
          } else {
            expect([...b].every(x => x === 0)).withContext(`MoE layer ${l}: no selection bias`).toBe(true);
          }
        });
        expect(losses[29]).toBeLessThan(losses[0] - 0.5);
        opt.dispose();
        model.dispose();
        expect(tf.memory().numTensors).toBe(initial);
      });
    }
  });
}
