/**
 * `npm start`: trains a mixture-of-experts language model in transformers'
 * Mixtral (or Glm4Moe) architecture on Moby-Dick in GPT-2 tokens, with the
 * fused linearCrossEntropy head, on the fastest backend present; a progress
 * line, atomic checkpoints, --resume, a text sample and an HTML report.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {MoECausalLM} from '../model/causal_lm';
import {PRESETS, resolveLMConfig, TransformersConfig} from '../model/config';
import {configOverrides, parseTrainerArgs, RUN_DEFAULTS, TrainerArgs, usage} from './args';
import {selectBackend} from './backend';
import {readCheckpoint, TensorEntry, writeCheckpoint} from './checkpoint';
import {cachedTokens, defaultCorpusPath, readCorpus, rng, sampleBatch, TOKENIZER, unigramEntropy,
        UsageError} from './corpus';
import {headMemory, MemoryRow, NAIVE} from './head_memory';
import {History, renderReport} from './report';
import {sampleText} from './sample';

/** The config.json object of this run: --config file or --preset, then --set overrides; checked here. */
function modelConfig(a: TrainerArgs): TransformersConfig {
  let base: TransformersConfig;
  if (a.config) {
    try {
      base = JSON.parse(readFileSync(a.config, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config: cannot read '${a.config}' as JSON: ${(e as Error).message}`);
    }
  } else {
    const preset = PRESETS[a.preset];
    if (preset == null) {
      throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got '${a.preset}'`);
    }
    base = preset();
  }
  const config = {...base, ...configOverrides(a.set)};
  let spec;
  try {
    spec = resolveLMConfig(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (spec.vocabSize < TOKENIZER.vocabSize) {
    throw new UsageError(`${spec.architecture} config: vocab_size must be >= ${TOKENIZER.vocabSize} (GPT-2's ` +
                         `tokens), got ${spec.vocabSize}`);
  }
  if (a.context > spec.maxPositions) {
    throw new UsageError(`--context must be <= max_position_embeddings (${spec.maxPositions}), got ${a.context}`);
  }
  return config;
}

async function namedOptimizerState(optimizer: tf.Optimizer): Promise<TensorEntry[]> {
  const weights = await optimizer.getWeights();
  const entries = await Promise.all(
      weights.map(async w => ({name: w.name, shape: w.tensor.shape, values: await w.tensor.data() as Float32Array})));
  // The step count comes back as a fresh scalar; the slots are the optimizer's own variables.
  tf.dispose(weights.map(w => w.tensor).filter(t => !(t instanceof tf.Variable)));
  return entries;
}

function progressLine(step: number, total: number, loss: number, tokensPerSecond: number, loads: number[][],
                      maxVio: number[]): string {
  const width = 24, done = Math.round(width * step / total);
  const bar = '='.repeat(Math.max(0, done - 1)) + (done > 0 ? '>' : '') + ' '.repeat(width - done);
  const load = loads.map(l => l.map(v => (100 * v).toFixed(0).padStart(2)).join(' ')).join(' | ');
  return `step ${String(step).padStart(String(total).length)}/${total} [${bar}] loss ${loss.toFixed(3)} ` +
      `${Math.round(tokensPerSecond)} tok/s  load% ${load}  MaxVio ${maxVio.map(v => v.toFixed(2)).join(' ')}`;
}

/** Same JSON (key order aside). */
function sameJson(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => v != null && typeof v === 'object' && !Array.isArray(v) ?
      Object.fromEntries(Object.keys(v).sort().map(k => [k, norm((v as Record<string, unknown>)[k])])) :
      v;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

async function resume(a: TrainerArgs, config: TransformersConfig, model: MoECausalLM, optimizer: tf.Optimizer,
                      history: History): Promise<number> {
  const ck = readCheckpoint(a.checkpoint);
  if (ck.tokenizer !== TOKENIZER.id) {
    throw new UsageError(`--resume: checkpoint '${a.checkpoint}' was made with tokenizer ${ck.tokenizer}, this run ` +
                         `uses ${TOKENIZER.id}; it was left untouched`);
  }
  const fields = new Set([...Object.keys(ck.config), ...Object.keys(config)]);
  const differs = [...fields].find(k => !sameJson(ck.config[k], config[k]));
  if (differs) {
    throw new UsageError(`--resume: checkpoint '${a.checkpoint}' was made with ${differs} = ` +
                         `${JSON.stringify(ck.config[differs])}, this run has ${JSON.stringify(config[differs])}; ` +
                         'it was left untouched');
  }
  const byName = new Map(ck.weights.map(w => [w.name, w]));
  for (const {name, variable} of model.namedWeights()) {
    const w = byName.get(name);
    if (w == null || w.shape.join(',') !== variable.shape.join(',')) {
      throw new UsageError(`--resume: checkpoint '${a.checkpoint}' lacks weight '${name}' of shape ` +
                           `[${variable.shape}] (found ${w ? `[${w.shape}]` : 'none'})`);
    }
    tf.tidy(() => variable.assign(tf.tensor(w.values, w.shape)));
  }
  if (ck.optimizer.length > 0) {
    const state = ck.optimizer.map(o => ({name: o.name, tensor: tf.tensor(o.values, o.shape)}));
    await optimizer.setWeights(state);
    tf.dispose(state.map(o => o.tensor));  // the optimizer made its own variables from them
  }
  Object.assign(history, ck.history as History);
  return ck.step;
}

/** Head memory at the training shape (both measured) and at N=4096, V=50,257 (fused measured, naive estimated). */
async function memoryRows(n: number, d: number, v: number): Promise<Array<MemoryRow&{shape: string, estimated: boolean}>> {
  const rows = (await headMemory(n, d, v)).map(r => ({...r, shape: `N=${n}, D=${d}, V=${v}`, estimated: false}));
  const bigN = 4096, bigV = 50257;
  const naive = rows.find(r => r.variant === NAIVE)!;
  const fused = (await headMemory(bigN, d, bigV, 'fused'))[0];
  const ratio = naive.peakBytes / (n * v * 4);  // the naive peak is a multiple of the N×V float32 logits
  rows.push({...fused, shape: `N=${bigN}, D=${d}, V=${bigV}`, estimated: false});
  rows.push({variant: NAIVE, peakBytes: ratio * bigN * bigV * 4, ms: NaN, shape: `N=${bigN}, D=${d}, V=${bigV}`,
             estimated: true});
  return rows;
}

async function main(): Promise<number> {
  const parsed = parseTrainerArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(usage());
    return 0;
  }
  const a = parsed;
  const config = modelConfig(a);
  const corpusPath = a.corpus || defaultCorpusPath();
  const text = readCorpus(corpusPath);
  const t0 = Date.now();
  const {ids, cache} = cachedTokens(text, path.join(path.dirname(a.checkpoint), 'cache'));
  const split = Math.floor(ids.length * 0.95);
  const train = ids.subarray(0, split), val = ids.subarray(split);
  if (val.length < a.context + 2 || train.length < a.context + 2) {
    throw new UsageError(`--corpus: '${corpusPath}' has ${ids.length} tokens, too few for one sequence of ` +
                         `--context ${a.context} in both the training (95%) and validation (5%) parts`);
  }
  const backend = await selectBackend(a.backend);
  console.log(`backend '${backend.name}': ${backend.why}`);
  const defaults = RUN_DEFAULTS[backend.name];
  const steps = a.steps ?? defaults.steps, batch = a.batch ?? defaults.batch;
  const unigram = unigramEntropy(train, TOKENIZER.vocabSize);
  console.log(`corpus ${path.relative(process.cwd(), corpusPath)}: ${(text.length / 1e6).toFixed(2)} MB, ` +
              `${ids.length} GPT-2 tokens (token cache ${cache}, ${Date.now() - t0} ms); unigram entropy ` +
              `${unigram.toFixed(3)} nats/token`);

  const maxSupOn = a.maxSupFrom > 0 || a.maxSupTo > 0;
  const model = new MoECausalLM(config, a.seed, {biasUpdateRate: 0.01, routerZLoss: 1e-3, auxLoss: 0.01});
  const s = model.spec;
  const params = model.trainableVariables().reduce((n, v) => n + v.size, 0);
  console.log(`model ${s.architecture}: ${s.numLayers} layers, width ${s.hiddenSize}, ${s.numHeads} heads ` +
              `(${s.numKvHeads} KV) of ${s.headDim}, ${s.numExperts} experts top-${s.topK} of ${s.expertHidden}` +
              `${s.sharedExperts ? ` + ${s.sharedExperts} shared` : ''}, vocabulary ${s.vocabSize}` +
              `${s.tieWordEmbeddings ? ' (tied head)' : ''}: ${(params / 1e6).toFixed(2)} M parameters; ` +
              `${steps} steps of ${batch}×${a.context} tokens, fused linearCrossEntropy` +
              (maxSupOn ? ` with MaxSup ${a.maxSupFrom}→${a.maxSupTo}` : ''));
  const optimizer = tf.train.adam(a.lr);
  const variables = model.trainableVariables();
  const moeLayers = model.moe.filter(m => m != null);
  const history: History = {steps: [], trainLoss: [], valSteps: [], valLoss: [], loads: moeLayers.map(() => []),
                            maxVio: moeLayers.map(() => [])};
  let start = 0;
  if (a.resume) {
    start = await resume(a, config, model, optimizer, history);
    console.log(`resumed from ${a.checkpoint} at step ${start}`);
  }

  const valRand = rng(a.seed + 999);
  const valBatches = Array.from({length: 4}, () => sampleBatch(val, batch, a.context, valRand));
  const evaluate = () => {
    let sum = 0;
    for (const b of valBatches) {
      sum += tf.tidy(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'), batch, 0,
                                      false).ce.dataSync()[0]);
    }
    return sum / valBatches.length;
  };
  if (start === 0) {
    history.valSteps.push(0);
    history.valLoss.push(evaluate());
    console.log(`validation cross-entropy at step 0: ${history.valLoss[0].toFixed(3)}`);
  }

  const tty = process.stdout.isTTY;
  const tokensPerStep = batch * a.context;
  const trainStart = Date.now();
  let windowStart = trainStart, windowSteps = 0, tokensPerSecond = 0;
  for (let step = start + 1; step <= steps; ++step) {
    const b = sampleBatch(train, batch, a.context, rng(a.seed * 1_000_003 + step));
    const alpha = a.maxSupFrom + (a.maxSupTo - a.maxSupFrom) * (step - 1) / Math.max(1, steps - 1);
    const loss = optimizer.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'),
                                                     batch, alpha, true).total, true, variables)!;
    // One optimizer step done: each MoE layer's aux-loss-free bias moves once, from this step's counts.
    model.moe.forEach(m => m?.endStep());
    const value = (await loss.data())[0];
    loss.dispose();
    if (!Number.isFinite(value)) throw new Error(`training diverged at step ${step}: loss ${value}`);
    const metrics = await Promise.all(moeLayers.map(m => m!.readMetrics()));
    history.steps.push(step);
    history.trainLoss.push(value);
    metrics.forEach((m, l) => {
      history.loads[l].push(m!.load);
      history.maxVio[l].push(m!.maxViolation);
    });
    ++windowSteps;
    const elapsed = (Date.now() - windowStart) / 1000;
    if (elapsed > 2) {
      tokensPerSecond = windowSteps * tokensPerStep / elapsed;
      windowStart = Date.now();
      windowSteps = 0;
    } else if (tokensPerSecond === 0) {
      tokensPerSecond = (step - start) * tokensPerStep / Math.max(1e-3, (Date.now() - trainStart) / 1000);
    }
    const line = progressLine(step, steps, value, tokensPerSecond, metrics.map(m => m!.load),
                              metrics.map(m => m!.maxViolation));
    if (tty) process.stdout.write(`\r${line}`);
    else if (step % 25 === 0 || step === steps) console.log(line);
    if (step % a.evalEvery === 0 || step === steps) {
      const v = evaluate();
      history.valSteps.push(step);
      history.valLoss.push(v);
      const note = `validation cross-entropy at step ${step}: ${v.toFixed(3)} (unigram ${unigram.toFixed(3)})`;
      console.log(tty ? `\n${note}` : note);
    }
    if (step % a.checkpointEvery === 0 || step === steps) {
      const weights = await Promise.all(model.namedWeights().map(async ({name, variable}) =>
          ({name, shape: variable.shape, values: await variable.data() as Float32Array})));
      writeCheckpoint(a.checkpoint, {step, config, tokenizer: TOKENIZER.id, history}, weights,
                      await namedOptimizerState(optimizer));
      if (tty) process.stdout.write(`\r${line}  [checkpoint ${step}]`);
    }
  }
  if (tty) process.stdout.write('\n');
  const trainSeconds = (Date.now() - trainStart) / 1000;

  const finalVal = history.valLoss[history.valLoss.length - 1];
  const gap = unigram - finalVal;
  console.log(`final validation cross-entropy ${finalVal.toFixed(3)} nats/token vs unigram entropy ` +
              `${unigram.toFixed(3)}: ${Math.abs(gap).toFixed(3)} nats (${(100 * Math.abs(gap) / unigram).toFixed(1)}%) ` +
              `${gap >= 0 ? 'below' : 'above'}; ${trainSeconds.toFixed(0)} s of training on '${backend.name}'`);
  const sample = a.sampleTokens > 0 ? sampleText(model, 'Call me Ishmael.', a.sampleTokens, a.seed) : '';
  if (sample) console.log(`sample: ${JSON.stringify(sample)}`);
  const memory = await memoryRows(tokensPerStep, s.hiddenSize, s.vocabSize);
  for (const r of memory) {
    console.log(`head at ${r.shape}: ${r.variant}: peak ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB` +
                (r.estimated ? ' (estimated: the naive peak per logit measured at the training shape × N×V; not run)' :
                               `, ${r.ms.toFixed(0)} ms (measured)`));
  }
  mkdirSync(path.dirname(a.report), {recursive: true});
  writeFileSync(a.report, renderReport({
    title: `sluice: a ${s.architecture} language model on Moby-Dick`,
    subtitle: `${s.numLayers} layers, width ${s.hiddenSize}, ${s.numExperts} experts top-${s.topK}, GPT-2 tokens ` +
        `(vocabulary ${s.vocabSize}), ${history.steps.length} steps of ${tokensPerStep} tokens on '${backend.name}' ` +
        `(${backend.why}). Train curve: the objective (cross-entropy${maxSupOn ? ' + MaxSup' : ''} + MoE auxiliary ` +
        'losses); ' +
        'validation: plain cross-entropy.',
    history, unigram, memory, sample, config,
  }));
  console.log(`report: ${a.report}; checkpoint: ${a.checkpoint}`);
  optimizer.dispose();
  model.dispose();
  return 0;
}

main().then(code => process.exit(code), e => {
  if (e instanceof UsageError) {
    console.error(`error: ${e.message}`);
    process.exit(2);
  }
  console.error(e);
  process.exit(1);
});
