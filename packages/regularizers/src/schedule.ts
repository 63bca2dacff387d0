/**
 * Coefficient schedules: plain objects with a pure `value(step)` and a
 * mutable `current` that the losses read at every call. `scheduleCallback`
 * (model.fit) or `advance()` (custom loops) moves `step` and recomputes
 * `current`, so a loss built once with `{alpha: schedule}` follows it during
 * training without being recompiled (tfjs-layers calls the loss function
 * afresh for every batch).
 */
import {assertFiniteNumber, assertInteger} from '@sluice/core/internal';

export interface Schedule {
  readonly from: number;
  readonly to: number;
  readonly steps: number;
  /** The value at `step` (clamped to [0, steps]); does not move the schedule. */
  value(step: number): number;
  /** Steps taken so far. */
  readonly step: number;
  /**
   * What losses read: `value(step)` after every `advance`/`reset`. Writable so
   * a loop can override it; losses validate it when they read it.
   */
  current: number;
  /** Moves `by` steps (default 1) forward and returns the new `current`. */
  advance(by?: number): number;
  /** Back to step 0. */
  reset(): void;
}

/** A number, a Schedule, or any object with a numeric `current`: what loss options accept. */
export type Coefficient = number|Schedule|{readonly current: number};

function makeSchedule(op: string, from: number, to: number, steps: number, curve: (fraction: number) => number):
    Schedule {
  assertFiniteNumber(op, 'from', from);
  assertFiniteNumber(op, 'to', to);
  assertInteger(op, 'steps', steps, 1);
  const value = (s: number) => {
    assertFiniteNumber(`${op}.value`, 'step', s);
    // Clamped rather than extrapolated: a fit that runs past `steps` keeps the final value.
    return curve(Math.min(Math.max(s, 0), steps) / steps);
  };
  let step = 0;
  const schedule: Schedule = {
    from, to, steps, value,
    get step() {
      return step;
    },
    current: value(0),
    advance(by = 1) {
      assertFiniteNumber(`${op}.advance`, 'by', by, 0);
      step += by;
      schedule.current = value(step);
      return schedule.current;
    },
    reset() {
      step = 0;
      schedule.current = value(0);
    },
  };
  return schedule;
}

/** `from` → `to` in a straight line over `steps`, then constant. */
export function linearSchedule(from: number, to: number, steps: number): Schedule {
  // Written as a blend, not from + (to − from)·f, so value(steps) is exactly `to`.
  return makeSchedule('linearSchedule', from, to, steps, f => (1 - f) * from + f * to);
}

/** `from` → `to` along half a cosine over `steps` (slow at both ends), then constant. */
export function cosineSchedule(from: number, to: number, steps: number): Schedule {
  return makeSchedule('cosineSchedule', from, to, steps,
                      f => to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * f)));
}

export function isScheduleLike(c: unknown): c is {readonly current: number} {
  return c != null && typeof c === 'object' && 'current' in c;
}

export function isSchedule(c: unknown): c is Schedule {
  return isScheduleLike(c) && typeof (c as Schedule).value === 'function' &&
         typeof (c as Schedule).advance === 'function';
}
