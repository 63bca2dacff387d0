/**
 * The safetensors layout: an 8-byte little-endian header length N, N bytes of
 * JSON, then the data section. The JSON maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}`, offsets relative to the start
 * of the data section, plus an optional `__metadata__` of string -> string.
 *
 * Reading validates the whole header against the file size before any tensor
 * is decoded, so a bad file fails at once and nothing is half-loaded. The
 * rules are those of the safetensors package: the tensors tile the data
 * section exactly (no overlap, no gap, nothing after the last one).
 */
import {fail} from '@sluice/core/internal';

import {DTYPE_BYTES, LAYOUT_RANK, READABLE_DTYPES, SafetensorsDtype} from './dtypes';

/** The prefix holding the header length. */
export const PREFIX_BYTES = 8;
/** The safetensors package refuses larger headers; so do we, before reading one. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets in the data section: [begin, end). */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  metadata: Record<string, string>;
  /** Sorted by offset. */
  entries: TensorEntry[];
  /** Where the data section starts in the file: 8 + N. */
  dataStart: number;
}

const OP = 'readSafetensors';
const METADATA_KEY = '__metadata__';

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const shapeText = (shape: number[]) => `[${shape.join(',')}]`;

export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Reads the header length from the first 8 bytes of a file of `fileBytes`
 * bytes and checks it fits; returns N.
 */
export function headerLength(prefix: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < PREFIX_BYTES || prefix.byteLength < PREFIX_BYTES) {
    fail(OP, `${file} size`, `at least ${PREFIX_BYTES} bytes (the header length)`,
         `${fileBytes} bytes (a truncated or empty file)`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (n > fileBytes - PREFIX_BYTES) {
    fail(OP, `${file} header length`, `<= the ${fileBytes - PREFIX_BYTES} bytes after the 8-byte prefix`,
         `${n} (the header runs past the end of the file: truncated, or not a safetensors file)`);
  }
  if (n > MAX_HEADER_BYTES) fail(OP, `${file} header length`, `<= ${MAX_HEADER_BYTES} bytes`, String(n));
  if (n < 2) fail(OP, `${file} header length`, 'at least 2 (the JSON object {})', String(n));
  return n;
}

/**
 * Parses and validates the JSON header (`json`: its N bytes) of a file of
 * `fileBytes` bytes. Throws, naming the file and the tensor, on the first
 * problem found.
 */
export function parseHeader(json: Uint8Array, fileBytes: number, file: string): ParsedHeader {
  const dataStart = PREFIX_BYTES + json.byteLength;
  const dataBytes = fileBytes - dataStart;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(json));
  } catch (e) {
    fail(OP, `${file} header`, `valid UTF-8 JSON (${json.byteLength} bytes)`,
         `${(e as Error).message} (starts ${JSON.stringify(new TextDecoder().decode(json.subarray(0, 40)))})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(OP, `${file} header`, 'a JSON object', Array.isArray(header) ? 'an array' : String(header));
  }
  const metadataPairs: Array<[string, string]> = [];
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) {
        fail(OP, `${file} __metadata__`, 'an object of string -> string', JSON.stringify(info));
      }
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(OP, `${file} __metadata__.${key}`, 'a string', JSON.stringify(value));
        metadataPairs.push([key, value]);
      }
      continue;
    }
    entries.push(parseEntry(name, info, `${file}: tensor '${name}'`));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (let i = 0; i < entries.length; ++i) {
    const t = entries[i], where = `${file}: tensor '${t.name}'`;
    if (t.end > dataBytes) {
      fail(OP, `${where} data_offsets`, `within the data section of ${dataBytes} bytes`,
           `[${t.begin}, ${t.end}] (out of range: the file is truncated or the offsets are wrong)`);
    }
    if (t.begin < at) {
      fail(OP, `${where} data_offsets`, `at or after byte ${at}, where tensor '${entries[i - 1].name}' ends`,
           `[${t.begin}, ${t.end}] (the two overlap)`);
    }
    if (t.begin > at) {
      fail(OP, `${where} data_offsets`, `at byte ${at}, where the previous tensor ends (no gaps)`,
           `[${t.begin}, ${t.end}]`);
    }
    at = t.end;
  }
  if (at !== dataBytes) {
    fail(OP, `${file} data section`, `${at} bytes long (where the last tensor ends)`,
         `${dataBytes} bytes (${dataBytes - at} bytes past the last tensor)`);
  }
  // fromEntries defines own properties, so even a key named __proto__ stays data.
  return {metadata: Object.fromEntries(metadataPairs), entries, dataStart};
}

function parseEntry(name: string, info: unknown, where: string): TensorEntry {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    fail(OP, where, 'an object {dtype, shape, data_offsets}', JSON.stringify(info));
  }
  const {dtype, shape, data_offsets: offsets} = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(READABLE_DTYPES as string[]).includes(dtype)) {
    fail(OP, `${where} dtype`, `one of ${READABLE_DTYPES.join(', ')}`, JSON.stringify(dtype));
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(OP, `${where} shape`, 'an array of non-negative integers', JSON.stringify(shape));
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
    fail(OP, `${where} data_offsets`, '[begin, end] with 0 <= begin <= end', JSON.stringify(offsets));
  }
  const size = DTYPE_BYTES[dtype as SafetensorsDtype];
  const count = elementCount(shape);
  const [begin, end] = offsets as number[];
  if (!Number.isSafeInteger(count * size) || count * size !== end - begin) {
    fail(OP, `${where} data_offsets`,
         `${count * size} bytes apart (shape ${shapeText(shape)} × ${size} bytes of ${dtype})`,
         `[${begin}, ${end}], ${end - begin} bytes`);
  }
  return {name, dtype: dtype as SafetensorsDtype, shape: shape.slice(), begin, end};
}

export interface PlannedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface Layout {
  /** The 8-byte prefix and the JSON header, padded with spaces to a multiple of 8 bytes. */
  head: Uint8Array;
  /** In data order, with their offsets. */
  entries: TensorEntry[];
  dataBytes: number;
}

/**
 * The layout the safetensors package writes: tensors in its dtype order
 * (largest dtypes first, so every tensor's data is aligned to its dtype), then
 * by name, the header listing `__metadata__` first and the tensors in data order.
 */
export function planLayout(tensors: PlannedTensor[], metadata: Record<string, string>): Layout {
  const order = tensors.slice().sort((a, b) => LAYOUT_RANK[a.dtype] - LAYOUT_RANK[b.dtype] ||
                                                (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let at = 0;
  const entries = order.map(t => {
    const begin = at;
    at += elementCount(t.shape) * DTYPE_BYTES[t.dtype];
    return {name: t.name, dtype: t.dtype, shape: t.shape.slice(), begin, end: at};
  });
  const pairs: Array<[string, unknown]> = Object.keys(metadata).length > 0 ? [[METADATA_KEY, metadata]] : [];
  for (const e of entries) pairs.push([e.name, {dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end]}]);
  const header = Object.fromEntries(pairs);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(PREFIX_BYTES + padded).fill(0x20, PREFIX_BYTES);
  new DataView(head.buffer).setUint32(0, padded, true);
  new DataView(head.buffer).setUint32(4, Math.floor(padded / 2 ** 32), true);
  head.set(json, PREFIX_BYTES);
  return {head, entries, dataBytes: at};
}
