/**
 * Checkpoints: one file holding a JSON header (step, the model's transformers
 * config.json object, tokenizer, history, tensor index) and the float32 data of every weight and optimizer
 * slot. Written to a temporary file (every byte, short writes retried),
 * flushed, then renamed over the old one and the directory flushed, so an
 * interrupted write leaves the previous checkpoint intact. A write that
 * fails removes its temporary file; temporaries left by processes that died
 * mid-write are removed by the next successful write.
 */
import {closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync,
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
  /** The model's transformers config.json object. */
  config: Record<string, unknown>;
  /** The tokenizer's id (TOKENIZER.id). */
  tokenizer: string;
  history: unknown;
}

export function writeCheckpoint(file: string, header: CheckpointHeader, weights: TensorEntry[],
                                optimizer: TensorEntry[]): void {
  mkdirSync(path.dirname(file), {recursive: true});
  // Every entry is stored as float32. Callers pass `await tensor.data()`, which is an Int32Array for int32
  // tensors (Adam's iteration count): its raw bytes read back as float32 would be a denormal, not the count.
  const asFloat32 = (entries: TensorEntry[]) => entries.map(e => e.values instanceof Float32Array ? e :
      {...e, values: Float32Array.from(e.values as ArrayLike<number>)});
  weights = asFloat32(weights);
  optimizer = asFloat32(optimizer);
  let offset = 0;
  const index = (entries: TensorEntry[]) => entries.map(e => {
    const item = {name: e.name, shape: e.shape, offset, length: e.values.length};
    offset += e.values.length * 4;
    return item;
  });
  const json = Buffer.from(JSON.stringify({...header, weights: index(weights), optimizer: index(optimizer)}), 'utf8');
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(json.length);
  const tmp = temporaryName(file, process.pid);
  const fd = openSync(tmp, 'w');
  try {
    try {
      writeAll(fd, Buffer.from(MAGIC, 'utf8'));
      writeAll(fd, lengthField);
      writeAll(fd, json);
      for (const e of [...weights, ...optimizer]) {
        writeAll(fd, Buffer.from(e.values.buffer, e.values.byteOffset, e.values.byteLength));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    // The previous checkpoint is untouched; leave no half-written file beside it.
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    throw e;
  }
  syncDirectory(path.dirname(file));
  removeStaleTemporaries(file);
}

function temporaryName(file: string, pid: number): string {
  return `${file}.tmp-${pid}`;
}

/** writeSync may write less than asked (a signal, a full pipe, huge buffers): loop until every byte is out. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    if (!(n > 0)) throw new Error(`checkpoint write made no progress (${done} of ${bytes.length} bytes written)`);
    done += n;
  }
}

/** Makes the rename itself durable (best effort: not every platform can fsync a directory). */
function syncDirectory(dir: string): void {
  let fd: number|undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // e.g. Windows: directories cannot be opened for fsync
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';  // alive, someone else's
  }
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
  if (typeof parsed.tokenizer !== 'string' || parsed.config?.['model_type'] === undefined) {
    const old = Array.isArray((parsed as {vocabulary?: unknown}).vocabulary) ?
        `by the older word-level model (a vocabulary of ${(parsed as unknown as {vocabulary: unknown[]}).vocabulary.length} ` +
            'words, no transformers config)' :
        'in an unknown format (no tokenizer or model_type in its header)';
    throw new UsageError(`--resume: checkpoint '${file}' was written ${old}; this trainer's models use GPT-2 tokens ` +
                         'and a transformers config. Start without --resume (the first checkpoint replaces it) ' +
                         'or pass another --checkpoint; the file was left untouched');
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

/**
 * Removes `<file>.tmp-<pid>` files of this process and of processes that no
 * longer run (a write killed half way); a live writer's temporary is left alone.
 */
export function removeStaleTemporaries(file: string): void {
  const dir = path.dirname(file), prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && processAlive(pid))) continue;
    try {
      unlinkSync(path.join(dir, name));
    } catch {
      // removed meanwhile
    }
  }
}
