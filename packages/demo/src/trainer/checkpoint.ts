/**
 * Checkpoints: one file holding a JSON header (step, config, vocabulary,
 * history, tensor index) and the float32 data of every weight and optimizer
 * slot. Written to a temporary file, flushed, then renamed over the old one,
 * so an interrupted write leaves the previous checkpoint intact.
 */
import {closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync,
        writeSync} from 'node:fs';
import path from 'node:path';

import {UsageError} from './corpus';

const MAGIC = 'SLUICE-CKPT-1\n';

export interface TensorEntry {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface CheckpointHeader {
  step: number;
  config: Record<string, unknown>;
  vocabulary: string[];
  history: unknown;
}

export function writeCheckpoint(file: string, header: CheckpointHeader, weights: TensorEntry[],
                                optimizer: TensorEntry[]): void {
  mkdirSync(path.dirname(file), {recursive: true});
  let offset = 0;
  const index = (entries: TensorEntry[]) => entries.map(e => {
    const item = {name: e.name, shape: e.shape, offset, length: e.values.length};
    offset += e.values.length * 4;
    return item;
  });
  const json = Buffer.from(JSON.stringify({...header, weights: index(weights), optimizer: index(optimizer)}), 'utf8');
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(json.length);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, Buffer.from(MAGIC, 'utf8'));
    writeSync(fd, lengthField);
    writeSync(fd, json);
    for (const e of [...weights, ...optimizer]) {
      writeSync(fd, Buffer.from(e.values.buffer, e.values.byteOffset, e.values.byteLength));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export interface LoadedCheckpoint extends CheckpointHeader {
  weights: TensorEntry[];
  optimizer: TensorEntry[];
}

export function readCheckpoint(file: string): LoadedCheckpoint {
  if (!existsSync(file)) throw new UsageError(`--resume: no checkpoint at '${file}'`);
  const bytes = readFileSync(file);
  const corrupt = (why: string) => new UsageError(`--resume: checkpoint '${file}' is corrupt (${why}); it was left untouched`);
  if (bytes.subarray(0, MAGIC.length).toString('utf8') !== MAGIC) throw corrupt('not a sluice checkpoint');
  if (bytes.length < MAGIC.length + 4) throw corrupt('truncated header');
  const jsonLength = bytes.readUInt32LE(MAGIC.length);
  const dataStart = MAGIC.length + 4 + jsonLength;
  if (dataStart > bytes.length) throw corrupt('truncated header');
  let parsed: CheckpointHeader&{weights: Array<{name: string, shape: number[], offset: number, length: number}>,
                               optimizer: Array<{name: string, shape: number[], offset: number, length: number}>};
  try {
    parsed = JSON.parse(bytes.subarray(MAGIC.length + 4, dataStart).toString('utf8'));
  } catch (e) {
    throw corrupt(`header is not JSON: ${(e as Error).message}`);
  }
  const data = bytes.subarray(dataStart);
  const load = (index: typeof parsed.weights) => index.map(item => {
    if (item.offset + item.length * 4 > data.length) throw corrupt(`data of '${item.name}' is truncated`);
    const values = new Float32Array(item.length);
    Buffer.from(values.buffer).set(data.subarray(item.offset, item.offset + item.length * 4));
    return {name: item.name, shape: item.shape, values};
  });
  return {...parsed, weights: load(parsed.weights), optimizer: load(parsed.optimizer)};
}

export function removeStaleTemporaries(file: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  if (existsSync(tmp)) unlinkSync(tmp);
}
