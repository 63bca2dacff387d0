/**
 * webgpu-only checks of the linear cross-entropy kernels: the paths that
 * only huge N or V reach on real hardware (classifier rows or [D, V]
 * columns, embeddings and gradients split across bindings, dispatches split
 * across the workgroup limit), forced at small shapes through the budget
 * flags, with every option of the contract, with and without a bias; the
 * atomic backward; NaN rows for out-of-range labels on the GPU; an absent
 * bias never read; an all-masked vocabulary; the entropy under a large
 * logit offset; the token coefficients computed once per token chunk; the
 * softmax filter skipping tiles of tokens with no coefficient; and failures
 * that must leave nothing behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {linearCrossEntropy} from '@sluice/core';
import {backendTolerance, build, Case, checkAbsentBiasIsNotRead, checkAgainstReference, checkAllMaskedVocabulary,
        checkEntropyUnderOffset, checkOutOfRangeLabelRows, expectClose, lceReferenceBackward, lceReferenceForward,
        opOptions, RefOptions, withFlags} from '@sluice/core/testing';

import {deviceBudget} from './device_budget';
import {SLUICE_WEBGPU_GRAD_BLOCK_BYTES, SLUICE_WEBGPU_LCE_BACKWARD, SLUICE_WEBGPU_MAX_BINDING_BYTES,
        SLUICE_WEBGPU_MAX_WORKGROUPS} from './flags_webgpu';
import type {WebGPUBackend, WebGPUProgram} from './internal';
import {gradBlockLength, LceGradLogitsProgram} from './lce_grad_logits_webgpu';
import {tokenChunk} from './lce_plan';
import {TOKEN_FIELDS} from './lce_token_coef_webgpu';
import {f32, i32} from './uniforms';

const WEBGPU: Constraints = {predicate: env => env.backendName === 'webgpu'};

interface Setting {
  name: string;
  flags: Record<string, number|string>;
}

// N=150, V=301, D=37: E is 22 KB, C 45 KB. A 4 KiB binding budget splits E
// into 27-row chunks, C into 27-row ranges and every gradient into pieces
// copied into place; 2 workgroups per dimension splits token tiles, vocab
// splits and the columns of the gradient matmuls.
const N = 150, V = 301, D = 37;
const SETTINGS: Setting[] = [
  {name: 'default limits', flags: {}},
  {name: 'bindings of 4 KiB (every operand chunked and copied)',
   flags: {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 4096}},
  {name: '1 workgroup per dispatch dimension', flags: {[SLUICE_WEBGPU_MAX_WORKGROUPS]: 1}},
  {name: 'bindings of 6 KiB, 2 workgroups, 2 KiB dz blocks',
   flags: {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 6144, [SLUICE_WEBGPU_MAX_WORKGROUPS]: 2,
           [SLUICE_WEBGPU_GRAD_BLOCK_BYTES]: 2048}},
  {name: 'atomic backward', flags: {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic'}},
  {name: 'atomic backward, bindings of 4 KiB, 1 workgroup',
   flags: {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic', [SLUICE_WEBGPU_MAX_BINDING_BYTES]: 4096,
           [SLUICE_WEBGPU_MAX_WORKGROUPS]: 1}},
];

const ALL: RefOptions = {softcap: 5, labelSmoothing: 0.1, zLoss: 1e-3, maxSup: 0.1};

/** The number of programs run during `f` whose shaderKey starts with each prefix. */
async function countPrograms(prefixes: string[], f: () => Promise<void>): Promise<number[]> {
  const backend = tf.backend() as unknown as WebGPUBackend;
  const original = backend.runWebGPUProgram;
  const counts = prefixes.map(() => 0);
  backend.runWebGPUProgram = (program: WebGPUProgram, inputs, dtype, uniforms, output) => {
    prefixes.forEach((prefix, i) => counts[i] += program.shaderKey.startsWith(prefix) ? 1 : 0);
    return original.call(backend, program, inputs, dtype, uniforms, output);
  };
  try {
    await f();
  } finally {
    backend.runWebGPUProgram = original;
  }
  return counts;
}

/** Registers the suite; test entries that run a 'webgpu' env call it. */
export function describeWebGPULinearCrossEntropy() {
describeWithFlags('linearCrossEntropy webgpu kernels', WEBGPU, env => {
  const tol = backendTolerance(env.backendName);

  // Registration: registration_webgpu_test.ts (run by every part with a webgpu env).

  // Three problems per setting: a [V, D] classifier with a bias and every option; a [D, V] one with
  // masked classes (inside and at the end of the vocabulary), classWeights and every option; and one
  // without a bias (nothing of the op's zeros read) with classWeights. Their lse and entropy are checked too.
  const PROBLEMS: Array<[string, Case]> = [
    ['all options', {n: N, v: V, d: D, seed: 101, scale: 2, withBias: true, ignoreFraction: 0.2,
                     options: {...ALL, reduction: 'none'}}],
    ['all options, classifier [D, V], masked classes, classWeights',
     {n: N, v: V, d: D, seed: 102, scale: 2, layout: 'dv', masked: [[40, 75], [290, 301]], classWeights: true,
      ignoreFraction: 0.2, options: {...ALL, reduction: 'none'}}],
    ['all options, no bias, classWeights', {n: N, v: V, d: D, seed: 103, scale: 2, classWeights: true,
                                            ignoreFraction: 0.2, options: {...ALL, reduction: 'none'}}],
  ];
  for (const setting of SETTINGS) {
    for (const [name, k] of PROBLEMS) {
      it(`match float64 with ${setting.name} (N=${N}, V=${V}, D=${D}, ${name})`, () =>
         withFlags(setting.flags, async () => {
        const fwd = await checkAgainstReference(k, tol);
        const built = build(k);
        const before = tf.memory().numTensors;
        const r = linearCrossEntropy(built.e, built.c, built.y,
                                     {...opOptions(k, built, built.b), returnLse: true, returnEntropy: true});
        expectClose(await r.lse.data(), fwd.lse, tol, 'lse');
        expectClose(await r.entropy.data(), fwd.entropy, tol, 'entropy');
        tf.dispose([r.loss, r.lse, r.entropy]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([built.e, built.c, built.y, ...(built.b ? [built.b] : []), ...(built.w ? [built.w] : [])]);
      }));
    }
  }

  // Labels computed on the GPU are not read back by the op (see core's host_values.ts), so a label
  // outside [0, V) reaches the kernels through the op.
  const OOR_CASES: Array<{name: string, options: RefOptions, flags: Record<string, number|string>}> = [
    {name: 'plain (softmax filter on)', options: {}, flags: {}},
    {name: 'all options', options: {...ALL}, flags: {}},
    {name: 'plain, atomic backward', options: {}, flags: {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic'}},
    {name: 'all options, 1 workgroup per dimension', options: {softcap: 5, labelSmoothing: 0.1, maxSup: 0.1},
     flags: {[SLUICE_WEBGPU_MAX_WORKGROUPS]: 1}},
  ];
  for (const c of OOR_CASES) {
    it(`give NaN loss and dEmbeddings rows for device-resident labels outside [0, V) (${c.name})`, () =>
       withFlags(c.flags, () => checkOutOfRangeLabelRows(c.options, tol, ({e, c: cl, b, labels, options}) => {
         const o = {...options, bias: b, reduction: 'none' as const};
         const losses = linearCrossEntropy(e, cl, labels, o) as tf.Tensor;
         const [dEmbeddings, dClassifier] = tf.grads((ee: tf.Tensor, cc: tf.Tensor) =>
             tf.sum(linearCrossEntropy(ee as tf.Tensor2D, cc as tf.Tensor2D, labels, o) as tf.Tensor))([e, cl]);
         return {losses, dEmbeddings, dClassifier};
       })));
  }

  for (const [name, flags] of [['two-pass', {}], ['atomic', {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic'}],
                               ['two-pass, bindings of 4 KiB', {[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 4096}]] as
       Array<[string, Record<string, string|number>]>) {
    it(`never read the op's zero bias when the caller gave none (hasBias false; ${name} backward)`, () =>
       withFlags(flags, () => checkAbsentBiasIsNotRead(tol)));
  }

  it('give NaN lse and kept-token losses when every class is masked (plain, every option)', async () => {
    await checkAllMaskedVocabulary(tol);
    await checkAllMaskedVocabulary(tol, {...ALL});
  });

  it('keep the entropy exact under a shared logit offset of 1e4 (float64 within 2e-4)', () =>
     checkEntropyUnderOffset(1e4, 2e-4));

  it('compute the per-token coefficients once per token chunk, not once per (vocabulary block, chunk)', () =>
     withFlags({[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 4096, [SLUICE_WEBGPU_GRAD_BLOCK_BYTES]: 2048}, async () => {
       const k: Case = {n: N, v: V, d: D, seed: 104, withBias: true, ignoreFraction: 0.1};
       const chunks = Math.ceil(N / tokenChunk(N, D, deviceBudget(tf.backend() as unknown as WebGPUBackend)));
       const [coef, logits] = await countPrograms(['sluice_lceTokenCoef', 'sluice_lceGradLogits'], async () => {
         await checkAgainstReference(k, tol);
       });
       expect(chunks).withContext('token chunks (the setting must make several)').toBeGreaterThan(1);
       expect(logits).withContext('dz blocks: several vocabulary blocks per token chunk').toBeGreaterThan(2 * chunks);
       expect(coef).withContext('token-coefficient programs').toBe(chunks);
     }));

  // An ignored token with no lse gradient has every coefficient 0, so its dz is exactly 0 everywhere; it
  // must not keep a tile that the kept tokens would let the filter skip (padding tokens are common).
  it('skip dz tiles of tokens whose coefficients are all 0, keep those of tokens with any (LceGradLogitsProgram)',
     async () => {
       const backend = tf.backend() as unknown as WebGPUBackend;
       const nt = 64, bl = 64, d = 4, eps = 1e-6;
       const e = Float32Array.from({length: nt * d}, (_, i) => ((i * 7) % 11) / 11 - 0.5);
       const c = Float32Array.from({length: bl * d}, (_, i) => ((i * 5) % 13) / 13 - 0.5);
       // Tokens 0..31 (token tile 0): all coefficients 0. Tokens 32..63: lse 0 and softmax coefficient 1, so
       // dz = exp(x) (≥ eps everywhere), minus 1 at label column 3.
       const tok = new Float32Array(nt * TOKEN_FIELDS);
       for (let i = 0; i < nt; ++i) {
         tok.set(i < 32 ? [0, 0, 0, 0, 0, 0, -100, 0] : [0, 1, 0, 0, -1, 0, 3, 0], i * TOKEN_FIELDS);
       }
       const inputs = [tf.tensor2d(e, [nt, d]), tf.tensor2d(c, [bl, d]), tf.tensor2d(tok, [nt, TOKEN_FIELDS])];
       const program = new LceGradLogitsProgram(gradBlockLength(nt, bl), nt, bl, false, false, 'vd', false);
       const info = backend.runWebGPUProgram(program, inputs, 'float32', [
         i32(nt), i32(0), i32(0), i32(bl), i32(0), i32(d), i32(d), i32(0), f32(0), f32(eps),
       ]);
       const out = tf.engine().makeTensorFromTensorInfo(info);
       const values = await out.data();
       const flags = Array.from(values.slice(nt * bl));  // [token tile, vocabulary tile], 1 = skipped
       expect(flags).withContext('skip flags').toEqual([1, 1, 0, 0]);
       const expected = new Float64Array(nt * bl);
       for (let i = 32; i < nt; ++i) {
         for (let j = 0; j < bl; ++j) {
           let x = 0;
           for (let q = 0; q < d; ++q) x += e[i * d + q] * c[j * d + q];
           expected[i * bl + j] = Math.exp(x) - (j === 3 ? 1 : 0);
         }
       }
       expectClose(values.slice(0, nt * bl), expected, tol, 'dz (0 in the skipped tiles)');
       tf.dispose([out, ...inputs]);
     });

  // Mostly padding: with the filter on, the kept tokens' gradients and those that flow only through the
  // lse of ignored tokens (dLse ≠ 0: a nonzero softmax coefficient) must survive the skipping.
  for (const [name, flags] of [['two-pass', {}], ['atomic', {[SLUICE_WEBGPU_LCE_BACKWARD]: 'atomic'}]] as
       Array<[string, Record<string, string|number>]>) {
    it(`match float64 with 80% ignored tokens and the softmax filter on, also through the lse (${name})`, () =>
       withFlags(flags, async () => {
         const k: Case = {n: 96, v: 200, d: 16, seed: 105, scale: 8, withBias: true, ignoreFraction: 0.8};
         await checkAgainstReference(k, tol);
         const {ref, e, c, y, b} = build(k);
         const fwd = lceReferenceForward(ref);
         // d/dθ (Σ loss + 0.3·Σ lse²): every token, ignored ones included, has dLse = 0.6·lse.
         const grads = tf.grads((ee: tf.Tensor, cc: tf.Tensor, bb: tf.Tensor) => {
           const r = linearCrossEntropy(ee, cc, y, {bias: bb as tf.Tensor1D, reduction: 'sum', returnLse: true});
           return tf.add(r.loss, tf.mul(0.3, tf.sum(tf.square(r.lse)))) as tf.Scalar;
         })([e, c, b!]);
         const expected = lceReferenceBackward(ref, fwd, new Float64Array(k.n).fill(1), fwd.lse.map(l => 0.6 * l));
         expectClose(await grads[0].data(), expected.dEmbeddings, tol, 'dEmbeddings');
         expectClose(await grads[1].data(), expected.dClassifier, tol, 'dClassifier');
         expectClose(await grads[2].data(), expected.dBias, tol, 'dBias');
         tf.dispose([...grads, e, c, y, b!]);
       }));
  }

  it('fails with the attempted shape and frees every buffer when one row exceeds the binding budget', () =>
     withFlags({[SLUICE_WEBGPU_MAX_BINDING_BYTES]: 64}, async () => {
       const e = tf.ones([5, 40]) as tf.Tensor2D, c = tf.ones([7, 40]) as tf.Tensor2D;
       const y = tf.tensor1d([0, 1, 2, 3, 4], 'int32');
       const gpu = tf.backend() as unknown as {memory(): {numBytesInGPU: number}};
       await tf.ready();
       const tensors = tf.memory().numTensors, bytes = gpu.memory().numBytesInGPU;
       expect(() => linearCrossEntropy(e, c, y)).toThrowError(
           /SluiceLinearCrossEntropy \(webgpu\) failed for N=5, D=40, V=7: .*binding limit \(64 bytes\)/);
       expect(tf.memory().numTensors).toBe(tensors);
       expect(gpu.memory().numBytesInGPU).toBeLessThanOrEqual(bytes);
       tf.dispose([e, c, y]);
     }));
});
}
