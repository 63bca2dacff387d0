import {DataType, Tensor, tensor, TensorLike} from '@tensorflow/tfjs-core';

import {describeValue, fail, INT32_MAX, INT32_MIN, isTensorLike} from './errors';

/**
 * `Tensor | TensorLike` to a Tensor, as tfjs ops do with `convertToTensor`:
 * a tensor passes as it is (its dtype is checked by the caller), anything
 * else becomes a tensor of `dtype`. tfjs's own `convertToTensor` is not
 * reachable from a public entry (its deep import would copy tfjs-core's engine
 * into sluice's CJS and UMD bundles), so this follows it on the public
 * `tf.tensor`, with sluice's messages: nested arrays must be rectangular (as
 * convertToTensor asserts; `tf.tensor` alone would accept a ragged one),
 * hold numbers only (no strings or booleans), and for int32 integers in
 * int32 range (tfjs would truncate 1.5 to 1 silently). The tensor made here
 * is owned by the op's scope, so an error later in the op disposes it.
 */
export function toTensor(op: string, argument: string, x: unknown, dtype: 'float32'|'int32',
                         shapeDoc: string): Tensor {
  if (isTensorLike(x)) {
    if (x.isDisposed) {
      fail(op, argument, `a live tf.Tensor ${shapeDoc}`, 'a disposed tensor');
    }
    return x;
  }
  const expected = `a tf.Tensor or TensorLike ${shapeDoc}`;
  if (x == null || !(typeof x === 'number' || Array.isArray(x) || ArrayBuffer.isView(x))) {
    fail(op, argument, expected, x === null ? 'null' : typeof x === 'object' ? describeValue(x) : typeof x);
  }
  checkNumbers(op, argument, x, dtype, inferShape(x), []);
  return tensor(x as TensorLike, undefined, dtype as DataType);
}

const isArrayLike = (x: unknown): x is ArrayLike<unknown> =>
    Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));

/** The shape a nested array implies from its first elements (checked against every element below). */
function inferShape(x: unknown): number[] {
  const shape: number[] = [];
  for (let at = x; isArrayLike(at); at = at[0]) {
    shape.push(at.length);
    if (at.length === 0) break;
  }
  return shape;
}

function checkNumbers(op: string, argument: string, x: unknown, dtype: string, shape: number[], at: number[]): void {
  const where = `${argument}${at.map(i => `[${i}]`).join('')}`;
  const depth = at.length;
  if (isArrayLike(x)) {
    // Only a flat typed array may stand for any depth; nested arrays must be rectangular (tfjs checks this too).
    if (depth >= shape.length || x.length !== shape[depth]) {
      fail(op, where, `${depth >= shape.length ? 'a number' : `an array of ${shape[depth]} elements`} (a rectangular ` +
           'nested array)', isArrayLike(x) ? `an array of ${x.length} elements` : describeValue(x));
    }
    for (let i = 0; i < x.length; ++i) checkNumbers(op, argument, x[i], dtype, shape, [...at, i]);
    return;
  }
  if (depth < shape.length) {
    fail(op, where, `an array of ${shape[depth]} elements (a rectangular nested array)`, describeValue(x));
  }
  if (typeof x !== 'number') {
    fail(op, where, 'a number', describeValue(x));
  }
  if (dtype === 'int32' && !(Number.isInteger(x) && x >= INT32_MIN && x <= INT32_MAX)) {
    fail(op, where, 'an int32 integer', String(x));
  }
}
