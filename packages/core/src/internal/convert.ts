import {DataType, Tensor, tensor, TensorLike} from '@tensorflow/tfjs-core';

import {describeValue, fail, INT32_MAX, INT32_MIN, isTensorLike} from './errors';

/**
 * `Tensor | TensorLike` to a Tensor, as tfjs ops do with `convertToTensor`:
 * a tensor passes as it is (its dtype is checked by the caller), anything
 * else becomes a tensor of `dtype`. tfjs's own `convertToTensor` is not
 * reachable from a public entry (its deep import would copy tfjs-core's engine
 * into sluice's CJS and UMD bundles), so this follows it on the public
 * `tf.tensor`, with sluice's messages and two stricter checks: numbers only
 * (no strings or booleans), and integers in int32 range for int32 (tfjs
 * would truncate 1.5 to 1 silently). The tensor made here is owned by the
 * op's scope, so an error later in the op disposes it.
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
  checkNumbers(op, argument, x, dtype, []);
  try {
    return tensor(x as TensorLike, undefined, dtype as DataType);
  } catch (e) {
    // Ragged nested arrays: tfjs names the element that does not fit.
    return fail(op, argument, `${expected} (a rectangular nested array)`, (e as Error).message);
  }
}

function checkNumbers(op: string, argument: string, x: unknown, dtype: string, at: number[]): void {
  if (Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView))) {
    const items = x as ArrayLike<unknown>;
    for (let i = 0; i < items.length; ++i) checkNumbers(op, argument, items[i], dtype, [...at, i]);
    return;
  }
  const where = `${argument}${at.map(i => `[${i}]`).join('')}`;
  if (typeof x !== 'number') {
    fail(op, where, 'a number', describeValue(x));
  }
  if (dtype === 'int32' && !(Number.isInteger(x) && x >= INT32_MIN && x <= INT32_MAX)) {
    fail(op, where, 'an int32 integer', String(x));
  }
}
