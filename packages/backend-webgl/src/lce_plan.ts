/**
 * How the fused cross-entropy kernels cut the vocabulary on webgl, and the
 * logits of one chunk. Only [N, chunk] blocks of logits ever exist (never
 * N×V): tfjs's webgl backend cannot even allocate N×V once it exceeds the
 * largest texture (8192² or 16384² texels), which is where naive
 * cross-entropy fails at N = 4096, V = 32768.
 */
import {env, TensorInfo} from '@tensorflow/tfjs-core';
import type {ClassifierLayout} from '@sluice/core';

import {batchMatMulImpl, MathBackendWebGL, reshape, slice} from './internal';

/**
 * 2^22 floats (16 MiB) per [N, chunk] block: a few such blocks are alive at a
 * time (logits, dL/dx, their packed/unpacked copies), far below N×V at the
 * sizes where that matters, and large enough that the per-chunk program
 * launches stay a small part of the work.
 */
const TARGET_BLOCK_ELEMENTS = 1 << 22;
/** Below this the per-chunk launches dominate; only very large N gets here. */
const MIN_CHUNK = 64;

/** Vocabulary rows per chunk: the hint when given, always within the texture limits. */
export function webglVocabChunk(tokens: number, vocab: number, hint: number): number {
  const maxTex = env().getNumber('WEBGL_MAX_TEXTURE_SIZE');
  const n = Math.max(tokens, 1);
  // An [N, chunk] texture holds at most maxTex² texels; keep rows of a chunk
  // within one texture row too, so samplers use 2-D addressing, not a flat index.
  const byTexture = Math.max(1, Math.min(maxTex, Math.floor((maxTex * maxTex) / n)));
  const wanted = hint > 0 ? hint : Math.max(MIN_CHUNK, Math.floor(TARGET_BLOCK_ELEMENTS / n));
  return Math.max(1, Math.min(wanted, vocab, byTexture));
}


/**
 * Tracks a kernel's intermediates so that every one is freed, also when a
 * program throws halfway (e.g. a lost context): nothing but the outputs may
 * outlive the kernel.
 */
export class Scratch {
  private readonly live = new Set<TensorInfo>();
  constructor(private readonly backend: MathBackendWebGL) {}

  add<T extends TensorInfo>(t: T): T {
    this.live.add(t);
    return t;
  }
  /** Hands `t` to the caller: it is no longer disposed here. */
  release<T extends TensorInfo>(t: T): T {
    this.live.delete(t);
    return t;
  }
  dispose(t: TensorInfo|null|undefined) {
    if (t != null && this.live.delete(t)) {
      this.backend.disposeIntermediateTensorInfo(t);
    }
  }
  disposeAll() {
    for (const t of this.live) this.backend.disposeIntermediateTensorInfo(t);
    this.live.clear();
  }
}

/**
 * `x` reshaped to `shape` as a packed tensor, registered in `scratch` (one
 * pack pass, or none when the reshape already gives a packed texture): for
 * packed programs that read a small O(N) or O(V) input, packed once per call
 * instead of by tfjs on every program that reads it.
 */
export function packedAs(backend: MathBackendWebGL, scratch: Scratch, x: TensorInfo, shape: number[]): TensorInfo {
  const shaped = scratch.add(reshape({inputs: {x}, backend, attrs: {shape}}));
  if (backend.texData.get(shaped.dataId).isPacked === true) {
    return shaped;
  }
  const packed = scratch.add(backend.packTensor(shaped));
  scratch.dispose(shaped);
  return packed;
}

/** V of a classifier [V, D] ('vd') or [D, V] ('dv'). */
export function vocabOf(c: TensorInfo, layout: ClassifierLayout): number {
  return layout === 'dv' ? c.shape[1] : c.shape[0];
}

/**
 * The chunk's classifier part and its pre-softcap logits x = E·C_chunk + b_chunk
 * [N, size], through tfjs's packed matmul with the bias fused in. 'vd': the
 * chunk's rows, a shallow slice (no copy); 'dv': the classifier [D, V] is fed
 * to the matmul as is (transposeB false), so nothing is transposed; with more
 * than one chunk its columns [D, size] are sliced (tfjs copies a column block:
 * D × size floats per chunk, never a transposed [V, D]). Both are registered
 * in `scratch`.
 */
export function chunkLogits(backend: MathBackendWebGL, scratch: Scratch, e: TensorInfo, c: TensorInfo,
                            bias: TensorInfo|undefined, layout: ClassifierLayout, start: number, size: number):
    {cChunk: TensorInfo, logits: TensorInfo} {
  const dv = layout === 'dv';
  const v = vocabOf(c, layout);
  const whole = start === 0 && size === v;
  const [begin, extent] = dv ? [[0, start], [c.shape[0], size]] : [[start, 0], [size, c.shape[1]]];
  const cChunk = whole ? c : scratch.add(slice({inputs: {x: c}, backend, attrs: {begin, size: extent}}));
  let bChunk: TensorInfo|null = null;
  if (bias != null) {
    bChunk = whole ? bias : scratch.add(slice({inputs: {x: bias}, backend, attrs: {begin: [start], size: [size]}}));
  }
  const logits = scratch.add(batchMatMulImpl(
      {a: e, b: cChunk, transposeA: false, transposeB: !dv, backend, bias: bChunk ?? undefined}));
  if (bChunk !== bias) scratch.dispose(bChunk);
  return {cChunk, logits};
}
