/**
 * safetensors in memory and through byte sources (Node and browser): round
 * trips of every dtype, F16/BF16 conversion against an independent float64
 * reference, the layout of the Python package, and the bad-input catalogue
 * (each error names the file or tensor and both numbers; nothing is loaded).
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {bfloat16Bits, ByteSource, float16Bits, HostTensor, readSafetensors, readSafetensorsBlob, readSafetensorsFrom,
        toTensors, writeSafetensors, writeSafetensorsBlob} from '../index';

/** float16 bits -> value, from the definition (float64 arithmetic, no bit tricks). */
function float16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits -> value, from the definition. */
function bfloat16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 7) & 0xff, mant = h & 0x7f;
  if (exp === 0xff) return mant ? NaN : sign * Infinity;
  return exp === 0 ? sign * mant * 2 ** -133 : sign * (1 + mant / 128) * 2 ** (exp - 127);
}

/** Round to nearest, ties to the even bit pattern, by search over the finite values of the format. */
function nearestBits(x: number, finite: Array<[number, number]>): number {
  let lo = 0, hi = finite.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (finite[mid][0] <= x) lo = mid; else hi = mid;
  }
  const [a, ba] = finite[lo], [b, bb] = finite[hi];
  if (x - a < b - x) return ba;
  if (b - x < x - a) return bb;
  return (ba & 1) === 0 ? ba : bb;
}

function finiteValues(bitsCount: number, value: (h: number) => number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let h = 0; h < bitsCount; ++h) {
    const v = value(h);
    if (Number.isFinite(v) && !(v === 0 && h !== 0)) out.push([v, h]);  // one zero (+0)
  }
  return out.sort((p, q) => p[0] - q[0]);
}

function host(dtype: 'float32'|'int32'|'bool', shape: number[], values: number[]): HostTensor {
  const ctor = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array;
  return {dtype, shape, values: ctor.from(values)};
}

/** A file of two F32 tensors, a [2,3] and b [4], with its header as an object to corrupt. */
async function sample() {
  const bytes = await writeSafetensors({a: host('float32', [2, 3], [0, 1, 2, 3, 4, 5]),
                                        b: host('float32', [4], [1, 1, 1, 1])});
  const n = new DataView(bytes.buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  return {bytes, header, data: bytes.subarray(8 + n)};
}

function withHeader(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

export function describeSafetensors() {
  // Every env: tensors are written from and made on each backend (the host-side checks simply repeat).
  describeWithFlags('safetensors (@sluice/interop)', ALL_ENVS, () => {
    it('round-trips F32, int32, bool, scalars and empty tensors with metadata', async () => {
      const tensors = {
        w: host('float32', [2, 3], [1.5, -2, 3e-30, NaN, Infinity, -0]), s: host('float32', [], [7]),
        e: host('float32', [0, 5], []), i: host('int32', [3], [-2147483648, 0, 2147483647]),
        f: host('bool', [2, 2], [1, 0, 0, 1]),
      };
      const bytes = await writeSafetensors(tensors, {format: 'pt', note: 'x'});
      const back = readSafetensors(bytes);
      expect(back.metadata).toEqual({format: 'pt', note: 'x'});
      for (const [name, t] of Object.entries(tensors)) {
        const got = back.tensors[name];
        expect(got.shape).toEqual(t.shape);
        expect(got.dtype).toBe(t.dtype);
        expect(new Uint8Array(got.values.buffer)).toEqual(new Uint8Array(t.values.buffer));
      }
      expect(back.tensors.w.sourceDtype).toBe('F32');
      expect(back.tensors.f.sourceDtype).toBe('BOOL');
    });

    it('lays out like the Python package: dtype order, then name; header padded to 8 bytes', async () => {
      const bytes = await writeSafetensors({z: host('float32', [1], [1]), b: host('int32', [1], [2]),
                                            a: host('bool', [1], [1]), c: host('int32', [2], [3, 4])},
                                           {format: 'pt'}, {intDtype: 'I64'});
      const n = new DataView(bytes.buffer).getUint32(0, true);
      expect(n % 8).toBe(0);
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      expect(text).toBe(('{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
                         '"c":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"z":{"dtype":"F32","shape":[1],' +
                         '"data_offsets":[24,28]},"a":{"dtype":"BOOL","shape":[1],"data_offsets":[28,29]}}').padEnd(n));
    });

    it('float16 decodes every one of the 65,536 bit patterns as its definition says', async () => {
      const all = new Uint16Array(65536).map((_, i) => i);
      const header = {x: {dtype: 'F16', shape: [65536], data_offsets: [0, 131072]}};
      const got = readSafetensors(withHeader(header, new Uint8Array(all.buffer))).tensors.x.values;
      let wrong = 0;
      for (let h = 0; h < 65536; ++h) {
        const want = float16Value(h);
        if (!(Object.is(got[h], Math.fround(want)) || Number.isNaN(want) && Number.isNaN(got[h]))) ++wrong;
      }
      expect(wrong).toBe(0);
    });

    it('float32 -> float16 / bfloat16 rounds to nearest even, as a search over all values says', () => {
      const f16 = finiteValues(65536, float16Value), bf16 = finiteValues(65536, bfloat16Value);
      let state = 12345;
      const rand = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
      const xs: number[] = [0, 1, -1, 65504, -65504, 65519.99, 65520, 3.4e38, 5.96e-8, 2.98e-8, 2.9802322e-8, 1e-10, 1 + 2 ** -11,
                            1 + 3 * 2 ** -11, 3.3895e38, -1e-40, 1.1754942e-38];
      for (let i = 0; i < 4000; ++i) xs.push(Math.fround((rand() - 0.5) * 2 ** Math.floor(rand() * 60 - 30)));
      // Every tie: midpoints between neighbouring float16 values (exact in float32).
      for (let i = 0; i + 1 < f16.length; i += 97) xs.push((f16[i][0] + f16[i + 1][0]) / 2);
      // Past the largest finite value by half a step or more, nearest-even is Infinity: reported as -1.
      const overflow16 = 65504 + 16;
      const maxB = bf16[bf16.length - 1][0], overflowB = maxB + (maxB - bf16[bf16.length - 2][0]) / 2;
      for (const x of xs) {
        const v = Math.fround(x);
        if (Math.abs(v) >= overflowB) expect(bfloat16Bits(v)).toBe(-1);
        if (Math.abs(v) >= overflow16) {
          expect(float16Bits(v)).toBe(-1);
          continue;
        }
        const want16 = nearestBits(v, f16);
        const got16 = float16Bits(v);
        if (got16 !== (v < 0 && want16 === 0 ? 0x8000 : want16) && !(v === 0 || Object.is(v, -0))) {
          fail(`float16(${v}) = 0x${got16.toString(16)}, nearest-even 0x${want16.toString(16)}`);
        }
        const wantB = nearestBits(v, bf16);
        const gotB = bfloat16Bits(v);
        if ((gotB & 0x7fff) !== (wantB & 0x7fff) && v !== 0) {
          fail(`bfloat16(${v}) = 0x${gotB.toString(16)}, nearest-even 0x${wantB.toString(16)}`);
        }
      }
      expect(float16Bits(65520)).toBe(-1);  // overflow is reported, not turned into Infinity
      expect(float16Bits(NaN) & 0x7e00).toBe(0x7e00);
      expect(bfloat16Bits(NaN)).toBe(0x7fc0);
    });

    it('F16 and BF16 written and read back are the rounded values; overflow is an error naming the tensor', async () => {
      const t = host('float32', [4], [1 / 3, -2.5, 1e-6, 65504]);
      for (const [floatDtype, bits, value] of [['F16', float16Bits, float16Value],
                                               ['BF16', bfloat16Bits, bfloat16Value]] as const) {
        const back = readSafetensors(await writeSafetensors({t}, {}, {floatDtype})).tensors.t;
        expect(back.sourceDtype).toBe(floatDtype);
        expect(Array.from(back.values)).toEqual(Array.from(t.values, v => Math.fround(value(bits(v)))));
      }
      await expectAsync(writeSafetensors({big: host('float32', [2], [1, 7e4])}, {}, {floatDtype: 'F16'}))
          .toBeRejectedWithError(/tensor 'big' element 1 must be within F16's range.*got 70000/);
    });

    it('reads I64 into int32 and refuses values outside int32, naming tensor, element and value', () => {
      const data = new Uint8Array(16);
      const view = new DataView(data.buffer);
      view.setBigInt64(0, -5n, true);
      view.setBigInt64(8, 2n ** 40n, true);
      const header = {ids: {dtype: 'I64', shape: [2], data_offsets: [0, 16]}};
      expect(() => readSafetensors(withHeader(header, data), {name: 'ids.safetensors'}))
          .toThrowError(/ids\.safetensors: tensor 'ids' \(I64\) element 1 must be in the int32 range.*got 1099511627776/);
      view.setBigInt64(8, 7n, true);
      expect(Array.from(readSafetensors(withHeader(header, data)).tensors.ids.values)).toEqual([-5, 7]);
    });

    it('reads only the tensors asked for, and says so for a name the file lacks', async () => {
      const {bytes} = await sample();
      expect(Object.keys(readSafetensors(bytes, {only: ['b']}).tensors)).toEqual(['b']);
      expect(() => readSafetensors(bytes, {only: ['nope']})).toThrowError(/options.only 'nope' must be a tensor of/);
    });

    it('streams through a byte source: the header, then one tensor range at a time', async () => {
      const big = host('float32', [256], Array.from({length: 256}, (_, i) => i));
      const bytes = await writeSafetensors({a: big, b: big, c: host('float32', [3], [1, 2, 3])});
      const reads: number[] = [];
      const source: ByteSource = {size: bytes.byteLength, read: async (offset, length) => {
        reads.push(length);
        return bytes.slice(offset, offset + length);
      }};
      const back = await readSafetensorsFrom(source, {only: ['c']});
      expect(Array.from(back.tensors.c.values)).toEqual([1, 2, 3]);
      expect(Math.max(...reads)).toBeLessThan(1024);  // never the file (2 KiB of tensors a and b)
      expect(reads.reduce((s, r) => s + r, 0)).toBeLessThan(bytes.byteLength - 2000);
    });

    it('writes a Blob and reads it back tensor by tensor', async () => {
      const blob = await writeSafetensorsBlob({w: tf.tensor2d([[1, 2], [3, 4]])}, {format: 'pt'});
      expect(blob.size).toBeGreaterThan(16);
      const back = await readSafetensorsBlob(blob);
      expect(Array.from(back.tensors.w.values)).toEqual([1, 2, 3, 4]);
      expect(back.metadata).toEqual({format: 'pt'});
    });

    it('writes tf.Tensors of any backend and turns what it read into tensors, leaking nothing', async () => {
      const before = tf.memory().numTensors;
      const x = tf.tensor2d([[1, 2, 3]]), ids = tf.tensor1d([4, 5], 'int32');
      const bytes = await writeSafetensors({x, ids});
      const made = toTensors(readSafetensors(bytes).tensors);
      expect(Array.from(await made.x.data())).toEqual([1, 2, 3]);
      expect(made.ids.dtype).toBe('int32');
      tf.dispose([x, ids, ...Object.values(made)]);
      expect(tf.memory().numTensors).toBe(before);
    });

    describe('bad input', () => {
      const cases: Array<[string, () => Promise<Uint8Array>, RegExp]> = [
        ['an empty file', async () => new Uint8Array(0), /bad\.st size must be at least 8 bytes.*got 0 bytes/],
        ['a truncated prefix', async () => new Uint8Array(5), /size must be at least 8 bytes.*got 5 bytes/],
        ['a header length past the end', async () => (await sample()).bytes.subarray(0, 60),
         /header length must be <= the 52 bytes after the 8-byte prefix, got \d+ \(the header runs past/],
        ['invalid JSON', async () => withHeader({}, new Uint8Array(0)).fill(0x7b, 8), /header must be valid UTF-8 JSON/],
        ['a header that is not an object', async () => {
          const b = new TextEncoder().encode('[1,2]');
          const out = new Uint8Array(8 + b.length);
          out[0] = b.length;
          out.set(b, 8);
          return out;
        }, /header must be a JSON object, got an array/],
        ['a truncated data section', async () => (await sample()).bytes.slice(0, -4),
         /tensor '\w' data_offsets must be within the data section of 36 bytes, got \[\d+, 40\] \(out of range/],
        ['trailing bytes', async () => {
          const {header, data} = await sample();
          return withHeader(header, new Uint8Array([...data, 0, 0]));
        }, /data section must be 40 bytes long \(where the last tensor ends\), got 42 bytes/],
        ['a shape whose size does not match its offsets', async () => {
          const {header, data} = await sample();
          header.a.shape = [2, 4];
          return withHeader(header, data);
        }, /tensor 'a' data_offsets must be 32 bytes apart \(shape \[2,4\] × 4 bytes of F32\), got \[\d+, \d+\], 24 bytes/],
        ['overlapping offsets', async () => {
          const {header, data} = await sample();
          const [a, b] = [header.a.data_offsets, header.b.data_offsets];
          const first = a[0] === 0 ? 'a' : 'b', second = first === 'a' ? 'b' : 'a';
          header[second].data_offsets = [header[first].data_offsets[1] - 4, header[first].data_offsets[1] + 12];
          void b;
          return withHeader(header, data);
        }, /data_offsets must be at or after byte \d+, where tensor '\w' ends, got \[\d+, \d+\] \(the two overlap\)/],
        ['out-of-range offsets', async () => {
          const {header, data} = await sample();
          header.b.data_offsets = [100, 116];
          return withHeader(header, data);
        }, /tensor 'b' data_offsets must be within the data section of 40 bytes, got \[100, 116\]/],
        ['an unknown dtype', async () => {
          const {header, data} = await sample();
          header.a.dtype = 'F8_E4M3';
          return withHeader(header, data);
        }, /tensor 'a' dtype must be one of F32, F16, BF16, .*got "F8_E4M3"/],
        ['metadata that is not string -> string', async () => {
          const {header, data} = await sample();
          header.__metadata__ = {step: 3};
          return withHeader(header, data);
        }, /__metadata__\.step must be a string, got 3/],
        ['a BOOL byte other than 0 or 1', async () => withHeader({f: {dtype: 'BOOL', shape: [2], data_offsets: [0, 2]}},
                                                                 new Uint8Array([1, 2])),
         /tensor 'f' \(BOOL\) element 1 must be 0 or 1, got 2/],
      ];
      for (const [what, make, message] of cases) {
        it(`${what}: a clear error, nothing loaded`, async () => {
          const bytes = await make();
          const before = tf.memory().numTensors;
          expect(() => toTensors(readSafetensors(bytes, {name: 'bad.st'}).tensors)).toThrowError(message);
          await expectAsync(readSafetensorsBlob(new Blob([bytes as Uint8Array<ArrayBuffer>]), {name: 'bad.st'}))
              .toBeRejectedWithError(message);
          expect(tf.memory().numTensors).toBe(before);
        });
      }

      it('writing: bad names, values, dtypes and metadata', async () => {
        await expectAsync(writeSafetensors({x: host('float32', [3], [1, 2])}))
            .toBeRejectedWithError(/tensor 'x' values must be a Float32Array of 3 elements.*got a Float32Array of 2/);
        await expectAsync(writeSafetensors({x: tf.complex([1], [1])}))
            .toBeRejectedWithError(/tensor 'x' dtype must be 'float32', 'int32' or 'bool', got "complex64"/);
        await expectAsync(writeSafetensors({}, {step: 3 as unknown as string}))
            .toBeRejectedWithError(/metadata.step must be a string, got 3/);
        await expectAsync(writeSafetensors({}, {}, {floatDtype: 'F64' as 'F32'}))
            .toBeRejectedWithError(/options.floatDtype must be one of F32, F16, BF16, got "F64"/);
        const gone = tf.ones([2]);
        gone.dispose();
        await expectAsync(writeSafetensors({gone})).toBeRejectedWithError(/tensor 'gone' must be a live tf.Tensor/);
      });
    });
  });
}
