// sluice_cli.ts's commands for the main-job model (packages/demo), called by test_lm_transformers.py:
//
//   lm-random <preset> <fields.json> <seed> <ckpt> a trainer checkpoint of the preset's config with those fields,
//                                                 every weight seeded random
//   lm-eval <checkpoint> <ids.json> <out>         logits [B·T, V] of ids [B][T] and the fused loss of
//                                                 ids[:, :-1] -> ids[:, 1:], as out.safetensors
//   lm-tokenize <out.json>                        a sample of the trainer's corpus and the trainer's ids of it
//   demo export|import [flags]                    npm run export / npm run import (the same runCli)
import * as tf from '@tensorflow/tfjs-core';
import {writeSafetensorsFile} from '@sluice/interop/node';
import {readFileSync, writeFileSync} from 'node:fs';

import {MoECausalLM} from '../../packages/demo/src/model/causal_lm';
import {PRESETS} from '../../packages/demo/src/model/config';
import {randomizeWeights} from '../../packages/demo/src/model/random_weights';
import {readCheckpoint} from '../../packages/demo/src/trainer/checkpoint';
import {defaultCorpusPath, encode, readCorpus} from '../../packages/demo/src/trainer/corpus';
import {runCli} from '../../packages/demo/src/transformers/cli';
import {modelFromCheckpoint} from '../../packages/demo/src/transformers/export_checkpoint';
import {writeModelCheckpoint} from '../../packages/demo/src/transformers/testing';

async function lmRandom(preset: string, fieldsFile: string, seed: string, file: string) {
  if (PRESETS[preset] == null) throw new Error(`lm-random: no preset '${preset}' (${Object.keys(PRESETS).join(', ')})`);
  const model = new MoECausalLM({...PRESETS[preset](), ...JSON.parse(readFileSync(fieldsFile, 'utf8'))}, Number(seed));
  // Every weight non-trivial; the selection bias only where the architecture has one (Glm4Moe).
  randomizeWeights(model, Number(seed), {selectionBias: model.spec.selectionBias});
  await writeModelCheckpoint(model, file, {step: 3});
  model.dispose();
}

async function lmEval(file: string, idsFile: string, out: string) {
  const rows = JSON.parse(readFileSync(idsFile, 'utf8')) as number[][];
  const before = tf.memory().numTensors;
  const model = modelFromCheckpoint(readCheckpoint(file, 'lm-eval'), file, 'lm-eval');
  const b = rows.length, t = rows[0].length;
  const ids = tf.tensor1d(rows.flat(), 'int32');
  const inputs = tf.tensor1d(rows.flatMap(r => r.slice(0, -1)), 'int32');
  const targets = tf.tensor1d(rows.flatMap(r => r.slice(1)), 'int32');
  const logits = tf.tidy(() => tf.reshape(model.logits(ids, b), [b, t, model.spec.vocabSize]));
  const loss = tf.tidy(() => model.loss(inputs, targets, b, 0, false).ce);
  await writeSafetensorsFile(out, {logits, loss}, {format: 'pt'});
  tf.dispose([ids, inputs, targets, logits, loss]);
  model.dispose();  // with its rotary tables and masks, cached per sequence length
  if (tf.memory().numTensors !== before) throw new Error(`lm-eval: ${tf.memory().numTensors - before} tensors leaked`);
}

/** Three stretches of Moby-Dick (start, middle, end) and text that byte-level BPE handles specially. */
function lmTokenize(out: string) {
  const corpus = readCorpus(defaultCorpusPath());
  const third = Math.floor(corpus.length / 3);
  const samples = [corpus.slice(0, 6000), corpus.slice(third, third + 6000), corpus.slice(-6000),
                   "  leading spaces, tabs\t\tand\nnewlines\r\n\n it's we'll I'M 1234567 3.14 $5 — “quotes” " +
                   'naïve café 日本語 🐋 <|endoftext|> trailing   '];
  writeFileSync(out, JSON.stringify(samples.map(text => ({text, ids: Array.from(encode(text))}))));
}

export async function lmCommand(command: string, args: string[]): Promise<boolean> {
  if (command === 'lm-random') await lmRandom(args[0], args[1], args[2], args[3]);
  else if (command === 'lm-eval') await lmEval(args[0], args[1], args[2]);
  else if (command === 'lm-tokenize') lmTokenize(args[0]);
  else if (command === 'demo') await runCli(args);
  else return false;
  return true;
}
