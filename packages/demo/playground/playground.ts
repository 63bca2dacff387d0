/**
 * The browser playground: the trainer's model (packages/demo/src/trainer)
 * trained live in the page on webgpu, webgl or cpu, with canvas charts of the
 * loss and the expert load, and the head's memory, fused vs naive. State is
 * mirrored on `window.sluicePlayground` for the end-to-end test.
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

import {headMemory} from '../src/trainer/head_memory';
import {TinyMoELM} from '../src/trainer/model';
import {rng, sampleBatch, tokenize, unigramEntropy, Vocabulary} from '../src/trainer/tokenizer';

const CONFIG = {vocab: 2048, dim: 32, layers: 1, context: 16, experts: 4, topK: 2, hidden: 64};
const BATCH = 8;

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
  memory: Array<{variant: string, peakBytes: number, ms: number}>;
  error: string|null;
}

const state: PlaygroundState = {ready: false, running: false, backend: '', steps: [], losses: [], valSteps: [],
                                valLosses: [], loads: [], unigram: NaN, memory: [], error: null};
(window as unknown as {sluicePlayground: PlaygroundState}).sluicePlayground = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => {
  $('status').textContent = text;
};

let stopRequested = false;
let ids: Int32Array;
let vocab: Vocabulary;

function drawLoss() {
  const canvas = $<HTMLCanvasElement>('loss'), g = canvas.getContext('2d')!;
  const {width: w, height: h} = canvas;
  g.clearRect(0, 0, w, h);
  const all = [...state.losses, ...state.valLosses, state.unigram].filter(Number.isFinite);
  if (all.length === 0) return;
  const lo = Math.min(...all) * 0.95, hi = Math.max(...all) * 1.02, last = Math.max(1, ...state.steps);
  const x = (s: number) => 30 + (s / last) * (w - 40), y = (v: number) => h - 20 - ((v - lo) / (hi - lo || 1)) * (h - 30);
  g.strokeStyle = '#c33';
  g.setLineDash([5, 4]);
  g.beginPath();
  g.moveTo(30, y(state.unigram));
  g.lineTo(w - 10, y(state.unigram));
  g.stroke();
  g.setLineDash([]);
  g.strokeStyle = '#36c';
  g.beginPath();
  state.steps.forEach((s, i) => (i ? g.lineTo(x(s), y(state.losses[i])) : g.moveTo(x(s), y(state.losses[i]))));
  g.stroke();
  g.fillStyle = '#193';
  state.valSteps.forEach((s, i) => g.fillRect(x(s) - 3, y(state.valLosses[i]) - 3, 6, 6));
  g.fillStyle = '#222';
  g.fillText(hi.toFixed(2), 2, 12);
  g.fillText(lo.toFixed(2), 2, h - 22);
}

function drawLoad() {
  const canvas = $<HTMLCanvasElement>('load'), g = canvas.getContext('2d')!;
  const {width: w, height: h} = canvas;
  g.clearRect(0, 0, w, h);
  const e = CONFIG.experts, cols = state.loads.length;
  if (cols === 0) return;
  const cw = w / Math.max(cols, 50), rh = h / e;
  state.loads.forEach((load, j) => load.forEach((v, k) => {
    const t = Math.max(-1, Math.min(1, (v - 1 / e) * e));
    const c = Math.round(255 - Math.abs(t) * 200);
    g.fillStyle = t >= 0 ? `rgb(255,${c},${c})` : `rgb(${c},${c},255)`;
    g.fillRect(j * cw, k * rh, Math.ceil(cw), rh - 1);
  }));
}

/** Head memory at N=512 tokens, V=8192, where the logits start to dominate. */
async function showHeadMemory(n: number, v: number) {
  state.memory = await headMemory(n, CONFIG.dim, v);
  const table = $<HTMLTableElement>('memory');
  for (const r of state.memory) {
    const row = table.insertRow();
    row.insertCell().textContent = `${r.variant} (N=${n}, D=${CONFIG.dim}, V=${v})`;
    row.insertCell().textContent = `${(r.peakBytes / 2 ** 20).toFixed(2)} MiB`;
    row.insertCell().textContent = `${r.ms.toFixed(0)} ms`;
  }
}

async function train() {
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
                        error: null});
  stopRequested = false;
  $<HTMLButtonElement>('start').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  const split = Math.floor(ids.length * 0.95);
  const train = ids.subarray(0, split), val = ids.subarray(split);
  const model = new TinyMoELM({...CONFIG, vocab: vocab.size}, 1);
  const optimizer = tf.train.adam(3e-3);
  const variables = model.trainableVariables();
  const valBatch = sampleBatch(val, BATCH, CONFIG.context, rng(99));
  const evaluate = async () => {
    const loss = tf.tidy(() => model.loss(tf.tensor1d(valBatch.inputs, 'int32'), tf.tensor1d(valBatch.targets, 'int32'),
                                          BATCH, 0, false).ce);
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };
  try {
    await showHeadMemory(512, 8192);
    state.valSteps.push(0);
    state.valLosses.push(await evaluate());
    const t0 = performance.now();
    for (let step = 1; step <= steps && !stopRequested; ++step) {
      const b = sampleBatch(train, BATCH, CONFIG.context, rng(1000 + step));
      const alpha = 0.1 + 0.1 * (step - 1) / Math.max(1, steps - 1);
      const loss = optimizer.minimize(() => model.loss(tf.tensor1d(b.inputs, 'int32'), tf.tensor1d(b.targets, 'int32'),
                                                       BATCH, alpha, true).total, true, variables)!;
      model.moe.forEach(m => m.endStep());  // the aux-loss-free bias moves once per optimizer step
      const value = (await loss.data())[0];
      loss.dispose();
      const m = await model.moe[0].readMetrics();
      state.steps.push(step);
      state.losses.push(value);
      state.loads.push(m!.load);
      if (step % 25 === 0 || step === steps) {
        state.valSteps.push(step);
        state.valLosses.push(await evaluate());
      }
      const rate = step * BATCH * CONFIG.context / ((performance.now() - t0) / 1000);
      status(`backend ${backend}: step ${step}/${steps}, loss ${value.toFixed(3)}, ${rate.toFixed(0)} tokens/s, ` +
             `validation ${state.valLosses[state.valLosses.length - 1].toFixed(3)} (unigram ${state.unigram.toFixed(3)}), ` +
             `tensors ${tf.memory().numTensors}`);
      drawLoss();
      drawLoad();
      await tf.nextFrame();
    }
  } catch (e) {
    state.error = (e as Error).message;
    status(`training failed: ${state.error}`);
  } finally {
    optimizer.dispose();
    model.dispose();
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
  const response = await fetch('corpus.txt');
  if (!response.ok) throw new Error(`corpus.txt: HTTP ${response.status}`);
  const tokens = tokenize(await response.text());
  vocab = Vocabulary.build(tokens, CONFIG.vocab);
  ids = vocab.encode(tokens);
  state.unigram = unigramEntropy(ids, vocab.size);
  state.ready = true;
  status(`Moby-Dick: ${tokens.length} tokens, vocabulary ${vocab.size}, unigram entropy ` +
         `${state.unigram.toFixed(3)} nats. Pick a backend and press Train.`);
  $('start').addEventListener('click', () => void train());
  $('stop').addEventListener('click', () => {
    stopRequested = true;
  });
}

init().catch(e => {
  state.error = (e as Error).message;
  status(`could not start: ${state.error}`);
});
