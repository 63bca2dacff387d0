// The Node side of the Python interop tests (test/python/*.py call it):
// sluice writes and reads safetensors files, and exports / imports MoE layers
// to and from transformers checkpoints, on tfjs's cpu backend with sluice's
// CPU kernels. Bundled by scripts/test.mjs to .build/tests/sluice_cli.cjs.
//
//   node sluice_cli.cjs write-files <dir>          files sluice writes, + values.json (their source values)
//   node sluice_cli.cjs read-files <dir> <out.json>  what sluice reads from every file / checkpoint in <dir>
//   node sluice_cli.cjs reshard <src> <dst> <bytes>  a checkpoint re-written by sluice in shards
//   node sluice_cli.cjs moe-export <cases.json> <dir> MoE layers -> transformers keys, inputs and outputs
//   node sluice_cli.cjs moe-import <cases.json>       transformers checkpoints -> MoE layers -> outputs
//   node sluice_cli.cjs lm-random|lm-eval|lm-tokenize|demo ...  the main-job model (lm_commands.ts)
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {HostTensor, readSafetensors, toTensors} from '@sluice/interop';
import {readCheckpoint, readSafetensorsFile, writeCheckpoint, writeSafetensorsFile} from '@sluice/interop/node';
import {exportTransformersWeights, importTransformersWeights, mixtureOfExperts, MixtureOfExpertsConfig,
        moeConfigFromTransformers, transformersConfigJson, transformersMoeConfig,
        TransformersTarget} from '@sluice/moe';
import {seededRandom} from '@sluice/core/testing';
import {copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {lmCommand} from './lm_commands';

const b64 = (values: ArrayBufferView) =>
    Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');

function describeHost(t: HostTensor & {sourceDtype?: string}) {
  return {dtype: t.dtype, sourceDtype: t.sourceDtype, shape: t.shape, b64: b64(t.values)};
}

function floats(shape: number[], rand: () => number, scale = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return {dtype: 'float32', shape, values: Float32Array.from({length: n}, () => (rand() * 2 - 1) * scale)};
}

/** Values that exercise F16/BF16 rounding: ties, subnormals, signed zeros, inf, NaN, near the range limits. */
function specialFloats(): HostTensor {
  const v = [0, -0, 1, -1, Infinity, -Infinity, NaN, 65504, -65504, 65519, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9,
             1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.1415927, -2.7182817, 1e-38, 1.2e-38, 3e38];
  // 3e38 overflows F16: that tensor goes to F32 and BF16 files only.
  return {dtype: 'float32', shape: [v.length], values: Float32Array.from(v)};
}

async function writeFiles(dir: string) {
  mkdirSync(dir, {recursive: true});
  const rand = seededRandom(7);
  const special = specialFloats();
  const f16Safe = {...special, shape: [special.shape[0] - 1], values: special.values.slice(0, -1)};
  const sets: Record<string, {tensors: Record<string, HostTensor>, options: object}> = {
    f32: {options: {}, tensors: {
      a: floats([2, 3], rand), scalar: floats([], rand), empty: floats([0, 4], rand), special,
      ints: {dtype: 'int32', shape: [5], values: Int32Array.from([0, -1, 2147483647, -2147483648, 42])},
      flags: {dtype: 'bool', shape: [3], values: Uint8Array.from([1, 0, 1])},
    }},
    f16: {options: {floatDtype: 'F16'}, tensors: {random: floats([7, 5], rand, 3), special: f16Safe}},
    bf16: {options: {floatDtype: 'BF16'}, tensors: {random: floats([7, 5], rand, 3), special}},
    i64: {options: {intDtype: 'I64'}, tensors: {
      ids: {dtype: 'int32', shape: [2, 3], values: Int32Array.from([0, 1, -1, 2147483647, -2147483648, 7])},
    }},
    same: {options: {}, tensors: {
      'model.w': floats([3, 4], rand), 'model.b': floats([4], rand),
      ids: {dtype: 'int32', shape: [3], values: Int32Array.from([3, 1, 2])},
    }},
  };
  const values: Record<string, Record<string, unknown>> = {};
  for (const [name, set] of Object.entries(sets)) {
    await writeSafetensorsFile(path.join(dir, `sluice_${name}.safetensors`), set.tensors, {format: 'pt'}, set.options);
    values[name] = Object.fromEntries(Object.entries(set.tensors).map(([k, t]) => [k, describeHost(t)]));
  }
  // A sharded checkpoint: 6 tensors of 256 bytes in shards of at most 600 bytes -> 3 shards.
  const sharded: Record<string, HostTensor> = {};
  for (let i = 0; i < 6; ++i) sharded[`layers.${i}.weight`] = floats([8, 8], rand);
  const shardDir = path.join(dir, 'sluice_sharded');
  mkdirSync(shardDir, {recursive: true});
  await writeCheckpoint(shardDir, sharded, {maxShardBytes: 600});
  values['sharded'] = Object.fromEntries(Object.entries(sharded).map(([k, t]) => [k, describeHost(t)]));
  writeFileSync(path.join(dir, 'values.json'), JSON.stringify(values));
}

/** A checkpoint read by sluice and written again in shards of at most `maxBytes` (config.json copied). */
async function reshard(src: string, dst: string, maxBytes: string) {
  mkdirSync(dst, {recursive: true});
  const read = await readCheckpoint(src);
  await writeCheckpoint(dst, read.tensors, {maxShardBytes: Number(maxBytes)});
  copyFileSync(path.join(src, 'config.json'), path.join(dst, 'config.json'));
}

async function readFiles(dir: string, out: string) {
  const result: Record<string, unknown> = {};
  for (const entry of readdirSync(dir).sort()) {
    const file = path.join(dir, entry);
    try {
      if (statSync(file).isDirectory()) {
        const read = await readCheckpoint(file);
        result[entry] = {files: read.files.map(f => path.basename(f)), metadata: read.metadata,
                         tensors: Object.fromEntries(Object.entries(read.tensors).map(([k, t]) => [k, describeHost(t)]))};
      } else if (entry.endsWith('.safetensors')) {
        const streamed = await readSafetensorsFile(file);
        // The in-memory reader must agree with the streaming one, byte for byte.
        const whole = readSafetensors(readFileSync(file), {name: file});
        for (const [k, t] of Object.entries(streamed.tensors)) {
          if (b64(t.values) !== b64(whole.tensors[k].values)) throw new Error(`${file}: readers disagree on ${k}`);
        }
        result[entry] = {metadata: streamed.metadata,
                         tensors: Object.fromEntries(Object.entries(streamed.tensors).map(([k, t]) => [k, describeHost(t)]))};
      }
    } catch (e) {
      result[entry] = {error: (e as Error).message};
    }
  }
  writeFileSync(out, JSON.stringify(result));
}

interface ExportCase {
  name: string;
  target: TransformersTarget;
  layout: 'perExpert'|'fused';
  config: MixtureOfExpertsConfig;
  hiddenSize: number;
  tokens: number;
  seed: number;
  biasScale?: number;
  /** Added to the random selection bias (a negative offset makes every biased sigmoid score negative). */
  biasOffset?: number;
}

async function moeExport(casesFile: string, dir: string) {
  const cases = JSON.parse(readFileSync(casesFile, 'utf8')) as ExportCase[];
  for (const c of cases) {
    const before = tf.memory().numTensors;
    const layer = mixtureOfExperts({...c.config, seed: c.seed});
    const x = tf.tidy(() => tf.randomNormal([c.tokens, c.hiddenSize], 0, 1, 'float32', c.seed + 1));
    tf.dispose(layer.apply(x) as tf.Tensor);  // builds the layer
    if (c.biasScale) {
      const bias = layer.weights.find(w => w.originalName.endsWith('/selection_bias'))!;
      const values = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([c.config.numExperts], 0, 1, 'float32', c.seed),
                                                 c.biasScale!), c.biasOffset ?? 0));
      bias.write(values);
      values.dispose();
    }
    const y = layer.apply(x, {training: false}) as tf.Tensor;
    const weights = await exportTransformersWeights(layer, c.target, {prefix: 'model.layers.0.', layout: c.layout});
    const out = path.join(dir, c.name);
    mkdirSync(out, {recursive: true});
    await writeSafetensorsFile(path.join(out, 'moe.safetensors'), weights, {format: 'pt'});
    await writeSafetensorsFile(path.join(out, 'io.safetensors'), {x, y}, {format: 'pt'});
    writeFileSync(path.join(out, 'moe_config.json'),
                  transformersConfigJson(transformersMoeConfig(c.config, c.hiddenSize, c.target)));
    tf.dispose([x, y, ...Object.values(weights)]);
    layer.dispose();
    if (tf.memory().numTensors !== before) throw new Error(`${c.name}: ${tf.memory().numTensors - before} tensors leaked`);
  }
}

interface ImportCase {
  name: string;
  dir: string;
  io: string;
  out: string;
}

async function moeImport(casesFile: string) {
  const cases = JSON.parse(readFileSync(casesFile, 'utf8')) as ImportCase[];
  for (const c of cases) {
    const before = tf.memory().numTensors;
    const hf = JSON.parse(readFileSync(path.join(c.dir, 'config.json'), 'utf8'));
    const config = moeConfigFromTransformers(hf);
    const layer = mixtureOfExperts(config);
    const checkpoint = await readCheckpoint(c.dir);
    await importTransformersWeights(layer, hf.model_type, checkpoint.tensors, {prefix: 'model.layers.0.'});
    const {x} = toTensors(readSafetensors(readFileSync(c.io), {name: c.io, only: ['x']}).tensors);
    const y = layer.apply(x, {training: false}) as tf.Tensor;
    await writeSafetensorsFile(c.out, {y}, {format: 'pt'});
    tf.dispose([x, y]);
    layer.dispose();
    if (tf.memory().numTensors !== before) throw new Error(`${c.name}: ${tf.memory().numTensors - before} tensors leaked`);
  }
}

async function main() {
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
  const [command, ...args] = process.argv.slice(2);
  if (command === 'write-files') return writeFiles(args[0]);
  if (command === 'read-files') return readFiles(args[0], args[1]);
  if (command === 'reshard') return reshard(args[0], args[1], args[2]);
  if (command === 'moe-export') return moeExport(args[0], args[1]);
  if (command === 'moe-import') return moeImport(args[0]);
  if (await lmCommand(command, args)) return;
  throw new Error(`sluice_cli: unknown command ${JSON.stringify(command)} (write-files, read-files, reshard, ` +
                  'moe-export, moe-import, lm-random, lm-eval, lm-tokenize, demo)');
}

main().catch(e => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
