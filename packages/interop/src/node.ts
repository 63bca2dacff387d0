/**
 * `@sluice/interop/node`: safetensors files and (sharded) checkpoint folders
 * on disk through Node's fs. Reads open the file, read the header, then each
 * tensor's byte range, so a multi-GiB file is never held whole; writes go
 * tensor by tensor to a temporary file renamed into place when complete.
 * Kept out of the main entry so browser bundles never see `node:fs`.
 */
import {fail} from '@sluice/core/internal';
import {existsSync, mkdirSync, readdirSync} from 'node:fs';
import {open, readFile, rename, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';

import {ParsedHeader} from './header';
import {ByteSource, prepareWrite, readSafetensorsFrom, readSafetensorsHeader, ReadOptions, ReadTensor,
        SafetensorsContents, WritableTensor, WriteOptions} from './safetensors';
import {checkShards, INDEX_FILE, parseShardIndex, planShards, SHARD_FILE_PATTERN, ShardIndex, shardFileName,
        shardIndexJson, SINGLE_FILE} from './shard_index';

type FileHandle = Awaited<ReturnType<typeof open>>;

function handleSource(handle: FileHandle, size: number): ByteSource {
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const {bytesRead} = await handle.read(out, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? out : out.subarray(0, got);
    },
  };
}

async function withFile<T>(file: string, use: (source: ByteSource) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    return fail('readSafetensors', 'file', 'a readable safetensors file', `${file}: ${(e as Error).message}`);
  }
  try {
    return await use(handleSource(handle, (await handle.stat()).size));
  } finally {
    await handle.close();
  }
}

/** Reads a safetensors file: header first, then one tensor's bytes at a time. */
export function readSafetensorsFile(file: string, options: ReadOptions = {}): Promise<SafetensorsContents> {
  return withFile(file, source => readSafetensorsFrom(source, {name: file, ...options}));
}

/** The validated header of a safetensors file (names, dtypes, shapes, offsets, metadata); reads no tensor data. */
export function readSafetensorsFileHeader(file: string): Promise<ParsedHeader> {
  return withFile(file, source => readSafetensorsHeader(source, file));
}

/** Writes a safetensors file, tensor by tensor, atomically (a temporary file renamed into place). */
export async function writeSafetensorsFile(file: string, tensors: Record<string, WritableTensor>,
                                           metadata: Record<string, string> = {},
                                           options: WriteOptions = {}): Promise<void> {
  const plan = prepareWrite(tensors, metadata, options);
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w');
  try {
    await handle.write(plan.head);
    for (let i = 0; i < plan.entries.length; ++i) await handle.write(await plan.encode(i));
    await handle.close();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(tmp, {force: true});
    throw e;
  }
  await rename(tmp, file);
}

export interface CheckpointContents extends SafetensorsContents {
  /** The safetensors files read, in the order read. */
  files: string[];
  /** The parsed model.safetensors.index.json of a sharded checkpoint. */
  index?: ShardIndex;
}

/**
 * Reads the weights of a transformers checkpoint folder: model.safetensors,
 * or the shards listed by model.safetensors.index.json. Every shard's header
 * is read and checked against the index before any tensor is read, so a
 * mismatch fails before anything is loaded.
 */
export async function readCheckpoint(dir: string, options: {only?: string[]} = {}): Promise<CheckpointContents> {
  const indexPath = path.join(dir, INDEX_FILE);
  if (!existsSync(indexPath)) {
    const single = path.join(dir, SINGLE_FILE);
    if (!existsSync(single)) {
      const files = existsSync(dir) ? readdirSync(dir).join(', ') || 'an empty folder' : 'no such folder';
      fail('readCheckpoint', dir, `a folder holding ${SINGLE_FILE} or ${INDEX_FILE}`, files);
    }
    return {...await readSafetensorsFile(single, options), files: [single]};
  }
  const index = parseShardIndex(await readFile(indexPath, 'utf8'), indexPath);
  const shardFiles = [...new Set(Object.values(index.weight_map))].sort();
  const headers = new Map<string, ParsedHeader>();
  for (const shard of shardFiles) {
    const file = path.join(dir, shard);
    if (!existsSync(file)) fail('readCheckpoint', `${indexPath} shard ${shard}`, 'a file beside the index', 'missing');
    headers.set(shard, await readSafetensorsFileHeader(file));
  }
  checkShards(index, headers, indexPath);
  const wanted = options.only;
  if (wanted !== undefined) {
    const missing = wanted.find(name => index.weight_map[name] === undefined);
    if (missing !== undefined) fail('readCheckpoint', `options.only '${missing}'`, `a tensor of ${indexPath}`, 'unknown');
  }
  const tensors: Record<string, ReadTensor> = {};
  let metadata: Record<string, string> = {};
  for (const shard of shardFiles) {
    const only = wanted?.filter(name => index.weight_map[name] === shard);
    if (only !== undefined && only.length === 0) continue;
    const read = await readSafetensorsFile(path.join(dir, shard), {only});
    Object.assign(tensors, read.tensors);
    if (shard === shardFiles[0]) metadata = read.metadata;
  }
  return {tensors, metadata, files: shardFiles.map(f => path.join(dir, f)), index};
}

export interface CheckpointWriteOptions extends WriteOptions {
  /** Largest shard in bytes (default: no limit, one model.safetensors). */
  maxShardBytes?: number;
  /** Each file's __metadata__ (default {format: 'pt'}, which transformers expects). */
  metadata?: Record<string, string>;
}

/**
 * Writes tensors as a transformers checkpoint's weights in `dir`: one
 * model.safetensors, or shards and model.safetensors.index.json when they
 * exceed `maxShardBytes`. Stale weight files of an earlier write are removed.
 * Returns the files written.
 */
export async function writeCheckpoint(dir: string, tensors: Record<string, WritableTensor>,
                                      options: CheckpointWriteOptions = {}): Promise<string[]> {
  const {maxShardBytes = Infinity, metadata = {format: 'pt'}, ...writeOptions} = options;
  if (!(typeof maxShardBytes === 'number' && maxShardBytes > 0)) {
    fail('writeCheckpoint', 'options.maxShardBytes', 'a number > 0', String(maxShardBytes));
  }
  // Validates every tensor and gives each one's stored size before anything is written.
  const whole = prepareWrite(tensors, metadata, writeOptions);
  const sizes = new Map(whole.entries.map(e => [e.name, e.end - e.begin]));
  const groups = planShards(Object.keys(tensors).map(name => ({name, bytes: sizes.get(name)!})), maxShardBytes);
  const names = groups.length === 1 ? [SINGLE_FILE] : groups.map((_, i) => shardFileName(i, groups.length));
  mkdirSync(dir, {recursive: true});
  for (const stale of readdirSync(dir)) {
    if ((stale === INDEX_FILE || stale === SINGLE_FILE || SHARD_FILE_PATTERN.test(stale)) && !names.includes(stale)) {
      await rm(path.join(dir, stale), {force: true});
    }
  }
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < groups.length; ++i) {
    const subset = Object.fromEntries(groups[i].map(g => [g.name, tensors[g.name]]));
    await writeSafetensorsFile(path.join(dir, names[i]), subset, metadata, writeOptions);
    for (const g of groups[i]) weightMap[g.name] = names[i];
  }
  if (groups.length > 1) {
    const params = whole.entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
    await writeFile(path.join(dir, INDEX_FILE), shardIndexJson(weightMap, whole.dataBytes, params));
  }
  return [...names, ...(groups.length > 1 ? [INDEX_FILE] : [])].map(f => path.join(dir, f));
}
