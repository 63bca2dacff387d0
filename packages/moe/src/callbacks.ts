import {CustomCallback, LayersModel} from '@tensorflow/tfjs-layers';
import type {Logs} from '@tensorflow/tfjs-layers/dist/logs';

import {fail} from '@sluice/core/internal';

import {MixtureOfExperts, MoEMetrics} from './mixture_of_experts';

export interface MoECallbackOptions {
  /** Called after every batch with each MoE layer's metrics, keyed by layer name. */
  onMetrics?: (step: number, metrics: Record<string, MoEMetrics>) => void|Promise<void>;
}

function describeArgument(v: unknown): string {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? JSON.stringify(v) : String(v);
  return Array.isArray(v) ? 'an array' : 'an object without a layers array';
}

/** Duck-typed (not instanceof): a model built with another copy of tfjs-layers is still a model. */
function assertModel(op: string, model: unknown): asserts model is LayersModel {
  if (model == null || typeof model !== 'object' || !Array.isArray((model as {layers?: unknown}).layers)) {
    fail(op, 'model', 'a tf.LayersModel (tf.sequential, tf.model or tf.loadLayersModel)', describeArgument(model));
  }
}

/** Every MixtureOfExperts layer of `model`, nested models included. */
export function moeLayers(model: LayersModel): MixtureOfExperts[] {
  assertModel('moeLayers', model);
  const found: MixtureOfExperts[] = [];
  const visit = (layers: unknown[]) => {
    for (const layer of layers) {
      if (layer instanceof MixtureOfExperts) found.push(layer);
      else if (layer instanceof LayersModel) visit(layer.layers);
    }
  };
  visit(model.layers);
  return found;
}

/**
 * A `model.fit` callback for MoE layers: after each batch (one optimizer
 * step) it ends the step of every MoE layer (`endStep()`: the aux-loss-free
 * bias moves once, the global-balance window restarts), reads load, drops and
 * MaxVio, adds `<layer>_maxvio` and `<layer>_dropped` to the batch logs and
 * hands the full metrics to `onMetrics`.
 */
export function moeCallback(model: LayersModel, options: MoECallbackOptions = {}): CustomCallback {
  // Checked now: a bad model or hook would otherwise fail only after the first batch of a fit.
  assertModel('moeCallback', model);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail('moeCallback', 'options', 'an object', describeArgument(options));
  }
  for (const key of Object.keys(options)) {
    if (key !== 'onMetrics') {
      fail('moeCallback', `options.${key}`, 'one of the known options (onMetrics)', 'an unknown option');
    }
  }
  if (options.onMetrics !== undefined && typeof options.onMetrics !== 'function') {
    fail('moeCallback', 'options.onMetrics', 'a function (step, metrics) => void', describeArgument(options.onMetrics));
  }
  let step = 0;
  return new CustomCallback({
    onBatchEnd: async (_batch: number, logs?: Logs) => {
      const all: Record<string, MoEMetrics> = {};
      for (const layer of moeLayers(model)) {
        layer.endStep();
        const m = await layer.readMetrics();
        if (m == null) continue;
        all[layer.name] = m;
        if (logs != null) {
          logs[`${layer.name}_maxvio`] = m.maxViolation;
          logs[`${layer.name}_dropped`] = m.droppedFraction;
        }
      }
      await options.onMetrics?.(step++, all);
    },
  });
}
