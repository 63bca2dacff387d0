/**
 * A tf.layers callback that advances schedules during model.fit, so a loss
 * compiled with `{alpha: linearSchedule(...)}` sees alpha move while fitting.
 */
import {Callback, Logs} from '@tensorflow/tfjs-layers';
import {assertOneOf, describeValue, fail} from '@sluice/core/internal';

import {isSchedule, Schedule} from './schedule';
import {checkOptions} from './validate';

export interface ScheduleCallbackOptions {
  /** Advance once per batch (default: schedule steps are optimizer steps) or once per epoch. */
  per?: 'batch'|'epoch';
}

const OP = 'scheduleCallback';

/**
 * Advances its schedules after every batch (or epoch). Given named schedules,
 * `scheduleCallback({alpha})`, it also adds each one's value to the epoch logs
 * (so `history.history.alpha` lists it): the value the loss used in the
 * epoch's last batch. Schedules keep their step across fit calls; call
 * `reset()` on them to start over.
 */
export class ScheduleCallback extends Callback {
  readonly schedules: ReadonlyArray<Schedule>;
  readonly per: 'batch'|'epoch';
  private readonly named: Array<[string, Schedule]>;
  private readonly usedInLastBatch = new Map<Schedule, number>();

  constructor(schedules: Schedule|Schedule[]|Record<string, Schedule>, options: ScheduleCallbackOptions = {}) {
    super();
    if (isSchedule(schedules)) {
      this.named = [];
      this.schedules = [schedules];
    } else if (Array.isArray(schedules)) {
      this.named = [];
      this.schedules = schedules;
    } else if (schedules != null && typeof schedules === 'object') {
      this.named = Object.entries(schedules);
      this.schedules = this.named.map(([, s]) => s);
    } else {
      fail(OP, 'schedules', 'a schedule, an array of schedules or an object of named schedules', describeValue(schedules));
    }
    this.schedules.forEach((s, i) => {
      if (!isSchedule(s)) {
        const name = this.named.length > 0 ? this.named[i][0] : String(i);
        fail(OP, `schedules[${name}]`, 'a schedule (linearSchedule, cosineSchedule)', describeValue(s));
      }
    });
    // null or a misspelt key (`{every: 2}`) would otherwise crash on options.per or be ignored.
    checkOptions(OP, options, ['per']);
    this.per = assertOneOf(OP, 'options.per', options.per ?? 'batch', ['batch', 'epoch'] as const);
  }

  override async onBatchEnd(_batch: number, _logs?: Logs) {
    if (this.per !== 'batch') return;
    for (const s of this.schedules) {
      this.usedInLastBatch.set(s, s.current);
      s.advance();
    }
  }

  override async onEpochEnd(_epoch: number, logs?: Logs) {
    for (const [name, s] of this.named) {
      // History runs after user callbacks and records whatever the logs hold.
      if (logs != null) logs[name] = this.per === 'batch' ? (this.usedInLastBatch.get(s) ?? s.current) : s.current;
    }
    if (this.per === 'epoch') {
      for (const s of this.schedules) s.advance();
    }
  }
}

/** `new ScheduleCallback(schedules, options)`: pass it in `model.fit(x, y, {callbacks: [...]})`. */
export function scheduleCallback(schedules: Schedule|Schedule[]|Record<string, Schedule>,
                                 options: ScheduleCallbackOptions = {}): ScheduleCallback {
  return new ScheduleCallback(schedules, options);
}
