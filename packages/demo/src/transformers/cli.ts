/**
 * The commands behind `npm run export -- --from <sluice checkpoint> --to <dir>`
 * and `npm run import -- --from <dir> --to <sluice checkpoint>` (the first
 * argument, export or import, comes from the npm script; transformers_cli.ts
 * runs them). Flags are parsed by util.parseArgs (strict); usage errors and
 * bad input throw UsageError naming the flag or the file.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import {ExpertLayout} from '@sluice/moe';
import path from 'node:path';
import {parseArgs} from 'node:util';

import {UsageError} from '../trainer/corpus';
import {exportCheckpoint, VALIDATION_FILE} from './export_checkpoint';
import {importDirectory} from './import_directory';

const USAGE = {
  export: `usage: npm run export -- --from <sluice checkpoint> --to <dir> [--layout perExpert|fused] [--max-shard-size 50GB]

Writes a transformers model folder: config.json, model.safetensors (shards and model.safetensors.index.json
past --max-shard-size), generation_config.json, GPT-2's tokenizer (tokenizer.json, vocab.json, merges.txt,
tokenizer_config.json) and ${VALIDATION_FILE} (the trainer's validation batches and last validation loss).

  --from            a checkpoint npm start wrote (default .build/demo/checkpoint.bin)
  --to              the folder to write (made if missing; weight files of an earlier export are replaced)
  --layout          experts as one Linear per expert (perExpert, what save_pretrained writes; default) or
                    transformers 5's stacked experts.gate_up_proj / down_proj (fused); from_pretrained reads both
  --max-shard-size  largest model.safetensors shard, as transformers writes it: 5GB, 200MB, 1GiB or bytes
                    (default 50GB, transformers 5.17's)`,
  import: `usage: npm run import -- --from <dir> --to <sluice checkpoint>

Reads a transformers MixtralForCausalLM or Glm4MoeForCausalLM folder (config.json, model.safetensors or a
sharded index; F32, F16 or BF16) into a checkpoint that \`npm start -- --resume --checkpoint <file>\` continues.

  --from   the folder (npm run export or transformers' save_pretrained wrote it)
  --to     the checkpoint file to write (atomically; nothing is written when the folder does not match)`,
};

/** transformers' convert_file_size_to_int: GB/MB/KB are powers of 10, GiB/MiB/KiB of 2; a plain integer is bytes. */
export function parseShardSize(text: string): number {
  const m = /^(\d+)\s*(GIB|MIB|KIB|GB|MB|KB|B)?$/i.exec(text.trim());
  const unit = m?.[2]?.toUpperCase() ?? 'B';
  const scale = {GIB: 2 ** 30, MIB: 2 ** 20, KIB: 2 ** 10, GB: 1e9, MB: 1e6, KB: 1e3, B: 1}[unit]!;
  const bytes = m ? Number(m[1]) * scale : NaN;
  if (!(bytes > 0)) throw new UsageError(`--max-shard-size must be a size such as 5GB, 200MB, 1GiB or 1000000, got '${text}'`);
  return bytes;
}

function flags(command: 'export'|'import', argv: string[]): Record<string, string>|'help' {
  const options = {from: {type: 'string'}, to: {type: 'string'}, help: {type: 'boolean', short: 'h'},
                   ...(command === 'export' ? {'layout': {type: 'string'}, 'max-shard-size': {type: 'string'}} : {})};
  let values: Record<string, string|boolean|undefined>;
  try {
    values = parseArgs({args: argv, options: options as NonNullable<Parameters<typeof parseArgs>[0]>['options'], strict: true,
                        allowPositionals: false}).values as typeof values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see --help)`);
  }
  if (values['help']) return 'help';
  if (command === 'export') values['from'] ??= '.build/demo/checkpoint.bin';
  for (const name of ['from', 'to']) {
    if (typeof values[name] !== 'string' || values[name] === '') throw new UsageError(`--${name} is required (see --help)`);
  }
  return values as Record<string, string>;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'export' && command !== 'import') {
    throw new UsageError(`the first argument must be export or import, got ${JSON.stringify(command)}`);
  }
  const f = flags(command, rest);
  if (f === 'help') {
    console.log(USAGE[command]);
    return 0;
  }
  tf.enableProdMode();  // before the backend starts: no "install the node backend" banner
  await tf.setBackend('cpu');
  if (command === 'export') {
    const layout = (f['layout'] ?? 'perExpert') as ExpertLayout;
    if (layout !== 'perExpert' && layout !== 'fused') {
      throw new UsageError(`--layout must be perExpert or fused, got '${layout}'`);
    }
    const maxShardBytes = parseShardSize(f['max-shard-size'] ?? '50GB');
    const s = await exportCheckpoint({from: f['from'], to: f['to'], layout, maxShardBytes});
    console.log(`exported ${s.architecture} (step ${s.step}, ${(s.parameters / 1e6).toFixed(2)} M parameters, ` +
                `float32, ${layout} experts, shards of at most ${mib(maxShardBytes)}) to ${f['to']}: ${s.files.join(', ')}`);
    console.log(`${VALIDATION_FILE}: ${s.validation}`);
    if (s.dropped.length > 0) {
      console.log(`left out of config.json (not fields of the transformers config): ${s.dropped.join(', ')}`);
    }
    console.log(`load it: AutoModelForCausalLM.from_pretrained(${JSON.stringify(path.resolve(f['to']))})`);
  } else {
    const s = await importDirectory({from: f['from'], to: f['to']});
    console.log(`imported ${s.architecture} from ${f['from']} (${s.files.join(', ')}; ${s.tensors} tensors, ` +
                `${(s.parameters / 1e6).toFixed(2)} M parameters, ${s.dtypes.join('/')} read as float32) into ${f['to']}`);
    console.log(`tokenizer: ${s.tokenizerNote}`);
    console.log(`continue training: npm start -- --resume --checkpoint ${f['to']}`);
  }
  return 0;
}
