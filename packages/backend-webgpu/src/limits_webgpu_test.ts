/**
 * Limits (webgpu through Dawn in Node): shapes past WebGPU's default
 * maxStorageBufferBindingSize (128 MiB) and maxComputeWorkgroupsPerDimension
 * (65,535) run by chunking and match a float64 reference.
 *
 * Dawn on SwiftShader grants 1 GiB bindings (and 1 GiB buffers), more than
 * the 128 MiB a default device guarantees, so each case runs under the
 * kernels' budget flag set to WebGPU's defaults, and a recorder wrapped
 * around the backend's recordAndSubmit checks what a default device would
 * reject: every binding of every program the op ran is ≤ 128 MiB and every
 * dispatch dimension ≤ 65,535. (Dawn itself enforces its own limits.)
 *
 * Always run, each at the smallest shape that crosses its limit: Dawn's
 * adapter and device limits (printed); topOneSuppression under 64-byte
 * bindings and 2 workgroups per dimension (every chunking path, gradient
 * included) and its error when one row cannot fit; topOneSuppression over
 * 256 MiB of logits (row chunks of ≤ 128 MiB) and over 65,536 rows (a 2-D
 * grid of workgroups); linearCrossEntropy forward + backward over N = 65,537
 * tokens under default limits, and over N = 16,384 under 128 KiB bindings /
 * 128 workgroups (the chunking plan N = 131,072 gets under 1 MiB / 1,024).
 * With SLUICE_LIMIT_TESTS=1 (each skip
 * prints why): linearCrossEntropy with V = 262,144, D = 1,020 (a 1,020 MiB
 * classifier; 1 GiB exactly cannot be allocated on SwiftShader) under
 * default limits and bound whole, and topOneSuppression over 1,020 MiB.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {linearCrossEntropy, topOneSuppression} from '@sluice/core';
import {backendTolerance, expectClose, lceReferenceBackward, lceReferenceForward, randomLabels, seededRandom,
        topOneSuppressionReferenceBackward, topOneSuppressionReferenceForward, uniformArray,
        withFlags} from '@sluice/core/testing';

import {SLUICE_WEBGPU_MAX_BINDING_BYTES, SLUICE_WEBGPU_MAX_WORKGROUPS} from './flags_webgpu';

const MiB = 1 << 20;
/** WebGPU's default limits (what a device guarantees without requesting more). */
const DEFAULT_BINDING = 128 * MiB;
const DEFAULT_WORKGROUPS = 65535;
const DEFAULT_LIMITS = {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: DEFAULT_BINDING, [SLUICE_WEBGPU_MAX_WORKGROUPS]: DEFAULT_WORKGROUPS};

const envVar = (name: string) => (typeof process !== 'undefined' ? process.env[name] : undefined);
const FULL = envVar('SLUICE_LIMIT_TESTS') === '1';
const WEBGPU_NODE: Constraints = {predicate: env => env.backendName === 'webgpu' && tf.env().getBool('IS_NODE')};
/** Tokens of the default-limits case: past DEFAULT_WORKGROUPS, and not a multiple of the 32-row token tiles. */
const BIG_N = DEFAULT_WORKGROUPS + 2;

interface Extremes {
  maxBinding: number;
  maxBindingKey: string;
  maxDispatch: number;
  maxDispatchKey: string;
  /** The most workgroups one dispatch launched (all dimensions): past 65,535 only through a 2-D or 3-D grid. */
  maxGrid: number;
}
/** Over every program the op ran, and over sluice's own (shaderKey `sluice_…`). */
interface Recorded {
  programs: number;
  all: Extremes;
  ours: Extremes;
}

const noExtremes = (): Extremes => ({maxBinding: 0, maxBindingKey: '', maxDispatch: 0, maxDispatchKey: '', maxGrid: 0});

function note(x: Extremes, key: string, bytes: number, dispatch: number, grid: number) {
  x.maxGrid = Math.max(x.maxGrid, grid);
  if (bytes > x.maxBinding) {
    x.maxBinding = bytes;
    x.maxBindingKey = key;
  }
  if (dispatch > x.maxDispatch) {
    x.maxDispatch = dispatch;
    x.maxDispatchKey = key;
  }
}

interface RecordingBackend {
  recordAndSubmit(program: {shaderKey: string, dispatch: number[]}, output: tf.TensorInfo,
                  inputs: tf.TensorInfo[], ...rest: unknown[]): void;
}

/** Runs `f` (synchronous: the programs are recorded as the ops run) and reports its bindings and dispatches. */
function recording<T>(f: () => T): {value: T, rec: Recorded} {
  const backend = tf.backend() as unknown as RecordingBackend;
  const rec: Recorded = {programs: 0, all: noExtremes(), ours: noExtremes()};
  const original = backend.recordAndSubmit;
  backend.recordAndSubmit = function(this: RecordingBackend, program, output, inputs, ...rest) {
    rec.programs++;
    const bytes = Math.max(...[output, ...inputs].map(t => tf.util.sizeFromShape(t.shape) * 4));
    const dispatch = Math.max(...program.dispatch);
    const grid = program.dispatch.reduce((a, b) => a * b, 1);
    note(rec.all, program.shaderKey, bytes, dispatch, grid);
    if (program.shaderKey.startsWith('sluice_')) {
      note(rec.ours, program.shaderKey, bytes, dispatch, grid);
    }
    return original.call(this, program, output, inputs, ...rest);
  };
  try {
    return {value: f(), rec};
  } finally {
    backend.recordAndSubmit = original;
  }
}

function expectWithin(rec: Extremes, bindingBytes: number, workgroups: number) {
  expect(rec.maxBinding).withContext(`largest binding (${rec.maxBindingKey})`).toBeLessThanOrEqual(bindingBytes);
  expect(rec.maxDispatch).withContext(`largest dispatch dimension (${rec.maxDispatchKey})`)
      .toBeLessThanOrEqual(workgroups);
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const describeRec = (rec: Recorded) => `${rec.programs} programs; largest binding ${mib(rec.all.maxBinding)} ` +
    `(${rec.all.maxBindingKey}; ours ${mib(rec.ours.maxBinding)}), largest dispatch dimension ${rec.all.maxDispatch} ` +
    `(${rec.all.maxDispatchKey}; ours ${rec.ours.maxDispatch})`;
const log = (what: string) => console.log(`\n[limits] ${what}`);

/** The GPU queue drained: a huge case's buffers are really gone before the next one starts. */
async function drain() {
  const backend = tf.backend() as unknown as {device: GPUDevice};
  await backend.device.queue.onSubmittedWorkDone();
}

/**
 * linearCrossEntropy (mean reduction, no options) with V·D past the binding
 * budget, checked against float64: the mean loss, every row's lse, dE, and a
 * sample of dC rows (all label rows, the first and last, and random ones).
 */
async function bigVocabularyCase(n: number, v: number, d: number, flags: Record<string, number>, binding: number,
                                 workgroups: number) {
  let t = Date.now();
  const rand = seededRandom(9001);
  const embeddings = uniformArray(rand, n * d, -0.1, 0.1);
  const classifier = uniformArray(rand, v * d);
  const labels = randomLabels(rand, n, v, -100, 0);
  const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]), y = tf.tensor1d(labels, 'int32');
  log(`V=${v}, D=${d}, N=${n}: classifier ${mib(v * d * 4)}; inputs made in ${(Date.now() - t) / 1000} s`);
  await withFlags(flags, async () => {
    t = Date.now();
    // One forward and one backward: the lse rides out of the gradient closure with tf.keep.
    let kept: tf.Tensor|undefined;
    const {value: out, rec} = recording(() => {
      const {value, grads} = tf.valueAndGrads((ee: tf.Tensor, cc: tf.Tensor) => {
        const r = linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, {returnLse: true}) as
            {loss: tf.Scalar, lse: tf.Tensor};
        kept = tf.keep(r.lse);
        return r.loss;
      })([e, c]);
      return {loss: value, lse: kept!, dE: grads[0], dC: grads[1]};
    });
    const [loss, lse, dE] = await Promise.all([out.loss.data(), out.lse.data(), out.dE.data()]);
    const sample = Array.from(new Set([0, v - 1, ...Array.from(labels), ...Array.from({length: 16}, () => Math.floor(rand() * v))]));
    const sampleIndex = tf.tensor1d(sample, 'int32');
    const rows = tf.gather(out.dC, sampleIndex);
    const dCRows = await rows.data();
    const gpuSeconds = (Date.now() - t) / 1000;
    log(`  webgpu forward + backward in ${gpuSeconds.toFixed(1)} s over ${describeRec(rec)}`);
    expectWithin(rec.all, binding, workgroups);
    expect(out.dC.shape).toEqual([v, d]);

    // float64 reference over all N·V logits, gradients of the mean only where checked.
    t = Date.now();
    const ref = lceReferenceForward({n, d, v, embeddings, classifier, labels});
    const g = 1 / n;
    const dz = new Float64Array(n * v);  // g·(softmax − onehot)
    for (let i = 0; i < n; ++i) {
      for (let j = 0; j < v; ++j) {
        dz[i * v + j] = g * (Math.exp(ref.logits[i * v + j] - ref.lse[i]) - (j === labels[i] ? 1 : 0));
      }
    }
    const dERef = new Float64Array(n * d);
    for (let i = 0; i < n; ++i) {
      for (let j = 0; j < v; ++j) {
        const w = dz[i * v + j];
        for (let k = 0; k < d; ++k) dERef[i * d + k] += w * classifier[j * d + k];
      }
    }
    const dCRef = new Float64Array(sample.length * d);
    sample.forEach((j, s) => {
      for (let i = 0; i < n; ++i) {
        for (let k = 0; k < d; ++k) dCRef[s * d + k] += dz[i * v + j] * embeddings[i * d + k];
      }
    });
    log(`  float64 reference in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const tol = backendTolerance('webgpu');
    expectClose(loss, [ref.losses.reduce((a, b) => a + b, 0) / n], tol, 'mean loss');
    expectClose(lse, ref.lse, tol, 'lse');
    expectClose(dE, dERef, tol, 'dEmbeddings');
    expectClose(dCRows, dCRef, tol, 'dClassifier (sampled rows)');
    tf.dispose([out.loss, out.lse, out.dE, out.dC, rows, sampleIndex]);
  });
  tf.dispose([e, c, y]);
  await drain();
}

async function topOneCase(n: number, v: number, flags: Record<string, number>, binding: number,
                          workgroups: number): Promise<Recorded> {
  const rand = seededRandom(4242);
  let recorded: Recorded|undefined;
  const values = uniformArray(rand, n * v, -4, 4);
  const logits = tf.tensor2d(values, [n, v]);
  await withFlags(flags, async () => {
    const t = Date.now();
    const {value: penalty, rec} = recording(() => topOneSuppression(logits, 0.7));
    recorded = rec;
    const got = await penalty.data();
    log(`topOneSuppression N=${n}, V=${v} (${mib(n * v * 4)} of logits) in ${((Date.now() - t) / 1000).toFixed(1)} s ` +
        `over ${describeRec(rec)}`);
    expectWithin(rec.all, binding, workgroups);
    const expected = new Float64Array(n);
    for (let i = 0; i < n; ++i) {
      let best = -Infinity, sum = 0;
      for (let j = 0; j < v; ++j) {
        const z = values[i * v + j];
        best = Math.max(best, z);
        sum += z;
      }
      expected[i] = 0.7 * (best - sum / v);
    }
    expectClose(got, expected, backendTolerance('webgpu'), 'penalty');
    penalty.dispose();
  });
  logits.dispose();
  await drain();
  return recorded!;
}

/** linearCrossEntropy over N tokens (V = 100, D = 16, MaxSup and smoothing), all rows against float64. */
async function bigTokenCase(n: number, name: string, flags: Record<string, number>, binding: number,
                            workgroups: number) {
  const v = 100, d = 16;
  const rand = seededRandom(77);
  const embeddings = uniformArray(rand, n * d);
  const classifier = uniformArray(rand, v * d);
  const labels = randomLabels(rand, n, v, -100, 0.1);
  const opts = {maxSup: 0.1, labelSmoothing: 0.05};
  const ref = {n, d, v, embeddings, classifier, labels, ...opts};
  const fwd = lceReferenceForward(ref);
  const valid = labels.reduce((acc, l) => acc + (l === -100 ? 0 : 1), 0);
  const expected = lceReferenceBackward(ref, fwd, new Float64Array(n).fill(1 / valid));
  const e = tf.tensor2d(embeddings, [n, d]), c = tf.tensor2d(classifier, [v, d]), y = tf.tensor1d(labels, 'int32');
  await withFlags(flags, async () => {
    const t = Date.now();
    const {value, rec} = recording(() => {
      const {loss, lse} = linearCrossEntropy(e, c, y, {...opts, returnLse: true, reduction: 'none'}) as
          {loss: tf.Tensor, lse: tf.Tensor};
      const grads = tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
          linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, y, opts) as tf.Scalar)([e, c]);
      return [loss, lse, ...grads];
    });
    const [losses, lse, dE, dC] = await Promise.all(value.map(x => x.data()));
    log(`linearCrossEntropy N=${n}, V=${v}, D=${d} (${name}) in ${((Date.now() - t) / 1000).toFixed(1)} s ` +
        `over ${describeRec(rec)}`);
    // Under scaled-down budgets only sluice's programs follow them (tfjs's own dispatch [N] vectors as they like).
    expectWithin(binding >= DEFAULT_BINDING ? rec.all : rec.ours, binding, workgroups);
    const tol = backendTolerance('webgpu');
    expectClose(losses, fwd.losses, tol, `${name}: losses`);
    expectClose(lse, fwd.lse, tol, `${name}: lse`);
    expectClose(dE, expected.dEmbeddings, tol, `${name}: dEmbeddings`);
    expectClose(dC, expected.dClassifier, tol, `${name}: dClassifier`);
    tf.dispose(value);
  });
  tf.dispose([e, c, y]);
  await drain();
}

/** A spec that runs only with SLUICE_LIMIT_TESTS=1, and otherwise shows as skipped with why. */
function gated(title: string, cost: string, body: () => Promise<void>) {
  it(`[SLUICE_LIMIT_TESTS] ${title}`, async () => {
    if (!FULL) {
      pending(`set SLUICE_LIMIT_TESTS=1 to run: ${cost}`);
      return;
    }
    await body();
  }, 60 * 60 * 1000);
}

export function describeWebGPULimits() {
  describeWithFlags('reliability: webgpu limits', WEBGPU_NODE, () => {
    it('Dawn reports its adapter and device limits', async () => {
      const adapter = await navigator.gpu.requestAdapter({powerPreference: 'high-performance'});
      const device = (tf.backend() as unknown as {device: GPUDevice}).device;
      const pick = (limits: GPUSupportedLimits) => Object.fromEntries(
          ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension',
           'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'minStorageBufferOffsetAlignment',
           'maxStorageBuffersPerShaderStage'].map(k => [k, (limits as unknown as Record<string, number>)[k]]));
      const info = (adapter as unknown as {info?: {description?: string, architecture?: string}})?.info;
      log(`adapter ${JSON.stringify(info?.description || info?.architecture || '')}: ` +
          `${JSON.stringify(pick(adapter!.limits))}`);
      log(`tfjs's device: ${JSON.stringify(pick(device.limits))}`);
      expect(device.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(DEFAULT_BINDING);
      expect(device.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(DEFAULT_WORKGROUPS);
    });

    it('topOneSuppression over 256 MiB of logits (N = 1,024, V = 65,536) runs in row chunks of ≤ 128 MiB', () =>
       topOneCase(1024, 65536, DEFAULT_LIMITS, DEFAULT_BINDING, DEFAULT_WORKGROUPS), 10 * 60 * 1000);

    it('topOneSuppression under 64-byte bindings and 2 workgroups per dimension (row copies, output pieces, ' +
       '2-D grid) matches float64, gradient included', () => withFlags({[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 64,
                                                                       [SLUICE_WEBGPU_MAX_WORKGROUPS]: 2}, async () => {
      const n = 37, v = 5, alpha = 0.6;
      const values = uniformArray(seededRandom(5), n * v, -3, 3);
      const logits = tf.tensor2d(values, [n, v]);
      const weights = uniformArray(seededRandom(6), n, 0.5, 1.5);
      const w = tf.tensor1d(weights);
      const {value: out, rec} = recording(() => tf.valueAndGrad((x: tf.Tensor) =>
          tf.sum(tf.mul(topOneSuppression(x as tf.Tensor2D, alpha), w)))(logits));
      expectWithin(rec.ours, 64, 2);
      const fwd = topOneSuppressionReferenceForward(values, n, v, alpha);
      const tol = backendTolerance('webgpu');
      expectClose(await out.value.data(), [fwd.penalty.reduce((acc, p, i) => acc + p * weights[i], 0)], tol, 'penalty');
      expectClose(await out.grad.data(), topOneSuppressionReferenceBackward(fwd, v, alpha, weights), tol, 'dLogits');
      tf.dispose([out.value, out.grad, logits, w]);
    }));

    it('topOneSuppression fails naming the shape, and frees everything, when one row exceeds the binding budget', () =>
       withFlags({[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 64}, async () => {
         const logits = tf.ones([3, 40]) as tf.Tensor2D;
         await tf.ready();
         const gpu = tf.backend() as unknown as {memory(): {numBytesInGPU: number}};
         const tensors = tf.memory().numTensors, bytes = gpu.memory().numBytesInGPU;
         expect(() => topOneSuppression(logits)).toThrowError(
             /SluiceTopOneSuppression \(webgpu\) failed for N=3, V=40: .*one row of 40 logits .*binding limit \(64 bytes\)/);
         expect(tf.memory().numTensors).toBe(tensors);
         expect(gpu.memory().numBytesInGPU).toBeLessThanOrEqual(bytes);
         logits.dispose();
       }));

    // SwiftShader pays per workgroup and per FLOP what a GPU does not, so each case below is the smallest that
    // still crosses its limit (they ran at N = 131,072 before: 36 s, 63 s and 37 s of a loaded CI run).

    // N = 65,537: more tokens than one dispatch dimension has workgroups (65,535), and a partial last token tile.
    it('linearCrossEntropy with N = 65,537 tokens (past 65,535) matches float64 under default limits', () =>
       bigTokenCase(BIG_N, 'default limits', DEFAULT_LIMITS, DEFAULT_BINDING, DEFAULT_WORKGROUPS), 15 * 60 * 1000);

    // The budgets are flags (SLUICE_WEBGPU_*), so the large-N chunking plan scales down with N: N = 16,384 under
    // 128 KiB bindings and 128 workgroups makes the plan that N = 131,072 made under 1 MiB and 1,024 (embeddings
    // 8× the binding: 8 token chunks of 2,048; 2 vocabulary splits; dz blocks of 12 classes: 9 per chunk).
    it('linearCrossEntropy with N = 16,384 tokens under 128 KiB bindings and 128 workgroups per dimension', () => {
      const n = 16384, binding = 128 * 1024;
      expect(n * 16 * 4).withContext('embeddings bytes (8 bindings)').toBe(8 * binding);
      return bigTokenCase(n, '128 KiB bindings, 128 workgroups',
                          {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: binding, [SLUICE_WEBGPU_MAX_WORKGROUPS]: 128}, binding,
                          128);
    }, 15 * 60 * 1000);

    // N = 65,536 rows, one workgroup each: one more than a dispatch dimension holds, so the grid must be 2-D.
    it('topOneSuppression with N = 65,536 rows (a workgroup per row: a 2-D grid past 65,535) matches float64',
       async () => {
         const rec = await topOneCase(DEFAULT_WORKGROUPS + 1, 100, DEFAULT_LIMITS, DEFAULT_BINDING, DEFAULT_WORKGROUPS);
         expect(rec.ours.maxGrid).withContext('workgroups of one topOneSuppression dispatch')
             .toBeGreaterThan(DEFAULT_WORKGROUPS);
       }, 15 * 60 * 1000);

    // The 1 GiB-class cases: ~3-4 GiB of host memory each (SwiftShader's buffers live there too) and minutes.
    // 1 GiB exactly is Dawn's reported maxBufferSize, but SwiftShader cannot allocate it
    // (VK_ERROR_OUT_OF_DEVICE_MEMORY; 1 GiB − 4 KiB works): D = 1,020 keeps the classifier at 1,020 MiB.
    gated('linearCrossEntropy with V = 262,144, D = 1,020 (a 1,020 MiB classifier: 8 ranges) at N = 8 under ' +
          'default limits', '~34 GFLOP (token tiles padded to 32 rows) and ~4 GiB of host memory: 595 s on a loaded ' +
          '2-core SwiftShader',
          () => bigVocabularyCase(8, 262144, 1020, DEFAULT_LIMITS, DEFAULT_BINDING, DEFAULT_WORKGROUPS));
    gated('linearCrossEntropy with V = 262,144, D = 1,020 at N = 8, the classifier bound whole (Dawn\'s 1 GiB ' +
          'binding limit)', '~34 GFLOP and ~4 GiB of host memory: 245 s on a 2-core SwiftShader', () => {
      const device = (tf.backend() as unknown as {device: GPUDevice}).device;
      return bigVocabularyCase(8, 262144, 1020, {}, device.limits.maxStorageBufferBindingSize, DEFAULT_WORKGROUPS);
    });
    gated('topOneSuppression over 1,020 MiB of logits (N = 4,080, V = 65,536) under default limits',
          '~3 GiB of host memory (logits, their upload and SwiftShader\'s buffers): 47 s on a loaded 2-core SwiftShader',
          async () => {
            await topOneCase(4080, 65536, DEFAULT_LIMITS, DEFAULT_BINDING, DEFAULT_WORKGROUPS);
          });
  });
}
