/**
 * A decoder-only mixture-of-experts language model that computes what
 * transformers' MixtralForCausalLM or Glm4MoeForCausalLM computes for the same
 * config.json and weights: token embeddings; per layer RMSNorm → causal
 * grouped-query attention with rotary embeddings → residual, RMSNorm → MoE
 * feed-forward (sluice's mixtureOfExperts layer, SwiGLU experts) or, for
 * Glm4Moe's first `first_k_dense_replace` layers, a dense SwiGLU MLP →
 * residual; a final RMSNorm; and the fused linearCrossEntropy head, tied to
 * the embeddings or not, so the [tokens × vocabulary] logits never exist in
 * training.
 *
 * Weight names and layouts. Dense weights carry transformers' state-dict keys
 * and layouts ([out, in] for projections). Each MoE layer's weights are named
 * `model.layers.{i}.mlp.<layer weight>` and map to transformers 5 keys as:
 *
 * | here | shape | transformers (`model.layers.{i}.mlp.` …) |
 * |---|---|---|
 * | `router` | [D, E] | `gate.weight` [E, D], transposed |
 * | `experts_w1` | [E, D, 2I] | `experts.gate_up_proj` [E, 2I, D], last two axes swapped; columns [0, I) are the gate projection (Mixtral's w1), [I, 2I) the up projection (w3) |
 * | `experts_w2` | [E, I, D] | `experts.down_proj` [E, D, I], last two axes swapped (Mixtral's w2) |
 * | `shared_w1` | [D, 2·s·I] | `shared_experts.gate_proj.weight`ᵀ for columns [0, sI), `shared_experts.up_proj.weight`ᵀ for [sI, 2sI) |
 * | `shared_w2` | [s·I, D] | `shared_experts.down_proj.weight`ᵀ |
 * | `selection_bias` | [E] | `gate.e_score_correction_bias` (Glm4Moe; zero and unused by Mixtral) |
 *
 * Checkpoints of the older per-expert format name Mixtral's experts
 * `block_sparse_moe.experts.{e}.w1.weight` [I, D] (= experts_w1[e][:, :I]ᵀ),
 * `…w3.weight` (= experts_w1[e][:, I:]ᵀ), `…w2.weight` [D, I] (= experts_w2[e]ᵀ)
 * and the router `block_sparse_moe.gate.weight`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy} from '@sluice/core';
import {embeddingLookup} from '@sluice/core/internal';
import {mixtureOfExperts, MixtureOfExperts} from '@sluice/moe';

import {causalMask, groupedQueryAttention} from './attention';
import {LMSpec, resolveLMConfig, TransformersConfig} from './config';
import {rmsNorm} from './rms_norm';
import {applyRotary, rotaryTables, RotaryTables} from './rotary';

export interface TrainingOptions {
  /** Aux-loss-free balancing: the selection bias's update rate per step (0: off). */
  biasUpdateRate?: number;
  /** Router z-loss weight (training objective only). */
  routerZLoss?: number;
  /** Switch load-balancing loss weight (Mixtral's router_aux_loss_coef). */
  auxLoss?: number;
}

export interface NamedWeight {
  name: string;
  variable: tf.Variable;
}

export class MoECausalLM {
  readonly spec: LMSpec;
  readonly config: TransformersConfig;
  /** Dense weights by transformers key. */
  readonly params = new Map<string, tf.Variable>();
  /** The MoE layer of each layer index, null for dense layers. */
  readonly moe: Array<MixtureOfExperts|null> = [];
  private readonly rotary = new Map<number, RotaryTables>();
  private readonly masks = new Map<number, tf.Tensor2D>();

  constructor(config: TransformersConfig, seed: number, training: TrainingOptions = {}) {
    this.spec = resolveLMConfig(config);
    this.config = JSON.parse(JSON.stringify(config));
    const s = this.spec, d = s.hiddenSize;
    let n = seed;
    const normal = (name: string, shape: number[], std: number) =>
        this.params.set(name, tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, std, 'float32', ++n), true)));
    const constant = (name: string, shape: number[], value: number) =>
        this.params.set(name, tf.tidy(() => tf.variable(tf.fill(shape, value), true)));
    normal('model.embed_tokens.weight', [s.vocabSize, d], 0.02);
    const qDim = s.numHeads * s.headDim, kvDim = s.numKvHeads * s.headDim;
    for (let l = 0; l < s.numLayers; ++l) {
      const p = `model.layers.${l}`;
      constant(`${p}.input_layernorm.weight`, [d], 1);
      normal(`${p}.self_attn.q_proj.weight`, [qDim, d], 1 / Math.sqrt(d));
      normal(`${p}.self_attn.k_proj.weight`, [kvDim, d], 1 / Math.sqrt(d));
      normal(`${p}.self_attn.v_proj.weight`, [kvDim, d], 1 / Math.sqrt(d));
      if (s.attentionBias) {
        constant(`${p}.self_attn.q_proj.bias`, [qDim], 0);
        constant(`${p}.self_attn.k_proj.bias`, [kvDim], 0);
        constant(`${p}.self_attn.v_proj.bias`, [kvDim], 0);
      }
      if (s.qkNorm) {
        constant(`${p}.self_attn.q_norm.weight`, [s.headDim], 1);
        constant(`${p}.self_attn.k_norm.weight`, [s.headDim], 1);
      }
      normal(`${p}.self_attn.o_proj.weight`, [d, qDim], 0.5 / Math.sqrt(qDim * s.numLayers));
      constant(`${p}.post_attention_layernorm.weight`, [d], 1);
      if (l < s.firstDenseLayers) {
        normal(`${p}.mlp.gate_proj.weight`, [s.denseHidden, d], 1 / Math.sqrt(d));
        normal(`${p}.mlp.up_proj.weight`, [s.denseHidden, d], 1 / Math.sqrt(d));
        normal(`${p}.mlp.down_proj.weight`, [d, s.denseHidden], 0.5 / Math.sqrt(s.denseHidden * s.numLayers));
        this.moe.push(null);
        continue;
      }
      this.moe.push(mixtureOfExperts({
        numExperts: s.numExperts, topK: s.topK, units: d, hiddenUnits: s.expertHidden, activation: 'swiglu',
        scoring: s.scoring, normalizeGates: s.normalizeGates, routedScalingFactor: s.routedScalingFactor,
        sharedExperts: s.sharedExperts, seed: seed + 100 * (l + 1),
        balance: {biasUpdateRate: s.selectionBias ? training.biasUpdateRate ?? 0 : 0,
                  routerZLoss: training.routerZLoss ?? 0, auxLoss: training.auxLoss ?? 0},
      }));
    }
    constant('model.norm.weight', [d], 1);
    if (!s.tieWordEmbeddings) normal('lm_head.weight', [s.vocabSize, d], 0.02);
    // Build the MoE layers' weights now, so they exist before the optimizer sees them.
    tf.tidy(() => this.moe.forEach(m => m?.apply(tf.zeros([1, d]))));
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values(),
            ...this.moe.flatMap(m => m == null ? [] : m.trainableWeights.map(w => w.read() as tf.Variable))];
  }

  /** Every weight, trainable or not (the selection bias), by a stable name: what a checkpoint holds. */
  namedWeights(): NamedWeight[] {
    const out = [...this.params].map(([name, variable]) => ({name, variable}));
    this.moe.forEach((m, l) => {
      for (const w of m?.weights ?? []) {
        const local = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
        out.push({name: `model.layers.${l}.mlp.${local}`, variable: w.read() as tf.Variable});
      }
    });
    return out;
  }

  /** The classifier of the head: lm_head.weight, or the embeddings when tied. */
  classifier(): tf.Tensor2D {
    return this.p(this.spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight') as tf.Tensor2D;
  }

  private p(name: string): tf.Tensor {
    return this.params.get(name)!;
  }

  private linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const y = tf.matMul(x, this.p(`${name}.weight`), false, true) as tf.Tensor2D;
    return this.params.has(`${name}.bias`) ? tf.add(y, this.p(`${name}.bias`)) as tf.Tensor2D : y;
  }

  private tables(length: number): {rotary: RotaryTables, mask: tf.Tensor2D} {
    if (!this.rotary.has(length)) {
      this.rotary.set(length, rotaryTables(length, this.spec.rotaryDim, this.spec.ropeTheta));
      this.masks.set(length, causalMask(length, this.spec.numHeads / this.spec.numKvHeads));
    }
    return {rotary: this.rotary.get(length)!, mask: this.masks.get(length)!};
  }

  /** x [B·T, D] → attention output [B·T, D]. */
  private attention(x: tf.Tensor2D, l: number, batch: number, length: number): tf.Tensor2D {
    const s = this.spec, p = `model.layers.${l}.self_attn`;
    const {rotary, mask} = this.tables(length);
    const heads = (name: string, count: number) => {
      let h: tf.Tensor = tf.reshape(this.linear(x, `${p}.${name}_proj`), [batch, length, count, s.headDim]);
      if (s.qkNorm && name !== 'v') h = rmsNorm(h, this.p(`${p}.${name}_norm.weight`), s.rmsNormEps);
      return tf.transpose(h, [0, 2, 1, 3]) as tf.Tensor4D;
    };
    const q = applyRotary(heads('q', s.numHeads), rotary), k = applyRotary(heads('k', s.numKvHeads), rotary);
    const out = groupedQueryAttention(q, k, heads('v', s.numKvHeads), mask);
    return this.linear(tf.reshape(out, [batch * length, s.numHeads * s.headDim]), `${p}.o_proj`);
  }

  private denseMlp(x: tf.Tensor2D, l: number): tf.Tensor2D {
    const p = `model.layers.${l}.mlp`;
    const gate = this.linear(x, `${p}.gate_proj`);
    return this.linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), this.linear(x, `${p}.up_proj`)), `${p}.down_proj`);
  }

  /** Final hidden states [B·T, D] (after the last RMSNorm) of token ids [B·T], B sequences of T. */
  hidden(ids: tf.Tensor1D, batch: number, training: boolean): tf.Tensor2D {
    const s = this.spec, length = ids.shape[0] / batch;
    if (!Number.isInteger(length) || length < 1) {
      throw new Error(`MoECausalLM: ids must hold batch (${batch}) sequences of equal length, got ${ids.shape[0]} ids`);
    }
    let x = embeddingLookup(this.p('model.embed_tokens.weight'), ids) as tf.Tensor2D;
    for (let l = 0; l < s.numLayers; ++l) {
      const p = `model.layers.${l}`;
      x = tf.add(x, this.attention(rmsNorm(x, this.p(`${p}.input_layernorm.weight`), s.rmsNormEps) as tf.Tensor2D, l,
                                   batch, length));
      const h = rmsNorm(x, this.p(`${p}.post_attention_layernorm.weight`), s.rmsNormEps) as tf.Tensor2D;
      const moe = this.moe[l];
      x = tf.add(x, moe == null ? this.denseMlp(h, l) : moe.apply(h, {training}) as tf.Tensor2D);
    }
    return rmsNorm(x, this.p('model.norm.weight'), s.rmsNormEps) as tf.Tensor2D;
  }

  /** Logits [B·T, V] (materialised: for tests and sampling, not for training). */
  logits(ids: tf.Tensor1D, batch: number): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.hidden(ids, batch, false), this.classifier(), false, true));
  }

  /** Mean next-token cross-entropy (fused, with MaxSup α) plus, in training, the MoE auxiliary losses. */
  loss(inputs: tf.Tensor1D, targets: tf.Tensor1D, batch: number, maxSup: number, training: boolean):
      {total: tf.Scalar, ce: tf.Scalar} {
    const h = this.hidden(inputs, batch, training);
    const ce = linearCrossEntropy(h, this.classifier(), targets, {maxSup}) as tf.Scalar;
    const aux = training ? this.moe.flatMap(m => m?.calculateLosses() ?? []) : [];
    return {total: aux.length > 0 ? tf.addN([ce, ...aux]) as tf.Scalar : ce, ce};
  }

  /** Next-token logits after `ids` (its last max_position_embeddings tokens). */
  nextLogits(ids: number[]): Float32Array {
    const window = ids.slice(-this.spec.maxPositions);
    return tf.tidy(() => {
      const h = this.hidden(tf.tensor1d(window, 'int32'), 1, false);
      const last = tf.slice(h, [window.length - 1, 0], [1, this.spec.hiddenSize]);
      return tf.matMul(last, this.classifier(), false, true).dataSync() as Float32Array;
    });
  }

  dispose() {
    this.params.forEach(v => v.dispose());
    this.moe.forEach(m => m?.dispose());
    this.rotary.forEach(t => tf.dispose([t.cos, t.sin]));
    this.masks.forEach(m => m.dispose());
  }
}
