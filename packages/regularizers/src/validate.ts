/**
 * Argument checks shared by the losses, built on @sluice/core's error helpers
 * (one message pattern: `<op>: <argument> must be <expected>, got <actual>`).
 * Only what is particular to losses lives here: coefficients that may be
 * schedules, logits/targets pairs, class-id range checks.
 */
import {Tensor} from '@tensorflow/tfjs-core';
import {assertInteger, assertKnownKeys, describeValue, fail, hostValues, INT32_MAX, INT32_MIN,
        isTensorLike} from '@sluice/core/internal';

import {Coefficient, isSchedule, isScheduleLike} from './schedule';

function rangeDoc(max: number) {
  return max === Infinity ? 'a finite number >= 0' : `a number in [0, ${max}]`;
}

function inRange(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;
}

/** The coefficient's value now: a number, or a schedule's `current`. */
export function coefficient(op: string, name: string, c: Coefficient|undefined, fallback: number, max = Infinity):
    number {
  if (c === undefined) return fallback;
  const v = typeof c === 'number' ? c : isScheduleLike(c) ? c.current : c;
  if (!inRange(v, max)) {
    const what = isScheduleLike(c) ? `its schedule's current value ${String(v)}` : describeValue(v);
    fail(op, name, `${rangeDoc(max)} (or a schedule of such)`, what);
  }
  return v;
}

/**
 * Construction-time check: the coefficient now and, for this package's
 * schedules (monotone from `from` to `to`), at both ends, so a schedule that
 * would turn invalid fails when the loss is built, not epochs into a fit.
 */
export function checkCoefficient(op: string, name: string, c: Coefficient|undefined, max = Infinity) {
  if (c === undefined) return;
  if (isSchedule(c)) {
    for (const end of [c.from, c.to]) {
      if (!inRange(end, max)) {
        fail(op, name, `${rangeDoc(max)} at every step of its schedule`,
             `a schedule from ${c.from} to ${c.to}`);
      }
    }
  }
  coefficient(op, name, c, 0, max);
}

/** An options object with only known keys: a misspelt option (`alhpa`) would otherwise train with the default. */
export function checkOptions(op: string, options: unknown, known: readonly string[], argument = 'options'):
    asserts options is object {
  assertKnownKeys(op, argument, options as object, known);
}

export function checkIgnoreIndex(op: string, ignoreIndex: unknown): number|null {
  // int32 bounds: the id comparison runs on int32 tensors, where 2^32 would wrap to class 0.
  return ignoreIndex == null ? null : assertInteger(op, 'ignoreIndex', ignoreIndex, INT32_MIN, INT32_MAX);
}

export function assertLogits(op: string, yPred: unknown): asserts yPred is Tensor {
  if (!isTensorLike(yPred) || yPred.isDisposed || yPred.rank !== 2 || yPred.dtype !== 'float32' ||
      !((yPred.shape[1] as number) >= 1)) {
    fail(op, 'yPred', 'float32 logits of shape [batch, classes]', describeValue(yPred));
  }
}

/** True when yTrue holds class ids ([B] or [B, 1]) rather than targets of the logits' shape. */
export function isClassIds(yTrue: Tensor, yPred: Tensor): boolean {
  return yTrue.rank === 1 || (yTrue.rank === 2 && yTrue.shape[1] === 1 && yPred.shape[1] !== 1);
}

/** Checks integer class ids ∈ [0, V) (or the ignore index) when they can be read cheaply. */
export function assertClassIds(op: string, argument: string, labels: Tensor, v: number, ignoreIndex: number|null) {
  // hostValues caches per tensor and returns null where a read would stall a GPU (then kernels give NaN).
  const values = hostValues(labels);
  if (values == null) return;
  for (let i = 0; i < values.length; ++i) {
    const y = values[i];
    if (y !== ignoreIndex && !(Number.isInteger(y) && y >= 0 && y < v)) {
      fail(op, `${argument}[${i}]`,
           `a class id in [0, ${v})` + (ignoreIndex == null ? '' : ` or ignoreIndex (${ignoreIndex})`), String(y));
    }
  }
}

/**
 * yTrue must be class ids [B] / [B, 1] or targets [B, V] like yPred's; class ids
 * are range-checked here so a wrong label fails loudly instead of gathering 0.
 */
export function checkLossInputs(op: string, yTrue: unknown, yPred: unknown, ignoreIndex: number|null):
    asserts yPred is Tensor {
  assertLogits(op, yPred);
  const [b, v] = yPred.shape;
  if (!isTensorLike(yTrue) || yTrue.isDisposed) {
    fail(op, 'yTrue', `class ids [${b}] or targets [${b},${v}]`, describeValue(yTrue));
  }
  if (isClassIds(yTrue, yPred)) {
    if (yTrue.shape[0] !== b) {
      fail(op, 'yTrue', `class ids [${b}] (the batch of yPred) or targets [${b},${v}]`, describeValue(yTrue));
    }
    assertClassIds(op, 'yTrue', yTrue, v, ignoreIndex);
  } else if (yTrue.rank !== 2 || yTrue.shape[0] !== b || yTrue.shape[1] !== v) {
    fail(op, 'yTrue', `class ids [${b}] or targets of yPred's shape [${b},${v}]`, describeValue(yTrue));
  } else if (yTrue.dtype !== 'float32' && yTrue.dtype !== 'int32') {
    fail(op, 'yTrue', 'float32 or int32 targets', describeValue(yTrue));
  }
}
