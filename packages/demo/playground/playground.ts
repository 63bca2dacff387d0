/**
 * The browser playground: the trainer's model (a MixtralForCausalLM config,
 * packages/demo/src/model) and GPT-2 tokenizer trained live in the page on
 * webgpu, webgl or cpu, with charts of the loss and the expert load. Then one
 * training step at a batch whose N×V logits the backend cannot hold (WebGL's
 * maximum texture size, WebGPU's maxStorageBufferBindingSize): the naive head
 * (matMul + softmaxCrossEntropy) is tried and its real error shown, and the
 * step with the fused head completes. State is mirrored on
 * `window.sluicePlayground` for the end-to-end test.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import '@sluice/backend-cpu';
import '@sluice/backend-webgl';
import '@sluice/backend-webgpu';

import * as tf from '@tensorflow/tfjs-core';
import {WebGPUBackend} from '@tensorflow/tfjs-backend-webgpu';
import {peakBytesDuring} from '@sluice/core/testing/peak_bytes';

import {MoECausalLM} from '../src/model/causal_lm';
import {mixtralConfig} from '../src/model/config';
import {encode, rng, sampleBatch, TOKENIZER, unigramEntropy} from '../src/trainer/tokenizer';
import {Charts} from './charts';

/**
 * Scaled for software GPUs (SwiftShader, ~0.3-2 GFLOP/s): one layer of width
 * 32 and sequences of 16 GPT-2 tokens; the vocabulary is GPT-2's full 50,257.
 */
const CONFIG = mixtralConfig({hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2,
                              num_key_value_heads: 1, head_dim: 16, num_local_experts: 4, num_experts_per_tok: 2,
                              max_position_embeddings: 16});
const CONTEXT = 16;
const BATCH = 4;
/** Characters of Moby-Dick tokenized in the page (the first ~60k tokens). */
const CORPUS_CHARS = 250_000;

interface BigStep {
  backend: string;
  n: number;
  v: number;
  limit: string;
  naiveError: string|null;
  naiveLogitsBytes: number;
  fusedLoss: number;
  fusedPeakBytes: number;
  fusedMs: number;
}

interface PlaygroundState {
  ready: boolean;
  running: boolean;
  backend: string;
  steps: number[];
  losses: number[];
  valSteps: number[];
  valLosses: number[];
  loads: number[][];
  unigram: number;
  bigStep: BigStep|null;
  tensorsBefore: number;
  tensorsAfter: number;
  error: string|null;
}

const state: PlaygroundState = {ready: false, running: false, backend: '', steps: [], losses: [], valSteps: [],
                                valLosses: [], loads: [], unigram: NaN, bigStep: null, tensorsBefore: 0,
                                tensorsAfter: 0, error: null};
(window as unknown as {sluicePlayground: PlaygroundState}).sluicePlayground = state;

/**
 * tfjs-webgpu asks for the adapter's largest limits (SwiftShader offers GiBs); the page runs at WebGPU's default
 * limits (128 MiB per storage binding, 256 MiB per buffer), which every WebGPU device guarantees.
 */
if ('gpu' in navigator) {
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (adapter == null) throw new Error('navigator.gpu.requestAdapter() found no adapter');
    return new WebGPUBackend(await adapter.requestDevice(),
                            (adapter as GPUAdapter & {info: GPUAdapterInfo}).info);  // @webgpu/types predates .info
  }, 3);
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => {
  $('status').textContent = text;
};
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

let stopRequested = false;
let ids: Int32Array;
let charts: Charts;

/** The backend's limit on one tensor, and the smallest batch of whole sequences whose N×V float32 logits exceed it. */
function limitFor(backend: string, v: number): {limit: string, n: number} {
  if (backend === 'webgl') {
    const size = tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
    // tfjs-webgl squarifies a [N, V] texture: it fails once N·V > size².
    const n = Math.ceil((size * size + 1) / v / CONTEXT) * CONTEXT;
    return {limit: `WebGL max texture size ${size}×${size} (${(size * size / 1e6).toFixed(1)} M texels)`, n};
  }
  if (backend === 'webgpu') {
    const device = (tf.backend() as unknown as {device: GPUDevice}).device;
    const bytes = device.limits.maxStorageBufferBindingSize;
    const n = Math.ceil((bytes / 4 + 1) / v / CONTEXT) * CONTEXT;
    return {limit: `WebGPU maxStorageBufferBindingSize ${mib(bytes)}`, n};
  }
  return {limit: 'none (cpu)', n: 4 * CONTEXT};
}

/** Tries the naive head's forward + backward at [n, d] × [v, d]; returns its error, or null if it ran. */
async function tryNaive(backend: string, hidden: tf.Tensor2D, classifier: tf.Tensor2D, labels: tf.Tensor1D):
    Promise<string|null> {
  const device = backend === 'webgpu' ? (tf.backend() as unknown as {device: GPUDevice}).device : null;
  device?.pushErrorScope('validation');
  device?.pushErrorScope('out-of-memory');
  let thrown: string|null = null;
  try {
    const grads = tf.grads((h: tf.Tensor, c: tf.Tensor) => tf.losses.softmaxCrossEntropy(
        tf.oneHot(labels, classifier.shape[0]), tf.matMul(h, c, false, true)) as tf.Scalar)([hidden, classifier]);
    await Promise.all(grads.map(g => g.data()));
    tf.dispose(grads);
  } catch (e) {
    thrown = (e as Error).message;
  }
  // WebGPU reports an over-limit buffer as a GPUError on the device, not as an exception.
  const oom = await device?.popErrorScope(), invalid = await device?.popErrorScope();
  return thrown ?? invalid?.message ?? oom?.message ?? null;
}

/** One training step of the model at the big batch, with the fused head; the naive head tried on its hidden states. */
async function bigStep(model: MoECausalLM, optimizer: tf.Optimizer, backend: string): Promise<BigStep> {
  const v = model.spec.vocabSize;
  const {limit, n} = limitFor(backend, v);
  const batch = n / CONTEXT;
  const b = sampleBatch(ids, batch, CONTEXT, rng(4242));
  const inputs = tf.tensor1d(b.inputs, 'int32'), targets = tf.tensor1d(b.targets, 'int32');
  status(`one step at N=${n} tokens (${batch} sequences × ${CONTEXT}), V=${v}: fused head…`);
  await tf.nextFrame();
  const t0 = performance.now();
  let loss = NaN;
  const {peakBytes} = await peakBytesDuring(async () => {
    const value = optimizer.minimize(() => model.loss(inputs, targets, batch, 0, true).total, true,
                                     model.trainableVariables())!;
    loss = (await value.data())[0];
    value.dispose();
  });
  const fusedMs = performance.now() - t0;
  status(`one step at N=${n}: fused loss ${loss.toFixed(3)}; now the naive head…`);
  await tf.nextFrame();
  const hidden = tf.tidy(() => model.hidden(inputs, batch, false));
  const naiveError = await tryNaive(backend, hidden, model.classifier(), targets);
  tf.dispose([hidden, inputs, targets]);
  return {backend, n, v, limit, naiveError, naiveLogitsBytes: n * v * 4, fusedLoss: loss, fusedPeakBytes: peakBytes,
          fusedMs};
}

function showBigStep(r: BigStep) {
  const table = $<HTMLTableElement>('big-step');
  while (table.rows.length > 1) table.deleteRow(1);
  const add = (head: string, outcome: string) => {
    const row = table.insertRow();
    row.insertCell().textContent = head;
    row.insertCell().textContent = outcome;
  };
  add('shape', `N=${r.n} tokens, D=${CONFIG['hidden_size']}, V=${r.v} on ${r.backend}; limit: ${r.limit}; ` +
               `the naive logits alone take ${mib(r.naiveLogitsBytes)}`);
  add('naive: matMul + softmaxCrossEntropy', r.naiveError == null ? 'ran (no limit was hit)' : `failed: ${r.naiveError}`);
  add('fused linearCrossEntropy (whole training step)',
      `loss ${r.fusedLoss.toFixed(3)}, peak tensor memory ${mib(r.fusedPeakBytes)}, ${(r.fusedMs / 1000).toFixed(1)} s`);
}

async function train(big: boolean) {
  const backend = $<HTMLSelectElement>('backend').value;
  const steps = Number($<HTMLInputElement>('steps').value);
  if (!Number.isInteger(steps) || steps < 1) {
    status(`steps must be a positive integer, got '${$<HTMLInputElement>('steps').value}'`);
    return;
  }
  if (!(await tf.setBackend(backend))) {
    status(`backend '${backend}' could not be initialised in this browser`);
    return;
  }
  await tf.ready();
  Object.assign(state, {running: true, backend, steps: [], losses: [], valSteps: [], valLosses: [], loads: [],
                        bigStep: null, error: null, tensorsBefore: tf.memory().numTensors});
  stopRequested = false;
  $<HTMLButtonElement>('start').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  const split = Math.floor(ids.length * 0.9);
  const train = ids.subarray(0, split), val = ids.subarray(split);
  const model = new MoECausalLM(CONFIG, 1, {auxLoss: 0.01, routerZLoss: 1e-3});
  const optimizer = tf.train.adam(1e-2);
  const variables = model.trainableVariables();
  const valBatch = sampleBatch(val, 2 * BATCH, CONTEXT, rng(99));
  const evaluate = async () => {
    const loss = tf.tidy(() => model.loss(tf.tensor1d(valBatch.inputs, 'int32'), tf.tensor1d(valBatch.targets, 'int32'),
                                          2 * BATCH, 0, false).ce);
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };
  try {
    state.valSteps.push(0);
    state.valLosses.push(await evaluate());
    const t0 = performance.now();
    for (let step = 1; step <= steps && !stopRequested; ++step) {
      const b = sampleBatch(train, BATCH, CONTEXT, rng(1000 + step));
      const loss = optimizer.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'),
                                                       BATCH, 0, true).total, true, variables)!;
      model.moe.forEach(m => m?.endStep());  // the aux-loss-free bias moves once per optimizer step
      const value = (await loss.data())[0];
      loss.dispose();
      const m = await model.moe[0]!.readMetrics();
      state.steps.push(step);
      state.losses.push(value);
      state.loads.push(m!.load);
      if (step % 10 === 0 || step === steps) {
        state.valSteps.push(step);
        state.valLosses.push(await evaluate());
      }
      const rate = step * BATCH * CONTEXT / ((performance.now() - t0) / 1000);
      status(`backend ${backend}: step ${step}/${steps}, loss ${value.toFixed(3)}, ${rate.toFixed(0)} tokens/s, ` +
             `validation ${state.valLosses[state.valLosses.length - 1].toFixed(3)} (unigram ${state.unigram.toFixed(3)}), ` +
             `tensors ${tf.memory().numTensors}`);
      charts.update(state);
      await tf.nextFrame();
    }
    if (big && !stopRequested) {
      state.bigStep = await bigStep(model, optimizer, backend);
      showBigStep(state.bigStep);
      status(`done on ${backend}: ${state.steps.length} steps, then one step at N=${state.bigStep.n} (see below)`);
    }
  } catch (e) {
    state.error = (e as Error).message;
    status(`training failed: ${state.error}\n${(e as Error).stack ?? ''}`);
  } finally {
    optimizer.dispose();
    model.dispose();
    state.tensorsAfter = tf.memory().numTensors;
    state.running = false;
    $<HTMLButtonElement>('start').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

async function init() {
  if (!('gpu' in navigator)) {
    const option = $<HTMLSelectElement>('backend').querySelector('option[value=webgpu]') as HTMLOptionElement;
    option.disabled = true;
    option.textContent = 'webgpu (not available here)';
    $<HTMLSelectElement>('backend').value = 'webgl';
  }
  const params = new URLSearchParams(location.search);
  if (params.get('backend')) $<HTMLSelectElement>('backend').value = params.get('backend')!;
  if (params.get('steps')) $<HTMLInputElement>('steps').value = params.get('steps')!;
  charts = new Charts($('loss'), $('load'), CONFIG['num_local_experts'] as number);
  const response = await fetch('corpus.txt');
  if (!response.ok) throw new Error(`corpus.txt: HTTP ${response.status}`);
  const text = (await response.text()).slice(0, CORPUS_CHARS);
  ids = encode(text);
  state.unigram = unigramEntropy(ids, TOKENIZER.vocabSize);
  charts.setBaseline(state.unigram);
  state.ready = true;
  status(`Moby-Dick (first ${CORPUS_CHARS / 1000}k characters): ${ids.length} GPT-2 tokens, unigram entropy ` +
         `${state.unigram.toFixed(3)} nats. Pick a backend and press Train.`);
  $('start').addEventListener('click', () => void train($<HTMLInputElement>('big').checked));
  $('stop').addEventListener('click', () => {
    stopRequested = true;
  });
}

init().catch(e => {
  state.error = (e as Error).message;
  status(`could not start: ${state.error}`);
});
