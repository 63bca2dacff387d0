/**
 * npm run export / import without Python (test/python proves the folders
 * against transformers itself): GPT-2's vocabulary and merges as derived from
 * the ranks, config.json's fields, export -> import giving back every weight
 * bit for bit (both presets, both expert layouts, one file and shards), and
 * import refusing folders that do not match or files that are broken, with
 * an error naming the key, the shapes or the file, and nothing written.
 */
import * as tf from '@tensorflow/tfjs-core';
import {readSafetensorsFile, writeSafetensorsFile} from '@sluice/interop/node';
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync,
        writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {MoECausalLM} from '../model/causal_lm';
import {glm4MoeConfig, mixtralConfig, TransformersConfig} from '../model/config';
import {randomizeWeights} from '../model/random_weights';
import {readCheckpoint} from '../trainer/checkpoint';
import {UsageError} from '../trainer/corpus';
import {TOKENIZER} from '../trainer/tokenizer';
import {parseShardSize} from './cli';
import {exportConfig, importConfig, TRANSFORMERS_DEFAULTS} from './config_json';
import {exportCheckpoint} from './export_checkpoint';
import {byteToUnicode, gpt2Vocabulary} from './gpt2_tokenizer_files';
import {importDirectory} from './import_directory';
import {writeModelCheckpoint} from './testing';

/** GPT-2's vocabulary with layers a few units wide: a whole model in a few MB. */
const MIXTRAL = mixtralConfig({hidden_size: 8, intermediate_size: 8, num_hidden_layers: 2, num_attention_heads: 2,
                               num_key_value_heads: 1, head_dim: 4, num_local_experts: 3, num_experts_per_tok: 2,
                               max_position_embeddings: 16});
const GLM = glm4MoeConfig({hidden_size: 8, intermediate_size: 12, moe_intermediate_size: 4, num_hidden_layers: 2,
                           num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, n_routed_experts: 4,
                           num_experts_per_tok: 2, n_shared_experts: 1, tie_word_embeddings: false,
                           max_position_embeddings: 16});

async function checkpointOf(config: TransformersConfig, file: string, seed: number) {
  const model = new MoECausalLM(config, seed);
  randomizeWeights(model, seed, {selectionBias: model.spec.selectionBias});
  await writeModelCheckpoint(model, file, {step: 7});
  model.dispose();
}

/** Rewrites a safetensors file's JSON header (data bytes unchanged unless `data` is given). */
function rewriteHeader(file: string, edit: (header: Record<string, {dtype: string, shape: number[],
                                                                    data_offsets: number[]}>) => void) {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, bytes.subarray(8 + n)]));
}

export function describeTransformersInterop() {
  describe('transformers folders (npm run export / import)', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'sluice-hf-'));
    });
    afterAll(() => rmSync(dir, {recursive: true, force: true}));

    it('derives GPT-2\'s vocabulary and its 50,000 merges from gpt-tokenizer\'s ranks', () => {
      const table = byteToUnicode();
      expect([table[32], table[10], table[97], table[0], table[255]]).toEqual(['Ġ', 'Ċ', 'a', 'Ā', 'ÿ']);
      const {tokens, merges} = gpt2Vocabulary();
      expect(tokens.length).toBe(50257);
      // 'Hello world' is [15496, 995] in GPT-2 (the trainer suite checks the encoder gives these ids).
      expect([tokens[15496], tokens[995], tokens[50256]]).toEqual(['Hello', 'Ġworld', '<|endoftext|>']);
      expect(merges.length).toBe(50000);
      // The first lines of GPT-2's merges.txt.
      expect(merges.slice(0, 7).map(m => m.join(' '))).toEqual(['Ġ t', 'Ġ a', 'h e', 'i n', 'r e', 'o n', 'Ġt he']);
      expect(merges.every(([a, b], i) => a + b === tokens[256 + i])).toBe(true);
    });

    it('writes config.json with the transformers class\'s fields, sluice\'s values and floats as floats', () => {
      for (const config of [MIXTRAL, GLM]) {
        const arch = (config['architectures'] as string[])[0] as keyof typeof TRANSFORMERS_DEFAULTS;
        const {json, text, dropped} = exportConfig({...config, sluice_note: 'x'});
        expect(Object.keys(json).sort())
            .toEqual([...Object.keys(TRANSFORMERS_DEFAULTS[arch]), 'architectures', 'model_type', 'dtype'].sort());
        expect(dropped).toEqual(['sluice_note']);
        expect(text).toContain('"attention_dropout": 0.0');
        expect(text).toContain('"rope_theta": 10000.0');
        expect(Object.keys(JSON.parse(text))).toEqual(Object.keys(json).sort());
      }
      // transformers 5.17 rejects "routed_scaling_factor": 1 (an int for a float field).
      expect(exportConfig(glm4MoeConfig({routed_scaling_factor: 1})).text).toContain('"routed_scaling_factor": 1.0');
      // A field sluice filled with its own default is written as the value it computed with.
      const noKv = {...MIXTRAL};
      delete noKv['num_key_value_heads'];
      expect(exportConfig(noKv).json['num_key_value_heads']).toBe(2);
      // Import fills what a file leaves out with transformers' default (Mixtral: 8 KV heads), and
      // transformers 4's top-level rope_theta moves into rope_parameters.
      const v4 = {...noKv, rope_theta: 5e5} as TransformersConfig;
      delete v4['rope_parameters'];
      const imported = importConfig(v4);
      expect([imported['num_key_value_heads'], imported['rope_parameters']])
          .toEqual([8, {rope_type: 'default', rope_theta: 5e5}]);
      expect(() => importConfig({architectures: ['LlamaForCausalLM'], model_type: 'llama'}))
          .toThrowError(/architectures must be \['MixtralForCausalLM'\] or \['Glm4MoeForCausalLM'\]/);
    });

    it('parses --max-shard-size as transformers does', () => {
      expect(['5GB', '200MB', '1GiB', '3KiB', '1000'].map(parseShardSize)).toEqual([5e9, 2e8, 2 ** 30, 3072, 1000]);
      expect(() => parseShardSize('5 parsecs')).toThrowError(UsageError, /--max-shard-size must be a size/);
      expect(() => parseShardSize('0')).toThrowError(UsageError);
    });

    const cases = [['Mixtral', MIXTRAL, 'perExpert', Infinity], ['Mixtral', MIXTRAL, 'fused', 1e6],
                   ['Glm4Moe', GLM, 'perExpert', 1e6], ['Glm4Moe', GLM, 'fused', Infinity]] as const;
    for (const [name, config, layout, shard] of cases) {
      it(`${name}, ${layout} experts${shard < Infinity ? ', sharded' : ''}: export then import gives every weight ` +
         'back bit for bit', async () => {
        const before = tf.memory().numTensors;
        const ck = path.join(dir, `${name}-${layout}.bin`), out = path.join(dir, `${name}-${layout}`);
        await checkpointOf(config, ck, 3);
        const summary = await exportCheckpoint({from: ck, to: out, layout, maxShardBytes: shard});
        const files = readdirSync(out).sort();
        for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json',
                         'merges.txt']) {
          expect(files).toContain(f);
        }
        expect(files.includes('model.safetensors.index.json')).toBe(shard < Infinity);
        expect(summary.files.filter(f => /^model.*\.safetensors$/.test(f)).length > 1).toBe(shard < Infinity);
        // The checkpoint has no validation batches (not a trainer run): no sluice_validation.json.
        expect(files).not.toContain('sluice_validation.json');
        const back = path.join(dir, `${name}-${layout}-back.bin`);
        const s = await importDirectory({from: out, to: back});
        expect([s.architecture, s.tokenizer]).toEqual([(config['architectures'] as string[])[0], TOKENIZER.id]);
        const original = readCheckpoint(ck), again = readCheckpoint(back);
        expect(again.step).toBe(0);
        expect(again.weights.map(w => w.name)).toEqual(original.weights.map(w => w.name));
        for (const w of original.weights) {
          const v = again.weights.find(x => x.name === w.name)!;
          expect(v.shape).withContext(w.name).toEqual(w.shape);
          expect(v.values.every((x, i) => x === w.values[i])).withContext(`${w.name} bit for bit`).toBe(true);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('export refuses a checkpoint it cannot write transformers files for, naming why', async () => {
      const small = path.join(dir, 'small.bin');
      const model = new MoECausalLM(mixtralConfig({...MIXTRAL, vocab_size: 13}), 1);
      await writeModelCheckpoint(model, small);
      model.dispose();
      await expectAsync(exportCheckpoint({from: small, to: path.join(dir, 'small')})).toBeRejectedWithError(
          UsageError, /vocab_size 13, fewer than GPT-2's 50257 tokens/);
      await expectAsync(exportCheckpoint({from: path.join(dir, 'none.bin'), to: path.join(dir, 'x')}))
          .toBeRejectedWithError(UsageError, /--from: no checkpoint at/);
      const k1 = path.join(dir, 'k1.bin');
      const m1 = new MoECausalLM({...MIXTRAL, num_experts_per_tok: 1}, 1);
      await writeModelCheckpoint(m1, k1);
      m1.dispose();
      // Top-1 Mixtral is expressible (transformers renormalises at k = 1 too, as the model's normalizeGates does).
      await expectAsync(exportCheckpoint({from: k1, to: path.join(dir, 'k1')})).toBeResolved();
      expect(existsSync(path.join(dir, 'small'))).toBe(false);
    });

    it('import refuses a folder that does not match or a broken file, names the key, shapes or file, writes nothing',
       async () => {
         const ck = path.join(dir, 'good.bin'), good = path.join(dir, 'good');
         await checkpointOf(MIXTRAL, ck, 5);
         await exportCheckpoint({from: ck, to: good});
         const weights = path.join(good, 'model.safetensors');
         const before = tf.memory().numTensors;
         let n = 0;
         /** A copy of the good folder (config.json and weights), broken by `edit`; import must fail with `message`. */
         const refused = async (what: string, edit: (d: string) => void|Promise<void>, message: RegExp) => {
           const d = path.join(dir, `bad-${++n}`), to = path.join(dir, `bad-${n}.bin`);
           mkdirSync(d);
           for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(good, f), path.join(d, f));
           await edit(d);
           await expectAsync(importDirectory({from: d, to})).withContext(what).toBeRejectedWithError(UsageError, message);
           expect(existsSync(to)).withContext(`${what}: no checkpoint written`).toBe(false);
         };
         const config = (d: string, change: TransformersConfig) => writeFileSync(path.join(d, 'config.json'),
             JSON.stringify({...JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf8')), ...change}));
         const tensors = async (d: string, change: (t: Record<string, any>) => void) => {
           const file = path.join(d, 'model.safetensors');
           const t = (await readSafetensorsFile(file)).tensors;
           change(t);
           await writeSafetensorsFile(file, t, {format: 'pt'});
         };
         const embed = 'model.embed_tokens.weight', expert = 'model.layers.0.block_sparse_moe.experts.0.w1.weight';

         await refused('another architecture', d => config(d, {architectures: ['LlamaForCausalLM'], model_type: 'llama'}),
                       /config\.json: .*architectures must be \['MixtralForCausalLM'\] or \['Glm4MoeForCausalLM'\], got \["LlamaForCausalLM"\]/);
         await refused('Glm4Moe config over Mixtral weights', d => writeFileSync(path.join(d, 'config.json'),
             exportConfig({...GLM, tie_word_embeddings: true, attention_bias: false}).text),
                       /tensor 'model.layers.0.mlp.gate_proj.weight' must be present \(Glm4MoeForCausalLM with this config.json has it, shape \[12,8\]\), got no such tensor \(the first missing one\)/);
         await refused('more layers in config.json', d => config(d, {num_hidden_layers: 3}),
                       /tensor 'model.layers.2.input_layernorm.weight' must be present .* got no such tensor/);
         await refused('another expert width', d => config(d, {intermediate_size: 12}),
                       new RegExp(`tensor '${expert}' shape must be \\[12,8\\] \\(from config.json\\), got \\[8,8\\]`));
         await refused('a tensor missing', d => tensors(d, t => delete t['model.norm.weight']),
                       /tensor 'model.norm.weight' must be present .*shape \[8\].*got no such tensor/);
         await refused('an unexpected tensor', d => tensors(d, t => {
           t['model.layers.0.mlp.extra.weight'] = {dtype: 'float32', shape: [2, 3], values: new Float32Array(6)};
         }), /tensor 'model.layers.0.mlp.extra.weight' must be a weight of MixtralForCausalLM with this config.json, got an unexpected tensor of shape \[2,3\]/);
         await refused('an lm_head that is not the tied embeddings', d => tensors(d, t => {
           t['lm_head.weight'] = {...t[embed], values: t[embed].values.map((v: number) => v + 1)};
         }), /lm_head.weight' must be absent or equal to model.embed_tokens.weight \[50257,8\] \(tie_word_embeddings is true\)/);
         await refused('an integer weight', d => tensors(d, t => {
           t['model.norm.weight'] = {dtype: 'int32', shape: [8], values: new Int32Array(8)};
         }), /tensor 'model.norm.weight' dtype must be a float dtype \(F32, F16 or BF16\), got I32/);
         await refused('a truncated file', d => {
           const f = path.join(d, 'model.safetensors');
           writeFileSync(f, readFileSync(f).subarray(0, readFileSync(f).length - 100));
         }, /data_offsets must be within the data section of \d+ bytes, got .*out of range: the file is truncated/);
         await refused('a header length past the end', d => {
           const f = path.join(d, 'model.safetensors'), bytes = readFileSync(f);
           bytes.writeBigUInt64LE(BigInt(bytes.length), 0);
           writeFileSync(f, bytes);
         }, /header length must be <= the \d+ bytes after the 8-byte prefix, got \d+ \(the header runs past the end/);
         await refused('overlapping offsets', d => rewriteHeader(path.join(d, 'model.safetensors'), h => {
           const [a, b] = Object.keys(h).filter(k => k !== '__metadata__').sort((x, y) =>
               h[x].data_offsets[0] - h[y].data_offsets[0]);
           const size = h[b].data_offsets[1] - h[b].data_offsets[0];
           h[b].data_offsets = [h[a].data_offsets[1] - 4, h[a].data_offsets[1] - 4 + size];
         }), /data_offsets must be at or after byte \d+, where tensor '.*' ends, got .*\(the two overlap\)/);
         await refused('out-of-range offsets', d => rewriteHeader(path.join(d, 'model.safetensors'), h => {
           const last = Object.keys(h).filter(k => k !== '__metadata__').sort((x, y) =>
               h[y].data_offsets[1] - h[x].data_offsets[1])[0];
           h[last].data_offsets = h[last].data_offsets.map(o => o + 1024);
         }), /data_offsets must be .*got \[/);
         await refused('an unknown dtype', d => rewriteHeader(path.join(d, 'model.safetensors'), h => {
           h[embed].dtype = 'F8_E4M3';
         }), /tensor 'model.embed_tokens.weight' dtype must be one of F32, F16, BF16.*got "F8_E4M3"/);
         await refused('no config.json', d => rmSync(path.join(d, 'config.json')), /holds no config.json \(found: model.safetensors\)/);
         await refused('config.json not JSON', d => writeFileSync(path.join(d, 'config.json'), '{"architectures": ['),
                       /cannot read '.*config.json' as JSON/);
         await refused('no weights', d => rmSync(path.join(d, 'model.safetensors')),
                       /a folder holding model.safetensors or model.safetensors.index.json/);

         // A failed import leaves an existing checkpoint byte for byte as it was.
         const existing = path.join(dir, 'existing.bin');
         copyFileSync(ck, existing);
         const d = path.join(dir, 'bad-keep');
         mkdirSync(d);
         copyFileSync(path.join(good, 'config.json'), path.join(d, 'config.json'));
         writeFileSync(path.join(d, 'model.safetensors'), readFileSync(weights).subarray(0, 1000));
         await expectAsync(importDirectory({from: d, to: existing})).toBeRejectedWithError(UsageError);
         expect(readFileSync(existing).equals(readFileSync(ck))).toBe(true);
         expect(tf.memory().numTensors).toBe(before);
       });
  });
}
