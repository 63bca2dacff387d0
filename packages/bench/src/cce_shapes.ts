/**
 * Which shapes the cross-entropy bench runs, for every backend (browser-safe:
 * the webgl page resolves them too). GPU backends run the issue's shapes on
 * hardware and shapes scaled down on a software adapter (SwiftShader runs
 * webgpu's matMul at ~0.3 GFLOP/s, webgl's at ~2), printed with the results.
 */
export interface CceShape {n: number; d: number; v: number}

/** GPT-2 / r50k, Llama 3, Qwen2 and Qwen3, Gemma 3. */
export const REAL_VOCABS = [50257, 128256, 151936, 262144] as const;

export type CceTarget = 'host'|'gpu'|'software-webgpu'|'software-webgl';

export interface CceShapeFlags {
  n?: number;
  d?: number;
  v?: number[];
  shapes?: string;
  vocabSweep: boolean;
}

const HOST_DEFAULT = {n: 2048, d: 128, v: 32768};
const ISSUE = [{n: 4096, d: 256, v: 32768}, {n: 4096, d: 256, v: 131072}];
const SOFTWARE: Record<'software-webgpu'|'software-webgl', CceShape[]> = {
  'software-webgpu': [{n: 1024, d: 64, v: 8192}, {n: 1024, d: 64, v: 32768}],
  // The second has N×V > 8192² elements: naive cannot allocate its logits texture there, the chunked kernel runs.
  'software-webgl': [{n: 1024, d: 64, v: 8192}, {n: 1024, d: 16, v: 81920}],
};
/**
 * The vocabulary sweep at the issue's N=4096, D=256, and on a software GPU
 * at N scaled so that naive's [N, V] logits cross the backend's limit inside
 * the sweep and the fused runs take minutes, not hours: webgl N=512 (N×V
 * passes the 8192² texture limit from V=151,936), webgpu N=256 (N×V×4 B passes
 * WebGPU's default 128 MiB binding from V=151,936; SwiftShader's webgpu runs
 * the fused kernel ~10× slower per logit than its webgl).
 */
const SWEEP_FULL = {n: 4096, d: 256};
const SWEEP_SOFTWARE = {'software-webgpu': {n: 256, d: 64}, 'software-webgl': {n: 512, d: 64}};

export function parseShapeList(text: string): CceShape[] {
  return text.split(',').map(s => {
    const [n, d, v] = s.split('x').map(Number);
    if (![n, d, v].every(x => Number.isInteger(x) && x > 0)) throw new Error(`bad shape '${s}' (want NxDxV)`);
    return {n, d, v};
  });
}

export function isSoftwareTarget(target: CceTarget): boolean {
  return target === 'software-webgpu' || target === 'software-webgl';
}

export function cceShapes(flags: CceShapeFlags, target: CceTarget): CceShape[] {
  if (flags.shapes != null) return parseShapeList(flags.shapes);
  if (flags.vocabSweep) {
    const base = target === 'software-webgpu' || target === 'software-webgl' ? SWEEP_SOFTWARE[target] : SWEEP_FULL;
    return (flags.v ?? [...REAL_VOCABS]).map(v => ({n: flags.n ?? base.n, d: flags.d ?? base.d, v}));
  }
  if (target === 'host' || flags.n != null || flags.d != null || flags.v != null) {
    return (flags.v ?? [HOST_DEFAULT.v]).map(v => ({n: flags.n ?? HOST_DEFAULT.n, d: flags.d ?? HOST_DEFAULT.d, v}));
  }
  return target === 'gpu' ? ISSUE : SOFTWARE[target];
}

/** `N=512 D=64 V=50257` */
export function describeShape(s: CceShape): string {
  return `N=${s.n} D=${s.d} V=${s.v}`;
}
