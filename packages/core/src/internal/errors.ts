/**
 * Argument validation shared by every op. Messages follow one pattern,
 * `<op>: <argument> must be <expected>, got <actual>`, so a user can find the
 * argument without reading the source.
 */
import type {DataType, Tensor} from '@tensorflow/tfjs-core';

export function fail(op: string, argument: string, expected: string, actual: string): never {
  throw new Error(`${op}: ${argument} must be ${expected}, got ${actual}`);
}

export function describeTensor(t: Tensor): string {
  return `${t.dtype} tensor of shape [${t.shape.join(',')}]`;
}

export function isTensorLike(x: unknown): x is Tensor {
  return x != null && typeof x === 'object' && 'dataId' in x && 'shape' in x && 'dtype' in x;
}

export function assertTensor(op: string, argument: string, x: unknown, rank: number, dtypes: DataType[],
                             shapeDoc: string): asserts x is Tensor {
  if (!isTensorLike(x)) {
    fail(op, argument, `a tf.Tensor ${shapeDoc}`, x === null ? 'null' : typeof x);
  }
  if (x.isDisposed) {
    fail(op, argument, `a live tf.Tensor ${shapeDoc}`, 'a disposed tensor');
  }
  if (x.rank !== rank) {
    fail(op, argument, `rank ${rank} ${shapeDoc}`, `rank ${x.rank} (shape [${x.shape.join(',')}])`);
  }
  if (!dtypes.includes(x.dtype)) {
    fail(op, argument, `of dtype ${dtypes.join(' or ')}`, x.dtype);
  }
}

/**
 * A value as an error message shows it: strings quoted, so `'0.1'` passed for
 * a number does not read as the number 0.1.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array [${value.length > 8 ? '...' : value.map(describeValue).join(', ')}]`;
  if (typeof value === 'object') return isTensorLike(value) ? describeTensor(value) : 'an object';
  return String(value);
}

export function assertFiniteNumber(op: string, argument: string, value: unknown, min = -Infinity,
                                   max = Infinity, doc = ''): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(op, argument, `a finite number${doc}`, describeValue(value));
  }
  if (value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    fail(op, argument, `${range}${doc}`, String(value));
  }
  return value;
}

export function assertInteger(op: string, argument: string, value: unknown, min = -Infinity,
                              max = Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(op, argument, 'an integer', describeValue(value));
  }
  if (value < min) {
    fail(op, argument, `an integer >= ${min}`, String(value));
  }
  if (value > max) {
    fail(op, argument, `an integer <= ${max}`, String(value));
  }
  return value;
}

/** int32 bounds: integer attrs (ignoreIndex, ...) reach kernels and int32 tensors, where larger values wrap. */
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export function assertOneOf<T extends string>(op: string, argument: string, value: unknown,
                                              allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(op, argument, `one of ${allowed.map(a => `'${a}'`).join(', ')}`, JSON.stringify(value));
  }
  return value as T;
}

export function assertKnownKeys(op: string, argument: string, value: object, known: readonly string[]) {
  // A string or number here (`routeTopK(z, 2, 'sigmoid')`) would otherwise pass or fail on its characters.
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(op, argument, 'an object', describeValue(value));
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      fail(op, `${argument}.${key}`, `one of the known options (${known.join(', ')})`, 'an unknown option');
    }
  }
}
