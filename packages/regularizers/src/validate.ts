import {Tensor} from '@tensorflow/tfjs-core';
import {hostValues} from '@sluice/core';

import {Coefficient, currentValue} from './schedule';

export function coefficient(op: string, name: string, c: Coefficient|undefined, fallback: number, max = Infinity):
    number {
  if (c === undefined) return fallback;
  const v = typeof c === 'number' ? c : (c != null && typeof c === 'object' && 'value' in c ? currentValue(c) : NaN);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
    const range = max === Infinity ? 'a finite number >= 0 (or a schedule)' : `in [0, ${max}] (or a schedule)`;
    throw new Error(`${op}: ${name} must be ${range}, got ${String(v)}`);
  }
  return v;
}

export function assertLogits(op: string, yPred: Tensor) {
  if (yPred == null || yPred.rank !== 2 || yPred.dtype !== 'float32') {
    throw new Error(`${op}: yPred must be float32 logits of rank 2 [batch, classes], got ` +
                    (yPred == null ? String(yPred) : `${yPred.dtype} of shape [${yPred.shape.join(',')}]`));
  }
}

/** Checks integer class ids ∈ [0, V) (or the ignore index) when they can be read cheaply. */
export function assertClassIds(op: string, labels: Tensor, v: number, ignoreIndex: number|null) {
  const values = hostValues(labels);
  if (values == null) return;
  for (let i = 0; i < values.length; ++i) {
    const y = values[i];
    if (y !== ignoreIndex && !(Number.isInteger(y) && y >= 0 && y < v)) {
      throw new Error(`${op}: labels[${i}] must be a class id in [0, ${v})` +
                      (ignoreIndex == null ? '' : ` or ignoreIndex (${ignoreIndex})`) + `, got ${y}`);
    }
  }
}
