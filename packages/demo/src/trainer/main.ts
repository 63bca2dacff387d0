/**
 * `npm start`: trains a small mixture-of-experts language model with sluice
 * on Moby-Dick, on the fastest backend present, with a progress line,
 * atomic checkpoints, --resume, a text sample and an HTML report.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@sluice/backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {parseTrainerArgs, TrainerArgs, usage} from './args';
import {readCheckpoint, TensorEntry, writeCheckpoint} from './checkpoint';
import {defaultCorpusPath, readCorpus, rng, sampleBatch, tokenize, unigramEntropy, UsageError,
        Vocabulary} from './corpus';
import {headMemory} from './head_memory';
import {ModelConfig, TinyMoELM} from './model';
import {History, renderReport} from './report';

async function selectBackend(wanted: string): Promise<string> {
  if (wanted === 'auto' || wanted === 'tensorflow') {
    try {
      // External to the bundle (native addon); '@sluice/backend-node' registers the fused kernels for it.
      require('@tensorflow/tfjs-node');
      await import('@sluice/backend-node');
      if (await tf.setBackend('tensorflow')) return 'tensorflow';
    } catch (e) {
      const why = (e as Error).message.split('\n')[0];
      if (wanted === 'tensorflow') throw new UsageError(`--backend tensorflow: tfjs-node does not load here: ${why}`);
      console.log(`tfjs-node not available (${why}); training on cpu. ` +
                  '`bash scripts/provision-tfjs-node.sh` builds it offline.');
    }
  }
  // Loaded only now: tfjs-node brings its own cpu backend, and a second copy would re-register every kernel.
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  return 'cpu';
}

function modelConfig(a: TrainerArgs, vocab: number): ModelConfig {
  return {vocab, dim: a.dim, layers: a.layers, context: a.context, experts: a.experts, topK: a.topK, hidden: a.hidden};
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

function sampleText(model: TinyMoELM, vocab: Vocabulary, prompt: string, count: number, seed: number): string {
  const ids = Array.from(vocab.encode(tokenize(prompt)));
  const rand = rng(seed);
  for (let i = 0; i < count; ++i) {
    const logits = model.nextLogits(ids);
    logits[0] = -Infinity;  // never emit <unk>
    // Temperature 0.8 over the 20 most likely words.
    const top = Array.from(logits, (z, j) => [z / 0.8, j]).sort((a, b) => b[0] - a[0]).slice(0, 20);
    const m = top[0][0];
    const weights = top.map(([z]) => Math.exp(z - m));
    let r = rand() * weights.reduce((a, b) => a + b, 0), pick = top[0][1];
    for (let j = 0; j < top.length; ++j) {
      r -= weights[j];
      if (r <= 0) {
        pick = top[j][1];
        break;
      }
    }
    ids.push(pick);
  }
  return vocab.decode(ids);
}

async function main(): Promise<number> {
  const parsed = parseTrainerArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(usage());
    return 0;
  }
  const a = parsed;
  const corpusPath = a.corpus || defaultCorpusPath();
  const text = readCorpus(corpusPath);
  const tokens = tokenize(text);
  const vocab = Vocabulary.build(tokens, a.vocab);
  const ids = vocab.encode(tokens);
  const split = Math.floor(ids.length * 0.95);
  const train = ids.subarray(0, split), val = ids.subarray(split);
  const need = a.context + 2;
  if (val.length < need || train.length < need) {
    throw new UsageError(`--corpus: '${corpusPath}' has ${ids.length} tokens, too few for one window of ` +
                         `--context ${a.context} in both the training (95%) and validation (5%) parts`);
  }
  const backend = await selectBackend(a.backend);
  const unigram = unigramEntropy(train, vocab.size);
  const cfg = modelConfig(a, vocab.size);
  console.log(`corpus ${path.relative(process.cwd(), corpusPath)}: ${(text.length / 1e6).toFixed(2)} MB, ` +
              `${tokens.length} tokens, vocabulary ${vocab.size} (unigram entropy ${unigram.toFixed(3)} nats)`);
  console.log(`model: ${a.layers} blocks × (attention + MoE ${a.experts} experts top-${a.topK}, hidden ${a.hidden}), ` +
              `width ${a.dim}, context ${a.context}; fused linearCrossEntropy with MaxSup ${a.maxSupFrom}→${a.maxSupTo}; ` +
              `backend '${backend}'`);

  const model = new TinyMoELM(cfg, a.seed);
  const optimizer = tf.train.adam(a.lr);
  const variables = model.trainableVariables();
  const history: History = {steps: [], trainLoss: [], valSteps: [], valLoss: [], loads: model.moe.map(() => []),
                            maxVio: model.moe.map(() => [])};
  let start = 0;
  if (a.resume) {
    const ck = readCheckpoint(a.checkpoint);
    const mismatch = Object.entries(cfg).find(([k, v]) => ck.config[k] !== v);
    if (mismatch) {
      throw new UsageError(`--resume: checkpoint '${a.checkpoint}' was made with ${mismatch[0]} = ` +
                           `${ck.config[mismatch[0]]}, this run has ${mismatch[1]}; it was left untouched`);
    }
    if (ck.vocabulary.length !== vocab.size || ck.vocabulary.some((w, i) => w !== vocab.words[i])) {
      throw new UsageError(`--resume: checkpoint '${a.checkpoint}' has a different vocabulary (another corpus?)`);
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
    start = ck.step;
    console.log(`resumed from ${a.checkpoint} at step ${start}`);
  }

  const valRand = rng(a.seed + 999);
  const valBatches = Array.from({length: 4}, () => sampleBatch(val, a.batch, a.context, valRand));
  const evaluate = () => {
    let sum = 0;
    for (const b of valBatches) {
      sum += tf.tidy(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'), a.batch, 0,
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
  const tokensPerStep = a.batch * a.context;
  const trainStart = Date.now();
  let windowStart = trainStart, windowSteps = 0, tokensPerSecond = 0;
  for (let step = start + 1; step <= a.steps; ++step) {
    const batchRand = rng(a.seed * 1_000_003 + step);
    const b = sampleBatch(train, a.batch, a.context, batchRand);
    const alpha = a.maxSupFrom + (a.maxSupTo - a.maxSupFrom) * (step - 1) / Math.max(1, a.steps - 1);
    const loss = optimizer.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'),
                                                     a.batch, alpha, true).total, true, variables)!;
    // One optimizer step done: each MoE layer's aux-loss-free bias moves once, from this step's counts.
    model.moe.forEach(m => m.endStep());
    const value = (await loss.data())[0];
    loss.dispose();
    if (!Number.isFinite(value)) throw new Error(`training diverged at step ${step}: loss ${value}`);
    const metrics = await Promise.all(model.moe.map(m => m.readMetrics()));
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
    const line = progressLine(step, a.steps, value, tokensPerSecond, metrics.map(m => m!.load),
                              metrics.map(m => m!.maxViolation));
    if (tty) process.stdout.write(`\r${line}`);
    else if (step % 25 === 0 || step === a.steps) console.log(line);
    if (step % a.evalEvery === 0 || step === a.steps) {
      const v = evaluate();
      history.valSteps.push(step);
      history.valLoss.push(v);
      const note = `validation cross-entropy at step ${step}: ${v.toFixed(3)} (unigram ${unigram.toFixed(3)})`;
      console.log(tty ? `\n${note}` : note);
    }
    if (step % a.checkpointEvery === 0 || step === a.steps) {
      const weights = await Promise.all(model.namedWeights().map(async ({name, variable}) =>
          ({name, shape: variable.shape, values: await variable.data() as Float32Array})));
      writeCheckpoint(a.checkpoint, {step, config: {...cfg}, vocabulary: vocab.words, history}, weights,
                      await namedOptimizerState(optimizer));
      if (tty) process.stdout.write(`\r${line}  [checkpoint ${step}]`);
    }
  }
  if (tty) process.stdout.write('\n');

  const finalVal = history.valLoss[history.valLoss.length - 1];
  const gap = 100 * (1 - finalVal / unigram);
  console.log(`final validation cross-entropy ${finalVal.toFixed(3)} nats/token vs unigram entropy ` +
              `${unigram.toFixed(3)} (${Math.abs(gap).toFixed(1)}% ${gap >= 0 ? 'below' : 'above'}); ` +
              `${((Date.now() - trainStart) / 1000).toFixed(0)} s of training`);
  const sample = a.sampleTokens > 0 ? sampleText(model, vocab, 'call me ishmael .', a.sampleTokens, a.seed) : '';
  if (sample) console.log(`sample: ${sample}`);
  const memory = await headMemory(a.batch * a.context, a.dim, vocab.size);
  for (const r of memory) {
    console.log(`head at N=${a.batch * a.context} D=${a.dim} V=${vocab.size}: ${r.variant}: peak ` +
                `${(r.peakBytes / 2 ** 20).toFixed(1)} MiB, ${r.ms.toFixed(0)} ms`);
  }
  mkdirSync(path.dirname(a.report), {recursive: true});
  writeFileSync(a.report, renderReport({
    title: 'sluice: a small MoE language model on Moby-Dick',
    subtitle: `${a.layers} blocks, ${a.experts} experts top-${a.topK}, width ${a.dim}, vocabulary ${vocab.size}, ` +
        `${history.steps.length} steps of ${tokensPerStep} tokens on '${backend}'. Train curve: the objective ` +
        `(cross-entropy + MaxSup + MoE auxiliary losses); validation: plain cross-entropy.`,
    history, unigram, memory, sample,
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
