/**
 * The flags of `npm run bench -- --op cce|moe|head ...`, shared by both entries:
 * main.ts (Node: cpu, tensorflow, webgpu) and run_browser_bench.mjs (webgl in
 * headless Chromium), so `--help` and the errors are the same on every
 * backend. Flags that belong to one op or backend are an error elsewhere
 * rather than silently ignored.
 */
import {fail} from '@sluice/core/internal';

import {FlagValues, helpText, parseFlags} from './args';
import {EXTRA_KEYS} from './extra_keys';

export const BENCH_FLAGS = {
  op: {type: 'string', choices: ['cce', 'moe', 'head'], default: 'cce',
       help: 'which benchmark: cce (fused cross-entropy), moe (sparse expert dispatch) or head (one model.fit ' +
           'step of linearCrossEntropyHead vs tf.layers.dense + softmaxCrossEntropy)'},
  backend: {type: 'string', choices: ['cpu', 'tensorflow', 'webgpu', 'webgl'], default: 'cpu',
            help: 'tfjs backend: cpu, tensorflow (tfjs-node), webgpu (Dawn), webgl (headless Chromium)'},
  // The defaults as cce_shapes.ts (cce), runMoe and runHead (main.ts) resolve them.
  n: {type: 'int', min: 1,
      help: 'tokens. cce: 2048 (and --d 128, --v 32768) on cpu/tensorflow, and on a GPU once any of --n/--d/--v ' +
          'is given; on a GPU with none of them, the issue shapes N=4096 D=256 V=32768,131072 (scaled down on a ' +
          'software GPU, printed); --vocab-sweep: 4096 (256 webgpu, 512 webgl on a software GPU). moe: 4096 ' +
          '(1024 on a software GPU when none of --n/--d/--h is given). head: 2048'},
  d: {type: 'int', min: 1,
      help: 'hidden size. cce: 128 (see --n); --vocab-sweep: 256 (64 on a software GPU). moe: 256 (64 on a ' +
          'software GPU when none of --n/--d/--h is given). head: 128'},
  v: {type: 'ints', min: 1,
      help: 'cce: vocabulary size, or a comma-separated list of them (default 32768, see --n; --vocab-sweep: ' +
          'the real vocabularies); head: one vocabulary size (default 32768)'},
  t: {type: 'int', min: 1, help: 'head: tokens per sequence (default 256; N = n/t sequences of t tokens)'},
  shapes: {type: 'string', help: 'cce: shapes NxDxV,... instead of --n/--d/--v (e.g. 1024x64x8192,1024x16x81920)'},
  'vocab-sweep': {type: 'boolean',
                  help: 'cce: the real vocabularies V=50257,128256,151936,262144 at N=4096 D=256 (on a software ' +
                      'GPU N=512 D=64 webgl, N=256 D=64 webgpu): naive where it fits, fused, and the matMul floor ' +
                      'on cpu/tensorflow'},
  'extras-only': {type: 'boolean',
                  help: 'cce: only the table of returned extras, maxSup and classWeights vs plain fused CE ' +
                      '(with --repeats rounds, at least 3)'},
  extras: {type: 'string', default: EXTRA_KEYS.join(','),
           help: `cce: which rows of the extras table to run, a comma-separated list of ${EXTRA_KEYS.join(', ')} ` +
               '(plain fused CE and its A/A control always run; fewer rows, more rounds in the same time)'},
  programs: {type: 'boolean',
             help: 'cce on webgpu: also the GPU time of each program (timestamp queries) for plain fused CE, maxSup, ' +
                 'classWeights and label smoothing'},
  'mem-budget': {type: 'number', min: 0,
                 help: 'cce on cpu/tensorflow: GiB that naive (and the matMul floor) may use; an estimate above ' +
                     'it prints "does not fit" (default: 75% of the memory available at start)'},
  'webgpu-limits': {type: 'string', choices: ['auto', 'adapter', 'default'], default: 'auto',
                    help: 'webgpu device: the adapter\'s limits (what tfjs requests), WebGPU\'s default limits ' +
                        '(128 MiB bindings), or auto: default for --vocab-sweep on a software adapter, else adapter'},
  h: {type: 'int', min: 1,
      help: 'moe: hidden units per expert (default 1024; 256 on a software GPU when none of --n/--d/--h is given)'},
  e: {type: 'int', min: 1, default: 32, help: 'moe: experts'},
  k: {type: 'int', min: 1, default: 2, help: 'moe: experts per token'},
  variants: {type: 'string', default: 'dense,loop,capacity,sparse',
             help: 'moe: which of dense, loop, capacity, sparse to run (sparse always runs)'},
  repeats: {type: 'int', min: 1, help: 'timed repeats per variant, best kept, after one profiled run (default 1; 2 on webgl)'},
  out: {type: 'string', default: '.build/bench', help: 'folder for the markdown results'},
  'timeout-min': {type: 'number', min: 1, default: 30, help: 'webgl: minutes to wait for the page'},
} as const;

export type BenchFlags = FlagValues<typeof BENCH_FLAGS>;

export const BENCH_USAGE = 'usage: npm run bench -- --op cce|moe|head [--backend cpu|tensorflow|webgpu|webgl] [flags]';

const ONLY: Array<[flag: keyof typeof BENCH_FLAGS, when: (f: BenchFlags) => boolean, where: string]> = [
  ['v', f => f.op === 'cce' || f.op === 'head', '--op cce or head'],
  ['t', f => f.op === 'head', '--op head'],
  ['shapes', f => f.op === 'cce', '--op cce'],
  ['vocab-sweep', f => f.op === 'cce', '--op cce'],
  ['extras-only', f => f.op === 'cce' && !f['vocab-sweep'], '--op cce without --vocab-sweep'],
  ['extras', f => f.op === 'cce' && !f['vocab-sweep'], '--op cce without --vocab-sweep'],
  ['mem-budget', f => f.op === 'cce' && (f.backend === 'cpu' || f.backend === 'tensorflow'),
   '--op cce on --backend cpu or tensorflow'],
  ['webgpu-limits', f => f.backend === 'webgpu', '--backend webgpu'],
  ['programs', f => f.op === 'cce' && f.backend === 'webgpu' && !f['vocab-sweep'], '--op cce --backend webgpu'],
  ['h', f => f.op === 'moe', '--op moe'],
  ['e', f => f.op === 'moe', '--op moe'],
  ['k', f => f.op === 'moe', '--op moe'],
  ['variants', f => f.op === 'moe', '--op moe'],
  ['timeout-min', f => f.backend === 'webgl', '--backend webgl'],
];

export interface BenchArgs {
  flags: BenchFlags;
  given: Set<string>;
}

/** Parses and cross-checks; `--help` prints the flags and exits. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const program = 'bench';
  const {values: flags, given, help} = parseFlags(argv, BENCH_FLAGS, program);
  if (help) {
    console.log(helpText(BENCH_FLAGS, BENCH_USAGE));
    process.exit(0);
  }
  for (const [flag, allowed, where] of ONLY) {
    if (given.has(flag) && !allowed(flags)) {
      fail(program, `--${flag}`, `left out (it is for ${where})`,
           `'--${flag}' with --op ${flags.op} --backend ${flags.backend}`);
    }
  }
  if (flags.op === 'head' && flags.backend === 'webgl') {
    fail(program, '--backend', 'cpu, tensorflow or webgpu for --op head (the webgl runner has no head page)',
         `'webgl'`);
  }
  if (given.has('shapes')) {
    const clash = ['n', 'd', 'v', 'vocab-sweep'].find(f => given.has(f));
    if (clash) fail(program, '--shapes', `used without --${clash}`, `both --shapes and --${clash}`);
    if (!/^\d+x\d+x\d+(,\d+x\d+x\d+)*$/.test(flags.shapes!) || /(^|[x,])0+(?=[x,]|$)/.test(flags.shapes!)) {
      fail(program, '--shapes', 'positive NxDxV,... (e.g. 4096x256x32768,4096x256x131072)',
           JSON.stringify(flags.shapes));
    }
  }
  checkList(program, 'variants', flags.variants, ['dense', 'loop', 'capacity', 'sparse']);
  checkList(program, 'extras', flags.extras, EXTRA_KEYS);
  return {flags, given};
}

/** A comma-separated flag whose every item must be one of `allowed`. */
function checkList(program: string, flag: string, value: string, allowed: readonly string[]) {
  if (value.split(',').some(item => !allowed.includes(item))) {
    fail(program, `--${flag}`, `a comma-separated list of ${allowed.join(', ')}`, JSON.stringify(value));
  }
}
