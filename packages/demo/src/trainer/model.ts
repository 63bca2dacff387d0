/**
 * A small decoder-only language model: token + position embeddings, blocks
 * of causal self-attention and a mixture-of-experts feed-forward (sluice's
 * MoE layer, top-k routing with aux-loss-free balancing), and the fused
 * linearCrossEntropy head with MaxSup, so the [tokens × vocabulary] logits
 * never exist during training.
 */
import * as tf from '@tensorflow/tfjs-core';
import {linearCrossEntropy} from '@sluice/core';
import {embeddingLookup} from '@sluice/core/internal';
import {mixtureOfExperts, MixtureOfExperts} from '@sluice/moe';

export interface ModelConfig {
  vocab: number;
  dim: number;
  layers: number;
  context: number;
  experts: number;
  topK: number;
  hidden: number;
}

export class TinyMoELM {
  readonly params = new Map<string, tf.Variable>();
  readonly moe: MixtureOfExperts[] = [];

  constructor(readonly cfg: ModelConfig, seed: number) {
    const {vocab, dim, layers, context} = cfg;
    let s = seed;
    const normal = (name: string, shape: number[], std: number) =>
        this.params.set(name, tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, std, 'float32', ++s), true, name)));
    const constant = (name: string, shape: number[], value: number) =>
        this.params.set(name, tf.tidy(() => tf.variable(tf.fill(shape, value), true, name)));
    normal('embed', [vocab, dim], 0.1);
    normal('position', [context, dim], 0.02);
    for (let l = 0; l < layers; ++l) {
      constant(`b${l}.ln1.g`, [dim], 1);
      constant(`b${l}.ln1.b`, [dim], 0);
      for (const w of ['q', 'k', 'v']) normal(`b${l}.attn.${w}`, [dim, dim], 1 / Math.sqrt(dim));
      normal(`b${l}.attn.o`, [dim, dim], 0.5 / Math.sqrt(dim * layers));
      constant(`b${l}.ln2.g`, [dim], 1);
      constant(`b${l}.ln2.b`, [dim], 0);
      this.moe.push(mixtureOfExperts({
        name: `b${l}_moe`, numExperts: cfg.experts, topK: cfg.topK, units: dim, hiddenUnits: cfg.hidden,
        activation: 'gelu', seed: seed + 100 * (l + 1),
        // Aux-loss-free balancing plus a little z-loss to keep router logits tame.
        balance: {biasUpdateRate: 0.01, routerZLoss: 1e-3},
      }));
    }
    constant('lnf.g', [dim], 1);
    constant('lnf.b', [dim], 0);
    normal('classifier', [vocab, dim], 0.5 / Math.sqrt(dim));
    // Build the MoE layers' weights now, so they exist before the optimizer sees them.
    tf.tidy(() => this.moe.forEach(m => m.apply(tf.zeros([1, dim]))));
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values(), ...this.moe.flatMap(m => m.trainableWeights.map(w => w.read() as tf.Variable))];
  }

  /** Every weight, trainable or not (the MoE selection bias), by a stable name: what a checkpoint holds. */
  namedWeights(): Array<{name: string, variable: tf.Variable}> {
    const out = [...this.params].map(([name, variable]) => ({name, variable}));
    for (const m of this.moe) {
      for (const w of m.weights) out.push({name: `${m.name}/${w.originalName}`, variable: w.read() as tf.Variable});
    }
    return out;
  }

  private p(name: string): tf.Tensor {
    return this.params.get(name)!;
  }

  private layerNorm(x: tf.Tensor, prefix: string): tf.Tensor {
    const {mean, variance} = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), this.p(`${prefix}.g`)),
                  this.p(`${prefix}.b`));
  }

  private attention(x: tf.Tensor3D, l: number): tf.Tensor3D {
    const [b, t, d] = x.shape;
    const flat = tf.reshape(x, [b * t, d]);
    const proj = (w: string) => tf.reshape(tf.matMul(flat, this.p(`b${l}.attn.${w}`) as tf.Tensor2D), [b, t, d]);
    const q = proj('q'), k = proj('k'), v = proj('v');
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
    // Causal: position i sees j <= i.
    const mask = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
    const masked = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9));
    const out = tf.matMul(tf.softmax(masked), v);
    return tf.reshape(tf.matMul(tf.reshape(out, [b * t, d]), this.p(`b${l}.attn.o`) as tf.Tensor2D), [b, t, d]);
  }

  /** Final hidden states [B·T, D] of token ids [B·T] laid out as B windows of T. */
  hidden(ids: tf.Tensor1D, batch: number, training: boolean): tf.Tensor2D {
    const {dim, context: t} = this.cfg;
    let x = tf.add(tf.reshape(embeddingLookup(this.p('embed'), ids), [batch, t, dim]), this.p('position')) as tf.Tensor3D;
    for (let l = 0; l < this.cfg.layers; ++l) {
      x = tf.add(x, this.attention(this.layerNorm(x, `b${l}.ln1`) as tf.Tensor3D, l));
      const h = tf.reshape(this.layerNorm(x, `b${l}.ln2`), [batch * t, dim]);
      const y = this.moe[l].apply(h, {training}) as tf.Tensor;
      x = tf.add(x, tf.reshape(y, [batch, t, dim]));
    }
    return tf.reshape(this.layerNorm(x, 'lnf'), [batch * t, dim]) as tf.Tensor2D;
  }

  /** Mean next-token cross-entropy (fused, with MaxSup α) plus, in training, the MoE auxiliary losses. */
  loss(inputs: tf.Tensor1D, targets: tf.Tensor1D, batch: number, maxSup: number, training: boolean):
      {total: tf.Scalar, ce: tf.Scalar} {
    const h = this.hidden(inputs, batch, training);
    const ce = linearCrossEntropy(h, this.p('classifier') as tf.Tensor2D, targets, {maxSup}) as tf.Scalar;
    const aux = training ? this.moe.flatMap(m => m.calculateLosses()) : [];
    return {total: aux.length > 0 ? tf.addN([ce, ...aux]) as tf.Scalar : ce, ce};
  }

  /** Next-token logits after the window `ids` (its last T tokens). */
  nextLogits(ids: number[]): Float32Array {
    const t = this.cfg.context;
    const window = ids.slice(-t);
    while (window.length < t) window.unshift(0);
    return tf.tidy(() => {
      const h = this.hidden(tf.tensor1d(window, 'int32'), 1, false);
      const last = tf.slice(h, [t - 1, 0], [1, this.cfg.dim]);
      return tf.matMul(last, this.p('classifier') as tf.Tensor2D, false, true).dataSync() as Float32Array;
    });
  }

  dispose() {
    this.params.forEach(v => v.dispose());
    this.moe.forEach(m => m.dispose());
  }
}
