import {CustomCallback, LayersModel} from '@tensorflow/tfjs-layers';
import type {Logs} from '@tensorflow/tfjs-layers/dist/logs';

import {MixtureOfExperts, MoEMetrics} from './mixture_of_experts';

export interface MoECallbackOptions {
  /** Called after every batch with each MoE layer's metrics, keyed by layer name. */
  onMetrics?: (step: number, metrics: Record<string, MoEMetrics>) => void|Promise<void>;
}

/** Every MixtureOfExperts layer of `model`, nested models included. */
export function moeLayers(model: LayersModel): MixtureOfExperts[] {
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
 * A `model.fit` callback for MoE layers: after each batch it closes the
 * global-balance window (`auxLossScope: 'global'`), reads load, drops and
 * MaxVio, adds `<layer>_maxvio` and `<layer>_dropped` to the batch logs and
 * hands the full metrics to `onMetrics`.
 */
export function moeCallback(model: LayersModel, options: MoECallbackOptions = {}): CustomCallback {
  let step = 0;
  return new CustomCallback({
    onBatchEnd: async (_batch: number, logs?: Logs) => {
      const all: Record<string, MoEMetrics> = {};
      for (const layer of moeLayers(model)) {
        layer.resetGlobalBalance();
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
