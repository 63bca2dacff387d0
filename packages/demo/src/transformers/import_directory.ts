/**
 * `npm run import`: a transformers model folder (one `npm run export` wrote,
 * or one transformers' `save_pretrained` wrote for MixtralForCausalLM or
 * Glm4MoeForCausalLM) to a sluice checkpoint that `npm start -- --resume
 * --checkpoint <file>` continues training from.
 *
 * Nothing is half-loaded: config.json is resolved, every safetensors header
 * is validated (truncated files, headers past the end, overlapping or
 * out-of-range offsets, unknown dtypes, an index that does not match its
 * shards) and every tensor read, the key set and shapes are checked against
 * the config's model, and only then is the checkpoint written, atomically.
 */
import {readCheckpoint as readSafetensorsCheckpoint} from '@sluice/interop/node';
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';

import {MoECausalLM} from '../model/causal_lm';
import {resolveLMConfig, TransformersConfig} from '../model/config';
import {writeCheckpoint} from '../trainer/checkpoint';
import {UsageError} from '../trainer/corpus';
import {TOKENIZER} from '../trainer/tokenizer';
import {importConfig} from './config_json';
import {gpt2Vocabulary} from './gpt2_tokenizer_files';
import {loadStateDict, StateDictValue} from './state_dict';

export interface ImportOptions {
  from: string;
  to: string;
}

export interface ImportSummary {
  architecture: string;
  tensors: number;
  parameters: number;
  files: string[];
  /** The tokenizer the checkpoint records, and why. */
  tokenizer: string;
  tokenizerNote: string;
  /** The file's dtypes of the weights (each read as float32). */
  dtypes: string[];
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--from: cannot read '${file}' as JSON: ${(e as Error).message}`);
  }
}

/**
 * The tokenizer of the folder: GPT-2's (the trainer's) when its tokenizer.json
 * has GPT-2's vocabulary and merges, or when it has no tokenizer files (then
 * assumed, and said so); else an id that the trainer refuses to resume with.
 */
function tokenizerOf(dir: string): {id: string, note: string} {
  const file = path.join(dir, 'tokenizer.json');
  if (!existsSync(file)) {
    return {id: TOKENIZER.id, note: `no tokenizer.json in '${dir}': recorded as GPT-2's (${TOKENIZER.id}), the ` +
                                    'trainer\'s tokenizer'};
  }
  const model = ((readJson(file) ?? {}) as {model?: {type?: string, vocab?: Record<string, number>, merges?: unknown[]}})
                    .model ?? {};
  const {tokens, merges} = gpt2Vocabulary();
  const vocab = model.vocab ?? {};
  const sameVocab = model.type === 'BPE' && Object.keys(vocab).length === tokens.length &&
                    tokens.every((t, i) => vocab[t] === i);
  const theirs = (model.merges ?? []).map(m => Array.isArray(m) ? m.join(' ') : String(m));
  const sameMerges = theirs.length === merges.length && merges.every(([a, b], i) => theirs[i] === `${a} ${b}`);
  if (sameVocab && sameMerges) return {id: TOKENIZER.id, note: `tokenizer.json is GPT-2's (${TOKENIZER.id})`};
  return {id: `${file} (not GPT-2's byte-level BPE)`,
          note: `tokenizer.json is not GPT-2's byte-level BPE (${sameVocab ? 'other merges' : 'another vocabulary'}): ` +
                'the trainer (GPT-2 tokens) will not resume this checkpoint'};
}

export async function importDirectory(options: ImportOptions): Promise<ImportSummary> {
  const {from, to} = options;
  if (!existsSync(from)) throw new UsageError(`--from: no folder at '${from}'`);
  const configFile = path.join(from, 'config.json');
  if (!existsSync(configFile)) {
    throw new UsageError(`--from: '${from}' holds no config.json (found: ${readdirSync(from).join(', ') || 'nothing'})`);
  }
  let config: TransformersConfig;
  try {
    config = importConfig(readJson(configFile) as TransformersConfig);
    resolveLMConfig(config);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--from: ${configFile}: ${(e as Error).message}`);
  }
  let contents;
  try {
    contents = await readSafetensorsCheckpoint(from);
  } catch (e) {
    throw new UsageError(`--from: ${(e as Error).message}`);
  }
  const tensors = contents.tensors as Record<string, StateDictValue>;
  const model = new MoECausalLM(config, 1);
  try {
    try {
      await loadStateDict(model, tensors, from);
    } catch (e) {
      throw new UsageError(`--from: ${(e as Error).message}`);
    }
    const tokenizer = tokenizerOf(from);
    const weights = await Promise.all(model.namedWeights().map(async ({name, variable}) =>
        ({name, shape: variable.shape, values: await variable.data() as Float32Array})));
    // Step 0 and no optimizer state: the trainer starts its count, its curve and Adam afresh from these weights.
    writeCheckpoint(to, {step: 0, config, tokenizer: tokenizer.id, history: {}}, weights, []);
    return {
      architecture: model.spec.architecture, tensors: Object.keys(tensors).length,
      parameters: Object.values(tensors).reduce((n, t) => n + t.values.length, 0), files: contents.files.map(f => path.basename(f)),
      tokenizer: tokenizer.id, tokenizerNote: tokenizer.note,
      dtypes: [...new Set(Object.values(contents.tensors).map(t => t.sourceDtype))].sort(),
    };
  } finally {
    model.dispose();
  }
}
