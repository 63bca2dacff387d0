/**
 * Coefficient schedules. A schedule holds its current value; losses read it
 * at every call, and `scheduleCallback` (model.fit) or `advance()` (custom
 * loops) moves it one step, so alpha can go from 0.1 to 0.2 over training as
 * the MaxSup paper does.
 */
import {CustomCallback} from '@tensorflow/tfjs-layers';

export interface Schedule {
  /** Value at the current step. */
  readonly value: number;
  readonly step: number;
  /** Value at any step (clamped to the last). */
  at(step: number): number;
  /** Moves one step (or `by`) forward. */
  advance(by?: number): void;
  reset(): void;
}

function check(name: string, from: number, to: number, steps: number) {
  for (const [arg, v] of [['from', from], ['to', to]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`${name}: ${arg} must be a finite number, got ${String(v)}`);
    }
  }
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps <= 0) {
    throw new Error(`${name}: steps must be a positive integer, got ${String(steps)}`);
  }
}

function makeSchedule(curve: (fraction: number) => number, steps: number): Schedule {
  let step = 0;
  const at = (s: number) => curve(Math.min(Math.max(s, 0), steps) / steps);
  return {
    get value() {
      return at(step);
    },
    get step() {
      return step;
    },
    at,
    advance(by = 1) {
      step += by;
    },
    reset() {
      step = 0;
    },
  };
}

/** from → to in a straight line over `steps`, then constant. */
export function linearSchedule(from: number, to: number, steps: number): Schedule {
  check('linearSchedule', from, to, steps);
  return makeSchedule(f => from + (to - from) * f, steps);
}

/** from → to along half a cosine over `steps` (slow at both ends), then constant. */
export function cosineSchedule(from: number, to: number, steps: number): Schedule {
  check('cosineSchedule', from, to, steps);
  return makeSchedule(f => to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * f)), steps);
}

/** A number or a schedule: what loss options accept for coefficients. */
export type Coefficient = number|Schedule;

export function currentValue(c: Coefficient): number {
  return typeof c === 'number' ? c : c.value;
}

/** A model.fit callback that advances `schedules` after every batch. */
export function scheduleCallback(...schedules: Schedule[]): CustomCallback {
  return new CustomCallback({
    onBatchEnd: async () => {
      for (const s of schedules) s.advance();
    },
  });
}
