/**
 * `npm run export`: a sluice checkpoint (the trainer's file) to a folder that
 * `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`
 * load with no custom code: config.json, model.safetensors (or shards and
 * model.safetensors.index.json past --max-shard-size), generation_config.json,
 * GPT-2's tokenizer files, and sluice_validation.json (the trainer's
 * validation batches and its last validation loss, for continuing elsewhere).
 * Everything is read and checked before the first file is written.
 */
import {ExpertLayout} from '@sluice/moe';
import {writeCheckpoint as writeSafetensorsCheckpoint} from '@sluice/interop/node';
import * as tf from '@tensorflow/tfjs-core';
import {existsSync, mkdirSync, rmSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {MoECausalLM} from '../model/causal_lm';
import {LoadedCheckpoint, readCheckpoint} from '../trainer/checkpoint';
import {UsageError} from '../trainer/corpus';
import {TOKENIZER} from '../trainer/tokenizer';
import {exportConfig} from './config_json';
import {gpt2TokenizerFiles} from './gpt2_tokenizer_files';
import {exportStateDict} from './state_dict';

export const VALIDATION_FILE = 'sluice_validation.json';

export interface ExportOptions {
  from: string;
  to: string;
  layout?: ExpertLayout;
  /** Largest model.safetensors shard in bytes (transformers 5.17's default is 50 GB). */
  maxShardBytes?: number;
}

export interface ExportSummary {
  architecture: string;
  step: number;
  parameters: number;
  files: string[];
  /** Config fields not exported (not fields of the transformers config class). */
  dropped: string[];
  validation: string;
}

/** The model of a checkpoint, every weight from the file (its names and shapes checked). */
export function modelFromCheckpoint(ck: LoadedCheckpoint, file: string, flag: string): MoECausalLM {
  let model: MoECausalLM;
  try {
    model = new MoECausalLM(ck.config, 1);
  } catch (e) {
    throw new UsageError(`${flag}: checkpoint '${file}': ${(e as Error).message}`);
  }
  const byName = new Map(ck.weights.map(w => [w.name, w]));
  for (const {name, variable} of model.namedWeights()) {
    const w = byName.get(name);
    if (w == null || w.shape.join(',') !== variable.shape.join(',')) {
      model.dispose();
      throw new UsageError(`${flag}: checkpoint '${file}' lacks weight '${name}' of shape [${variable.shape}] ` +
                           `(found ${w ? `[${w.shape}]` : 'none'})`);
    }
    tf.tidy(() => variable.assign(tf.tensor(w.values, w.shape)));
  }
  return model;
}

function generationConfig(config: Record<string, unknown>): string {
  // What GenerationConfig.from_model_config keeps of these configs (transformers_version aside).
  const out: Record<string, unknown> = {_from_model_config: true};
  for (const id of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
    if (config[id] != null) out[id] = config[id];
  }
  Object.assign(out, {output_attentions: false, output_hidden_states: false, use_cache: true});
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** sluice_validation.json, when the checkpoint holds its validation batches. */
function validationFile(ck: LoadedCheckpoint, file: string): {text?: string, note: string} {
  if (ck.validation == null) return {note: 'none (the checkpoint holds no validation batches: an older trainer wrote it)'};
  const history = (ck.history ?? {}) as {valSteps?: number[], valLoss?: number[]};
  const last = (history.valSteps ?? []).length - 1;
  // Only a loss measured on these weights (at the checkpoint's step) is where a continuation starts.
  const loss = last >= 0 && history.valSteps![last] === ck.step ? history.valLoss![last] : null;
  const text = `${JSON.stringify({
    source: `sluice checkpoint ${path.basename(file)} at step ${ck.step}`, step: ck.step, loss,
    batch: ck.validation.batch, windows: ck.validation.windows,
  })}\n`;
  return {text, note: `${ck.validation.windows.length} sequences of ${ck.validation.windows[0]?.length ?? 0} tokens, ` +
                      `loss at step ${ck.step}: ${loss === null ? 'not measured' : loss.toFixed(4)}`};
}

export async function exportCheckpoint(options: ExportOptions): Promise<ExportSummary> {
  const {from, to, layout = 'perExpert', maxShardBytes = 50e9} = options;
  const ck = readCheckpoint(from, '--from');
  if (ck.tokenizer !== TOKENIZER.id) {
    throw new UsageError(`--from: checkpoint '${from}' was made with tokenizer ${ck.tokenizer}; export writes the ` +
                         `tokenizer files of ${TOKENIZER.id} only`);
  }
  let config;
  try {
    config = exportConfig(ck.config);
  } catch (e) {
    throw new UsageError(`--from: checkpoint '${from}': ${(e as Error).message}`);
  }
  const vocab = config.json['vocab_size'] as number;
  if (vocab < TOKENIZER.vocabSize) {
    throw new UsageError(`--from: checkpoint '${from}' has vocab_size ${vocab}, fewer than GPT-2's ` +
                         `${TOKENIZER.vocabSize} tokens that the exported tokenizer holds`);
  }
  if (existsSync(to) && !statSync(to).isDirectory()) throw new UsageError(`--to: '${to}' exists and is not a folder`);
  const model = modelFromCheckpoint(ck, from, '--from');
  let owned: tf.Tensor[] = [];
  try {
    const state = await exportStateDict(model, layout);
    owned = state.owned;
    const tokenizerFiles = gpt2TokenizerFiles(model.spec.maxPositions);
    const validation = validationFile(ck, from);
    mkdirSync(to, {recursive: true});
    const weightFiles = await writeSafetensorsCheckpoint(to, state.tensors, {maxShardBytes, metadata: {format: 'pt'}});
    const text: Record<string, string> = {'config.json': config.text,
                                          'generation_config.json': generationConfig(config.json), ...tokenizerFiles};
    if (validation.text) text[VALIDATION_FILE] = validation.text;
    else rmSync(path.join(to, VALIDATION_FILE), {force: true});  // an earlier export's, of other weights
    for (const [name, body] of Object.entries(text)) writeFileSync(path.join(to, name), body);
    return {
      architecture: model.spec.architecture, step: ck.step,
      parameters: Object.values(state.tensors).reduce((n, t) => n + t.size, 0),
      files: [...weightFiles.map(f => path.basename(f)), ...Object.keys(text)], dropped: config.dropped,
      validation: validation.note,
    };
  } finally {
    tf.dispose(owned);
    model.dispose();
  }
}
