/**
 * Sharded checkpoints as transformers writes them: `model-00001-of-00003.safetensors`,
 * ... and `model.safetensors.index.json` = `{metadata: {total_size, total_parameters},
 * weight_map: {tensor name: shard file}}`. total_size is the sum of the stored
 * tensors' bytes, total_parameters their element count.
 */
import {fail} from '@sluice/core/internal';

import {DTYPE_BYTES} from './dtypes';
import {elementCount, ParsedHeader, TensorEntry} from './header';

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';
export const SHARD_FILE_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

export interface ShardIndex {
  metadata: {total_size?: number, total_parameters?: number, [key: string]: unknown};
  weight_map: Record<string, string>;
}

const OP = 'readCheckpoint';

export function shardFileName(i: number, count: number): string {
  const five = (n: number) => String(n).padStart(5, '0');
  return `model-${five(i + 1)}-of-${five(count)}.safetensors`;
}

/** Parses and checks an index file's text; `where` names it in errors. */
export function parseShardIndex(text: string, where: string): ShardIndex {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (e) {
    fail(OP, where, 'valid JSON', (e as Error).message);
  }
  if (index === null || typeof index !== 'object' || Array.isArray(index)) fail(OP, where, 'a JSON object', String(index));
  const {weight_map: map, metadata = {}} = index as Record<string, unknown>;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    fail(OP, `${where} weight_map`, 'an object of tensor name -> shard file', JSON.stringify(map) ?? 'undefined');
  }
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    // A plain file name beside the index: never a path out of the checkpoint's folder.
    if (typeof file !== 'string' || !/^[^/\\]+$/.test(file) || file === '.' || file === '..') {
      fail(OP, `${where} weight_map['${name}']`, 'a file name in the same folder', JSON.stringify(file));
    }
  }
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    fail(OP, `${where} metadata`, 'an object', JSON.stringify(metadata));
  }
  for (const key of ['total_size', 'total_parameters']) {
    const v = (metadata as Record<string, unknown>)[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) {
      fail(OP, `${where} metadata.${key}`, 'a non-negative integer', JSON.stringify(v));
    }
  }
  return index as ShardIndex;
}

/**
 * Checks the index against the shards' headers: every indexed tensor is in
 * its shard, every shard tensor is indexed to that shard, and the totals add up.
 */
export function checkShards(index: ShardIndex, headers: Map<string, ParsedHeader>, where: string): void {
  const inShard = new Map<string, Map<string, TensorEntry>>();
  for (const [file, header] of headers) inShard.set(file, new Map(header.entries.map(e => [e.name, e])));
  for (const [name, file] of Object.entries(index.weight_map)) {
    if (!inShard.get(file)?.has(name)) {
      fail(OP, `${where} weight_map['${name}']`, `a tensor held by ${file}`, `a name ${file} does not hold`);
    }
  }
  let size = 0, parameters = 0;
  for (const [file, entries] of inShard) {
    for (const [name, e] of entries) {
      if (index.weight_map[name] !== file) {
        fail(OP, `${file}: tensor '${name}'`, `listed in ${where} weight_map as in ${file}`,
             index.weight_map[name] === undefined ? 'no entry (an unexpected tensor)' :
                                                    `an entry for ${index.weight_map[name]}`);
      }
      size += e.end - e.begin;
      parameters += elementCount(e.shape);
    }
  }
  const {total_size: totalSize, total_parameters: totalParameters} = index.metadata;
  if (totalSize !== undefined && totalSize !== size) {
    fail(OP, `${where} metadata.total_size`, `${size}, the bytes of the shards' tensors`, String(totalSize));
  }
  if (totalParameters !== undefined && totalParameters !== parameters) {
    fail(OP, `${where} metadata.total_parameters`, `${parameters}, the elements of the shards' tensors`,
         String(totalParameters));
  }
}

/**
 * Groups tensors (in the given order) into shards of at most `maxShardBytes`,
 * as transformers does: a new shard starts when the next tensor would not
 * fit, and a tensor larger than the limit gets a shard of its own.
 */
export function planShards<T extends {bytes: number}>(tensors: T[], maxShardBytes: number): T[][] {
  const shards: T[][] = [];
  let current: T[] = [], bytes = 0;
  for (const t of tensors) {
    if (current.length > 0 && bytes + t.bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += t.bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/** The index file's text as transformers writes it (2-space indent, sorted weight_map). */
export function shardIndexJson(weightMap: Record<string, string>, totalSize: number, totalParameters: number): string {
  const sorted = Object.fromEntries(Object.keys(weightMap).sort().map(k => [k, weightMap[k]]));
  return `${JSON.stringify({metadata: {total_parameters: totalParameters, total_size: totalSize}, weight_map: sorted},
                           null, 2)}\n`;
}

export function tensorBytes(dtype: keyof typeof DTYPE_BYTES, shape: number[]): number {
  return elementCount(shape) * DTYPE_BYTES[dtype];
}
