/**
 * `mixtureOfExperts(config)`: a tf.layers layer whose feed-forward is split
 * into `numExperts` experts, each token processed by the few its router picks.
 * Built on sluice's sparse dispatch ops, so the cost is O(N·k·D·H) and no
 * [N, E, capacity] one-hot tensor exists.
 */
import * as tf from '@tensorflow/tfjs-core';
import {layers, initializers} from '@tensorflow/tfjs-layers';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';

import {loadBalancingLoss, orthogonalityLoss, routerZLoss, routingVarianceLoss, updatedSelectionBias} from './balancing';
import {exactCeilCapacity, expertCapacity, MixtureOfExpertsConfig, ResolvedConfig, resolveConfig} from './config';
import {runExperts, sharedFfn} from './experts';
import {expertChoiceRouter} from './routers/expert_choice_router';
import type {RouterOutput} from './routers/routing';
import {sinkhornRouter} from './routers/sinkhorn_router';
import {stochasticRouter} from './routers/stochastic_router';
import {topkRouter} from './routers/topk_router';

/** What one call of the layer measured; read with `readMetrics()`. */
export interface MoEMetrics {
  /** Fraction of routed (token, slot) pairs per expert; sums to 1. */
  load: number[];
  /** Pairs dropped over capacity / pairs routed. */
  droppedFraction: number;
  /** MaxVio: (max load − mean load) / mean load. */
  maxViolation: number;
  /** The auxiliary loss added by this layer in its last training call (weighted sum). */
  auxLoss: number;
}

interface MetricTensors {
  counts: tf.Tensor1D;
  dropped: tf.Scalar;
  routed: number;
  auxLoss: tf.Scalar;
}

export class MixtureOfExperts extends layers.Layer {
  static className = 'SluiceMixtureOfExperts';
  readonly moe: ResolvedConfig;
  private readonly userConfig: MixtureOfExpertsConfig;
  private routerKernel!: LayerVariable;
  private w1!: LayerVariable;
  private w2!: LayerVariable;
  private shared1: LayerVariable|null = null;
  private shared2: LayerVariable|null = null;
  private selectionBias!: LayerVariable;
  private pendingLoss: tf.Scalar|null = null;
  private metricTensors: MetricTensors|null = null;
  private globalCounts: tf.Tensor1D|null = null;
  /** Expert counts summed over this optimizer step's training calls, for the bias update at `endStep()`. */
  private stepCounts: tf.Tensor1D|null = null;
  private callsSinceStep = 0;
  private warnedNoStep = false;
  private stochasticStep = 0;

  constructor(config: MixtureOfExpertsConfig) {
    super({name: config?.name, trainable: config?.trainable, inputShape: config?.inputShape,
           batchInputShape: config?.batchInputShape, batchSize: config?.batchSize});
    this.moe = resolveConfig(config);
    // tf.layers checks this in apply(): an int32 input fails naming the layer, not deep inside expertDispatch.
    this.inputSpec = [{dtype: 'float32'}];
    this.userConfig = {...config};
    // Base-layer fields come back from super.getConfig().
    for (const key of ['name', 'trainable', 'inputShape', 'batchInputShape', 'batchSize'] as const) {
      delete this.userConfig[key];
    }
    // Auxiliary losses reach model.fit through the layer's losses.
    this.addLoss(() => this.takeAuxiliaryLoss());
  }

  build(inputShape: Shape|Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    if (shape.length !== 2 && shape.length !== 3) {
      throw new Error(`mixtureOfExperts: input must be rank 2 [batch, features] or rank 3 [batch, time, features], ` +
                      `got shape [${shape.join(',')}]`);
    }
    const d = shape[shape.length - 1];
    if (d == null) throw new Error('mixtureOfExperts: the input\'s last dimension must be known, got null');
    // Later calls must keep the feature size the weights were built for (as tf.layers.dense checks it).
    this.inputSpec = [{dtype: 'float32', axes: {[-1]: d}}];
    const {numExperts: e, hiddenUnits: h, units: u, sharedExperts: s, activation} = this.moe;
    const widen = activation === 'swiglu' ? 2 : 1;
    const seed = this.moe.seed;
    const normal = (stddev: number, offset: number) => initializers.randomNormal({mean: 0, stddev, seed: seed + offset});
    this.routerKernel = this.addWeight('router', [d, e], 'float32', normal(1 / Math.sqrt(d), 1));
    this.w1 = this.addWeight('experts_w1', [e, d, widen * h], 'float32', normal(1 / Math.sqrt(d), 2));
    this.w2 = this.addWeight('experts_w2', [e, h, u], 'float32', normal(1 / Math.sqrt(h), 3));
    if (s > 0) {
      this.shared1 = this.addWeight('shared_w1', [d, widen * s * h], 'float32', normal(1 / Math.sqrt(d), 4));
      this.shared2 = this.addWeight('shared_w2', [s * h, u], 'float32', normal(1 / Math.sqrt(s * h), 5));
    }
    // Non-trainable, so it is saved with the model and optimizers leave it alone.
    this.selectionBias = this.addWeight('selection_bias', [e], 'float32', initializers.zeros(), undefined, false);
    this.built = true;
  }

  computeOutputShape(inputShape: Shape|Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [...shape.slice(0, -1), this.moe.units];
  }

  call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const training = kwargs?.['training'] === true;
    const shape = input.shape;
    const d = shape[shape.length - 1];
    const {out, loss, metrics} = tf.tidy(() => {
      const x = tf.reshape(input, [-1, d]) as tf.Tensor2D;
      const n = x.shape[0];
      const logits = tf.matMul(x, this.routerKernel.read()) as tf.Tensor2D;
      const routed = this.route(logits, training);
      const cfg = this.moe;
      // Dropless where capacity means nothing: expert choice fills its own C slots, and the stochastic router at
      // inference sends every token to all E experts (k' = E), where a capacity sized for topK pairs per token
      // would drop most of them (E = 8, topK 2, factor 1.25: 69%) instead of computing the draw's expectation.
      const dropless = cfg.router === 'expertChoice' || (cfg.router === 'stochastic' && !training);
      const capacity = dropless ? undefined : expertCapacity(cfg, n);
      const wantSlots = training && cfg.balance.orthogonality > 0;
      const experts = runExperts(x, routed.routing, {w1: this.w1.read() as tf.Tensor3D, w2: this.w2.read() as tf.Tensor3D},
                                 cfg.numExperts, {capacity, dropPolicy: cfg.dropPolicy,
                                                  renormalizeAfterDrop: cfg.renormalizeAfterDrop},
                                 cfg.activation, wantSlots);
      // routedScalingFactor after any renormalisation (DeepSeek-V3, Glm4Moe), also after drops: the combine is
      // linear in the gates, so scaling the routed output is scaling every gate, and shared experts stay unscaled.
      let y = cfg.routedScalingFactor === 1 ? experts.output : tf.mul(experts.output, cfg.routedScalingFactor);
      if (this.shared1 != null && this.shared2 != null) {
        y = tf.add(y, sharedFfn(x, this.shared1.read() as tf.Tensor2D, this.shared2.read() as tf.Tensor2D,
                                cfg.activation));
      }
      // Routed pairs per expert (before drops), as dispatch counted them: no second count here.
      const counts = experts.expertCounts != null ? tf.cast(experts.expertCounts, 'float32') as tf.Tensor1D :
                                                    tf.fill([cfg.numExperts], (routed.routing as {capacity: number})
                                                                                  .capacity) as tf.Tensor1D;
      const routedPairs = routed.routing.kind === 'slots' ? routed.routing.expertIndices.size :
                                                              cfg.numExperts * routed.routing.capacity;
      let total: tf.Scalar = tf.scalar(0);
      if (training) {
        const b = cfg.balance;
        if (b.auxLoss > 0) {
          let f = counts;
          if (b.auxLossScope === 'global') {
            f = this.accumulateGlobalCounts(counts);
          }
          const convention = {convention: b.auxLossConvention, topK: cfg.topK};
          total = tf.add(total, tf.mul(loadBalancingLoss(routed.scores, f, convention), b.auxLoss));
        }
        if (b.routerZLoss > 0) total = tf.add(total, tf.mul(routerZLoss(logits), b.routerZLoss));
        if (b.variance > 0) total = tf.add(total, tf.mul(routingVarianceLoss(routed.scores), b.variance));
        if (b.orthogonality > 0 && experts.slotOutputs != null) {
          total = tf.add(total, tf.mul(orthogonalityLoss(experts.slotOutputs), b.orthogonality));
        }
        if (b.biasUpdateRate > 0) this.accumulateStepCounts(counts);
      }
      const out = tf.reshape(y, [...shape.slice(0, -1), cfg.units]);
      return {
        out,
        loss: total,
        metrics: {counts, dropped: experts.droppedCount ?? tf.scalar(0), routed: routedPairs},
      };
    });
    this.setMetrics(metrics.counts, metrics.dropped, metrics.routed, loss);
    tf.dispose([metrics.counts, metrics.dropped]);
    if (training) {
      this.pendingLoss?.dispose();
      this.pendingLoss = loss;
    } else {
      loss.dispose();
    }
    return out;
  }

  private route(logits: tf.Tensor2D, training: boolean): RouterOutput {
    const {router, topK: k, scoring, numExperts: e} = this.moe;
    switch (router) {
      case 'topk':
        return topkRouter(logits, k, scoring, this.selectionBias.read() as tf.Tensor1D, this.moe.groups,
                          this.moe.normalizeGates);
      case 'sinkhorn':
        return sinkhornRouter(logits, k, scoring, this.moe.sinkhornIterations, this.moe.normalizeGates);
      case 'stochastic':
        return stochasticRouter(logits, k, scoring, training, this.moe.seed * 7919 + (this.stochasticStep++));
      case 'expertChoice': {
        const n = logits.shape[0];
        const factor = this.moe.capacityFactor > 0 ? this.moe.capacityFactor : 1;
        return expertChoiceRouter(logits, Math.max(1, this.moe.minCapacity, exactCeilCapacity(factor, n * k, e)),
                                  scoring);
      }
    }
  }

  private accumulateGlobalCounts(counts: tf.Tensor1D): tf.Tensor1D {
    const next = tf.keep(this.globalCounts == null ? tf.clone(counts) : tf.add(this.globalCounts, counts)) as tf.Tensor1D;
    this.globalCounts?.dispose();
    this.globalCounts = next;
    return next;
  }

  private accumulateStepCounts(counts: tf.Tensor1D): void {
    const next = tf.keep(this.stepCounts == null ? tf.clone(counts) : tf.add(this.stepCounts, counts)) as tf.Tensor1D;
    this.stepCounts?.dispose();
    this.stepCounts = next;
    if (++this.callsSinceStep === 1000 && !this.warnedNoStep) {
      this.warnedNoStep = true;
      console.warn(`mixtureOfExperts '${this.name}': 1000 training calls without endStep(), so the aux-loss-free ` +
                   'bias has not moved: call layer.endStep() after each optimizer step, or pass ' +
                   'moeCallback(model) to model.fit');
    }
  }

  /**
   * Ends an optimizer step: the aux-loss-free bias moves once, from the
   * expert counts summed over every training call since the last endStep
   * (the step's micro-batches, as DeepSeek-V3 and torchtitan update it), and
   * the global load-balancing window (`auxLossScope: 'global'`) starts anew.
   * `moeCallback` calls it after each batch of `model.fit`; a custom loop
   * calls it after `optimizer.minimize` / `applyGradients`.
   */
  endStep(): void {
    const b = this.moe.balance;
    if (this.stepCounts != null && b.biasUpdateRate > 0) {
      const counts = this.stepCounts;
      const next = tf.tidy(() => updatedSelectionBias(this.selectionBias.read(), counts, b.biasUpdateRate,
                                                      b.centerBiasUpdate));
      this.selectionBias.write(next);
      next.dispose();
    }
    this.stepCounts?.dispose();
    this.stepCounts = null;
    this.callsSinceStep = 0;
    this.resetGlobalBalance();
  }

  /** Starts a new global-batch window for `auxLossScope: 'global'` (`endStep()` does it too). */
  resetGlobalBalance(): void {
    this.globalCounts?.dispose();
    this.globalCounts = null;
  }

  private setMetrics(counts: tf.Tensor1D, dropped: tf.Scalar, routed: number, auxLoss: tf.Scalar): void {
    if (this.metricTensors != null) {
      tf.dispose([this.metricTensors.counts, this.metricTensors.dropped, this.metricTensors.auxLoss]);
    }
    // Copies, kept past the caller's tidy: the originals belong to the step.
    this.metricTensors = tf.tidy(() => ({
      counts: tf.keep(tf.clone(counts)),
      dropped: tf.keep(tf.clone(dropped)),
      auxLoss: tf.keep(tf.clone(auxLoss)),
      routed,
    }));
  }

  /**
   * The auxiliary loss of the last training call, handed over once (later
   * calls before the next training call give 0). `model.fit` collects it
   * through the layer's losses; custom loops add `layer.calculateLosses()`.
   */
  private takeAuxiliaryLoss(): tf.Scalar {
    const loss = this.pendingLoss;
    this.pendingLoss = null;
    return loss ?? tf.scalar(0);
  }

  /** Load, drops and MaxVio of the last call (reads a few numbers from the backend). */
  async readMetrics(): Promise<MoEMetrics|null> {
    const m = this.metricTensors;
    if (m == null) return null;
    const [counts, dropped, aux] = await Promise.all([m.counts.data(), m.dropped.data(), m.auxLoss.data()]);
    const total = Array.from(counts).reduce((a, b) => a + b, 0);
    const load = Array.from(counts, c => (total > 0 ? c / total : 0));
    const meanLoad = 1 / counts.length;
    const maxLoad = Math.max(...load);
    return {
      load,
      droppedFraction: m.routed > 0 ? dropped[0] / m.routed : 0,
      maxViolation: total > 0 ? (maxLoad - meanLoad) / meanLoad : 0,
      auxLoss: aux[0],
    };
  }

  /** The aux-loss-free selection bias [E] (a copy; async, as GPU backends read asynchronously). */
  async selectionBiasValues(): Promise<Float32Array> {
    return await this.selectionBias.read().data() as Float32Array;
  }

  getConfig(): serializationConfig {
    return {...(this.userConfig as unknown as serializationConfig), ...super.getConfig()};
  }

  dispose() {
    if (this.metricTensors != null) {
      tf.dispose([this.metricTensors.counts, this.metricTensors.dropped, this.metricTensors.auxLoss]);
      this.metricTensors = null;
    }
    this.resetGlobalBalance();
    this.stepCounts?.dispose();
    this.stepCounts = null;
    this.pendingLoss?.dispose();
    this.pendingLoss = null;
    return super.dispose();
  }
}

type serializationConfig = tf.serialization.ConfigDict;

tf.serialization.registerClass(MixtureOfExperts);

/** A mixture-of-experts feed-forward layer; see `MixtureOfExpertsConfig`. */
export function mixtureOfExperts(config: MixtureOfExpertsConfig): MixtureOfExperts {
  return new MixtureOfExperts(config);
}
