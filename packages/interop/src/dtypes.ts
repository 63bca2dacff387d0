/**
 * The safetensors dtypes sluice reads and writes, and their conversion to and
 * from the typed arrays tfjs holds (float32, int32, bool).
 *
 * Data is little-endian in the file. Every JavaScript engine in use is
 * little-endian too, so the fast paths copy bytes; a big-endian host takes the
 * DataView paths, which give the same values.
 */
import {fail} from '@sluice/core/internal';

/** Dtype names as the safetensors header spells them. */
export type SafetensorsDtype = 'F32'|'F16'|'BF16'|'I64'|'I32'|'I16'|'I8'|'U32'|'U16'|'U8'|'BOOL';
/** What a tensor becomes in JavaScript: tfjs's dtypes. */
export type HostDtype = 'float32'|'int32'|'bool';
export type HostValues = Float32Array|Int32Array|Uint8Array;

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U32: 4, U16: 2, U8: 1, BOOL: 1,
};
export const READABLE_DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDtype[];

/**
 * The order the safetensors package lays tensors out in: by its Dtype enum,
 * largest first (U64, I64, F64, F32, U32, I32, BF16, F16, ...), then by name.
 * Checked against save_file of safetensors 0.8 by the Python tests.
 */
export const LAYOUT_RANK: Readonly<Record<SafetensorsDtype, number>> = {
  I64: 0, F32: 1, U32: 2, I32: 3, BF16: 4, F16: 5, U16: 6, I16: 7, I8: 8, U8: 9, BOOL: 10,
};
export const WRITABLE_FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export const WRITABLE_INT_DTYPES = ['I32', 'I64'] as const;
export type WritableFloatDtype = typeof WRITABLE_FLOAT_DTYPES[number];
export type WritableIntDtype = typeof WRITABLE_INT_DTYPES[number];

export function hostDtypeOf(dtype: SafetensorsDtype): HostDtype {
  if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') return 'float32';
  return dtype === 'BOOL' ? 'bool' : 'int32';
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const INT32_MIN = -2147483648, INT32_MAX = 2147483647;

/**
 * A copy of `bytes` in a fresh, aligned ArrayBuffer (file offsets need not be
 * aligned). Not `bytes.slice()`: on a Node Buffer that is a view of the pool.
 */
function copyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  return copyBytes(bytes).buffer;
}

let f16Table: Uint32Array|null = null;

/** float32 bit patterns of all 65,536 float16 values: every one is exact in float32, NaN payloads kept. */
function float16Table(): Uint32Array {
  if (f16Table != null) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; ++h) {
    const sign = (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = sign | 0x7f800000 | (mant << 13);
    } else if (exp !== 0) {
      table[h] = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant === 0) {
      table[h] = sign;
    } else {
      // Subnormal: shift the mantissa up to a leading 1, lowering the exponent as we go.
      let m = mant, e = 113;
      while ((m & 0x400) === 0) {
        m <<= 1;
        --e;
      }
      table[h] = sign | (e << 23) | ((m & 0x3ff) << 13);
    }
  }
  return f16Table = table;
}

function readUint16s(bytes: Uint8Array): Uint16Array {
  if (LITTLE_ENDIAN_HOST) return new Uint16Array(alignedCopy(bytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint16Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; ++i) out[i] = view.getUint16(2 * i, true);
  return out;
}

/**
 * Decodes one tensor's bytes (exactly its data_offsets range) to the host
 * dtype. `where` names the tensor for errors (out-of-range I64, BOOL not 0/1).
 */
export function decodeValues(dtype: SafetensorsDtype, bytes: Uint8Array, where: string): HostValues {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN_HOST) return new Float32Array(alignedCopy(bytes));
      const out = new Float32Array(count);
      for (let i = 0; i < count; ++i) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F16': {
      const table = float16Table(), halves = readUint16s(bytes), bits = new Uint32Array(count);
      for (let i = 0; i < count; ++i) bits[i] = table[halves[i]];
      return new Float32Array(bits.buffer);
    }
    case 'BF16': {
      const halves = readUint16s(bytes), bits = new Uint32Array(count);
      for (let i = 0; i < count; ++i) bits[i] = halves[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I32': {
      if (LITTLE_ENDIAN_HOST) return new Int32Array(alignedCopy(bytes));
      const out = new Int32Array(count);
      for (let i = 0; i < count; ++i) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I64': {
      // int32 is what tfjs holds: a value outside it would wrap, so it is an error instead.
      const out = new Int32Array(count);
      for (let i = 0; i < count; ++i) {
        const low = view.getUint32(8 * i, true), high = view.getInt32(8 * i + 4, true);
        const fits = high === 0 && low <= INT32_MAX || high === -1 && low >= 0x80000000;
        if (!fits) {
          fail('readSafetensors', `${where} (I64) element ${i}`,
               `in the int32 range [${INT32_MIN}, ${INT32_MAX}] (tfjs holds integers as int32)`,
               String(view.getBigInt64(8 * i, true)));
        }
        out[i] = low | 0;
      }
      return out;
    }
    case 'U32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; ++i) {
        const v = view.getUint32(4 * i, true);
        if (v > INT32_MAX) {
          fail('readSafetensors', `${where} (U32) element ${i}`, `<= ${INT32_MAX} (tfjs holds integers as int32)`,
               String(v));
        }
        out[i] = v;
      }
      return out;
    }
    case 'I16':
    case 'U16':
    case 'I8':
    case 'U8': {
      const out = new Int32Array(count);
      const get = dtype === 'I16' ? (i: number) => view.getInt16(2 * i, true) :
          dtype === 'U16'         ? (i: number) => view.getUint16(2 * i, true) :
          dtype === 'I8'          ? (i: number) => view.getInt8(i) :
                                    (i: number) => view.getUint8(i);
      for (let i = 0; i < count; ++i) out[i] = get(i);
      return out;
    }
    case 'BOOL': {
      const out = copyBytes(bytes);
      const bad = out.findIndex(v => v > 1);
      if (bad >= 0) fail('readSafetensors', `${where} (BOOL) element ${bad}`, '0 or 1', String(out[bad]));
      return out;
    }
  }
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** float32 -> float16 bits, round to nearest even; NaN stays NaN; -1 when a finite value overflows. */
export function float16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000, exp = (bits >>> 23) & 0xff, mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112;  // float16's biased exponent
  if (e >= 0x1f) return -1;
  if (e <= 0) {
    // float16 subnormal (or zero): the implicit 1 joins the mantissa, shifted right by 14 - e.
    if (e < -10) return sign;
    const m = mant | 0x800000, shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1), halfway = 1 << (shift - 1);
    if (rest > halfway || rest === halfway && (half & 1) === 1) ++half;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || rest === 0x1000 && (half & 1) === 1) ++half;
  return half >= 0x7c00 ? -1 : sign | half;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays NaN; -1 when a finite value overflows. */
export function bfloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000) {
    return (bits & 0x7fffff) !== 0 ? (bits >>> 16) | 0x40 : bits >>> 16;
  }
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
  return (rounded & 0x7f80) === 0x7f80 ? -1 : rounded;
}

/** Encodes host values as `dtype` little-endian bytes into `out` (length = count · size). */
export function encodeValues(dtype: SafetensorsDtype, values: HostValues, out: Uint8Array, where: string): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const n = values.length;
  switch (dtype) {
    case 'F32':
    case 'I32':
      if (LITTLE_ENDIAN_HOST) {
        out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      } else {
        for (let i = 0; i < n; ++i) {
          if (dtype === 'F32') view.setFloat32(4 * i, values[i], true);
          else view.setInt32(4 * i, values[i], true);
        }
      }
      return;
    case 'F16':
    case 'BF16': {
      const convert = dtype === 'F16' ? float16Bits : bfloat16Bits;
      for (let i = 0; i < n; ++i) {
        const h = convert(values[i]);
        if (h < 0) {
          fail('writeSafetensors', `${where} element ${i}`,
               `within ${dtype}'s range (max ${dtype === 'F16' ? '65504' : '3.3895e38'}) to be written as ${dtype}`,
               String(values[i]));
        }
        view.setUint16(2 * i, h, true);
      }
      return;
    }
    case 'I64':
      for (let i = 0; i < n; ++i) {
        view.setInt32(8 * i, values[i], true);
        view.setInt32(8 * i + 4, values[i] < 0 ? -1 : 0, true);
      }
      return;
    case 'BOOL':
      for (let i = 0; i < n; ++i) out[i] = values[i] ? 1 : 0;
      return;
    default:
      fail('writeSafetensors', `${where} dtype`, `one of F32, F16, BF16, I32, I64, BOOL`, dtype);
  }
}
