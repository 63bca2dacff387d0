/**
 * Reading and writing safetensors files in memory (bytes in, bytes or a Blob
 * out) and through a random-access byte source (a Blob, a file), which reads
 * the header first and then each tensor's byte range, so a multi-GiB file is
 * never held whole.
 */
import * as tf from '@tensorflow/tfjs-core';
import {fail} from '@sluice/core/internal';

import {decodeValues, encodeValues, HostDtype, hostDtypeOf, HostValues, SafetensorsDtype, WRITABLE_FLOAT_DTYPES,
        WRITABLE_INT_DTYPES, WritableFloatDtype, WritableIntDtype} from './dtypes';
import {elementCount, headerLength, Layout, parseHeader, ParsedHeader, planLayout, PREFIX_BYTES,
        TensorEntry} from './header';

/** A tensor's values on the host, as tfjs holds them. */
export interface HostTensor {
  dtype: HostDtype;
  shape: number[];
  values: HostValues;
}

/** A tensor read from a file: its host values and the dtype it had there. */
export interface ReadTensor extends HostTensor {
  sourceDtype: SafetensorsDtype;
}

export interface SafetensorsContents {
  tensors: Record<string, ReadTensor>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** What errors call the file (default 'safetensors file'); the Node helpers pass its path. */
  name?: string;
  /** Read only these tensors (each must be in the file); default all. */
  only?: string[];
}

/** Random access to a file's bytes: a Blob, a file descriptor, an HTTP range reader, ... */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface WriteOptions {
  /** Dtype float32 tensors are written as (default 'F32'); F16/BF16 round to nearest even. */
  floatDtype?: WritableFloatDtype;
  /** Dtype int32 tensors are written as (default 'I32'; 'I64' as PyTorch's default integers). */
  intDtype?: WritableIntDtype;
}

/** What can be written: a tf.Tensor (its data is read asynchronously) or host values. */
export type WritableTensor = tf.Tensor|HostTensor;

const READ = 'readSafetensors';
const WRITE = 'writeSafetensors';

function asBytes(bytes: Uint8Array|ArrayBuffer): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  return fail(READ, 'bytes', 'a Uint8Array or an ArrayBuffer', bytes === null ? 'null' : typeof bytes);
}

function selected(header: ParsedHeader, only: string[]|undefined, file: string): TensorEntry[] {
  if (only === undefined) return header.entries;
  if (!Array.isArray(only)) fail(READ, 'options.only', 'an array of tensor names', typeof only);
  const byName = new Map(header.entries.map(e => [e.name, e]));
  return only.map(name => byName.get(name) ??
                          fail(READ, `options.only '${name}'`, `a tensor of ${file} (${header.entries.length} tensors)`,
                               'a name the file does not hold'));
}

function decodeEntry(entry: TensorEntry, bytes: Uint8Array, file: string): ReadTensor {
  return {
    dtype: hostDtypeOf(entry.dtype),
    shape: entry.shape.slice(),
    values: decodeValues(entry.dtype, bytes, `${file}: tensor '${entry.name}'`),
    sourceDtype: entry.dtype,
  };
}

/**
 * Reads a whole safetensors file held in memory: F32, F16 and BF16 become
 * float32; I64 (range-checked), I32, I16, I8, U32, U16, U8 become int32; BOOL
 * becomes bool. The header is validated in full before any tensor is decoded.
 */
export function readSafetensors(bytes: Uint8Array|ArrayBuffer, options: ReadOptions = {}): SafetensorsContents {
  const data = asBytes(bytes);
  const file = options.name ?? 'safetensors file';
  const n = headerLength(data.subarray(0, PREFIX_BYTES), data.byteLength, file);
  const header = parseHeader(data.subarray(PREFIX_BYTES, PREFIX_BYTES + n), data.byteLength, file);
  const pairs = selected(header, options.only, file).map(e => {
    const start = header.dataStart + e.begin;
    return [e.name, decodeEntry(e, data.subarray(start, header.dataStart + e.end), file)] as const;
  });
  return {tensors: Object.fromEntries(pairs), metadata: header.metadata};
}

/** Reads the header of a file behind `source`: its tensors' names, dtypes, shapes and offsets. */
export async function readSafetensorsHeader(source: ByteSource, name = 'safetensors file'): Promise<ParsedHeader> {
  const n = headerLength(await source.read(0, Math.min(PREFIX_BYTES, source.size)), source.size, name);
  return parseHeader(await source.read(PREFIX_BYTES, n), source.size, name);
}

/**
 * Reads a safetensors file through random access: the header, then each
 * selected tensor's byte range, one at a time.
 */
export async function readSafetensorsFrom(source: ByteSource, options: ReadOptions = {}):
    Promise<SafetensorsContents> {
  const file = options.name ?? 'safetensors file';
  const header = await readSafetensorsHeader(source, file);
  const pairs: Array<[string, ReadTensor]> = [];
  for (const e of selected(header, options.only, file)) {
    const bytes = await source.read(header.dataStart + e.begin, e.end - e.begin);
    if (bytes.byteLength !== e.end - e.begin) {
      fail(READ, `${file}: tensor '${e.name}'`, `${e.end - e.begin} bytes from the file`,
           `${bytes.byteLength} (the file changed or was truncated while being read)`);
    }
    pairs.push([e.name, decodeEntry(e, bytes, file)]);
  }
  return {tensors: Object.fromEntries(pairs), metadata: header.metadata};
}

/** A Blob (a browser File, or Node's fs.openAsBlob) as a ByteSource. */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Reads a Blob or File (e.g. from an <input type=file>) tensor by tensor, without loading it whole. */
export function readSafetensorsBlob(blob: Blob, options: ReadOptions = {}): Promise<SafetensorsContents> {
  return readSafetensorsFrom(blobSource(blob), {name: (blob as File).name || undefined, ...options});
}

/**
 * Host tensors as tf.Tensors, created all or none (if one fails, those made
 * before it are disposed). The caller owns the result.
 */
export function toTensors(tensors: Record<string, HostTensor>): tf.NamedTensorMap {
  const made: tf.NamedTensorMap = {};
  try {
    for (const [name, t] of Object.entries(tensors)) made[name] = tf.tensor(t.values, t.shape, t.dtype);
  } catch (e) {
    tf.dispose(Object.values(made));
    throw e;
  }
  return made;
}

export interface PreparedWrite extends Layout {
  /** The encoded bytes of the i-th entry of `entries` (reads tensor data asynchronously). */
  encode(i: number): Promise<Uint8Array>;
}

function isTensor(t: unknown): t is tf.Tensor {
  return t instanceof tf.Tensor;
}

/** Validates what is to be written and plans its layout; the data is read and encoded per tensor, later. */
export function prepareWrite(tensors: Record<string, WritableTensor>, metadata: Record<string, string> = {},
                             options: WriteOptions = {}): PreparedWrite {
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors) || isTensor(tensors)) {
    fail(WRITE, 'tensors', 'an object of name -> tf.Tensor or {dtype, shape, values}', String(tensors));
  }
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    fail(WRITE, 'metadata', 'an object of string -> string', String(metadata));
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') fail(WRITE, `metadata.${key}`, 'a string', JSON.stringify(value) ?? typeof value);
  }
  const floatDtype = options.floatDtype ?? 'F32', intDtype = options.intDtype ?? 'I32';
  if (!(WRITABLE_FLOAT_DTYPES as readonly string[]).includes(floatDtype)) {
    fail(WRITE, 'options.floatDtype', `one of ${WRITABLE_FLOAT_DTYPES.join(', ')}`, JSON.stringify(floatDtype));
  }
  if (!(WRITABLE_INT_DTYPES as readonly string[]).includes(intDtype)) {
    fail(WRITE, 'options.intDtype', `one of ${WRITABLE_INT_DTYPES.join(', ')}`, JSON.stringify(intDtype));
  }
  const sources = new Map<string, WritableTensor>();
  const planned = Object.entries(tensors).map(([name, t]) => {
    const where = `tensor '${name}'`;
    if (name === '__metadata__') fail(WRITE, 'tensors', 'names other than __metadata__', `a tensor named ${name}`);
    if (t == null || typeof t !== 'object') fail(WRITE, where, 'a tf.Tensor or {dtype, shape, values}', String(t));
    if (isTensor(t) && t.isDisposed) fail(WRITE, where, 'a live tf.Tensor', 'a disposed tensor');
    const dtype = t.dtype;
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
      fail(WRITE, `${where} dtype`, "'float32', 'int32' or 'bool'", JSON.stringify(dtype));
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every(d => Number.isSafeInteger(d) && d >= 0)) {
      fail(WRITE, `${where} shape`, 'an array of non-negative integers', JSON.stringify(shape));
    }
    if (!isTensor(t)) {
      const want = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array;
      if (!(t.values instanceof want) || t.values.length !== elementCount(shape)) {
        fail(WRITE, `${where} values`,
             `a ${want.name} of ${elementCount(shape)} elements (shape [${shape.join(',')}], dtype ${dtype})`,
             t.values == null ? String(t.values) :
                                `a ${t.values.constructor.name} of ${(t.values as HostValues).length} elements`);
      }
    }
    sources.set(name, t);
    const fileDtype: SafetensorsDtype = dtype === 'float32' ? floatDtype : dtype === 'int32' ? intDtype : 'BOOL';
    return {name, dtype: fileDtype, shape: shape.slice()};
  });
  const layout = planLayout(planned, metadata);
  return {
    ...layout,
    async encode(i: number): Promise<Uint8Array> {
      const e = layout.entries[i];
      const t = sources.get(e.name)!;
      const values = isTensor(t) ? await t.data() as HostValues : t.values;
      const out = new Uint8Array(e.end - e.begin);
      encodeValues(e.dtype, values, out, `tensor '${e.name}'`);
      return out;
    },
  };
}

/**
 * Writes tensors as a safetensors file in memory, laid out as the Python
 * package lays it out (same bytes for the same tensors and one metadata key).
 * Async because a tensor's data may live on a GPU.
 */
export async function writeSafetensors(tensors: Record<string, WritableTensor>, metadata: Record<string, string> = {},
                                       options: WriteOptions = {}): Promise<Uint8Array> {
  const plan = prepareWrite(tensors, metadata, options);
  const out = new Uint8Array(plan.head.byteLength + plan.dataBytes);
  out.set(plan.head);
  for (let i = 0; i < plan.entries.length; ++i) out.set(await plan.encode(i), plan.head.byteLength + plan.entries[i].begin);
  return out;
}

/** The same file as a Blob, built from one part per tensor (no single buffer of the whole file). */
export async function writeSafetensorsBlob(tensors: Record<string, WritableTensor>,
                                           metadata: Record<string, string> = {},
                                           options: WriteOptions = {}): Promise<Blob> {
  const plan = prepareWrite(tensors, metadata, options);
  const parts: BlobPart[] = [plan.head as Uint8Array<ArrayBuffer>];
  for (let i = 0; i < plan.entries.length; ++i) parts.push(await plan.encode(i) as Uint8Array<ArrayBuffer>);
  return new Blob(parts, {type: 'application/octet-stream'});
}
