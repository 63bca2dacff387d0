/**
 * `linearCrossEntropyHead(config)`: the fused cross-entropy as a tf.layers
 * layer, so `model.fit` trains a language-model head without the [N, V]
 * logits ever existing (issue 14, item 3).
 *
 *   head.apply([hidden, labels]) -> per-token losses of labels' shape (0 where ignored)
 *   head.apply(hidden)           -> logits [..., V] (inference)
 *
 * The classifier [V, D] is the head's own weight (`units`), or the matrix of a
 * tf.layers.embedding (`tiedTo`), which the head reads but does not own: it is
 * saved once, with the embedding, and trained through it. A saved config
 * holds the embedding's name; on loading, the head finds that layer among the
 * layers upstream of its hidden states (the embedding the tokens went
 * through), so the tie survives model.save / tf.loadLayersModel.
 */
import * as tf from '@tensorflow/tfjs-core';
import {initializers, layers, SymbolicTensor} from '@tensorflow/tfjs-layers';
import type {Kwargs} from '@tensorflow/tfjs-layers/dist/types';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';
import type {Shape} from '@tensorflow/tfjs-layers/dist/keras_format/common';
import {linearCrossEntropy} from '@sluice/core';
import {assertFiniteNumber, assertInteger, assertKnownKeys, describeValue, fail, INT32_MAX,
        INT32_MIN} from '@sluice/core/internal';

import {rememberLabels} from './head_loss';

const OP = 'linearCrossEntropyHead';

export interface LinearCrossEntropyHeadConfig {
  /** Vocabulary size V: the head owns a classifier [V, D] (and a bias [V]). Or give `tiedTo`. */
  units?: number;
  /** A tf.layers.embedding (or its name) whose [V, D] matrix is the classifier; saved configs hold `{name}`. */
  tiedTo?: layers.Layer|string|{name: string};
  /** Add a bias [V] owned by the head (default true, as tf.layers.dense). */
  useBias?: boolean;
  /** Labels equal to it add 0 loss and 0 gradient (default -100). */
  ignoreIndex?: number;
  labelSmoothing?: number;
  zLoss?: number;
  maxSup?: number;
  /** logits := softcap · tanh(logits / softcap); 0 or absent: none. */
  softcap?: number;
  name?: string;
  trainable?: boolean;
}

const KNOWN = ['units', 'tiedTo', 'useBias', 'ignoreIndex', 'labelSmoothing', 'zLoss', 'maxSup', 'softcap', 'name',
               'trainable'] as const;

interface Resolved {
  units: number|null;
  tiedTo: layers.Layer|string|null;
  useBias: boolean;
  ignoreIndex: number;
  labelSmoothing: number;
  zLoss: number;
  maxSup: number;
  softcap: number;
}

function describeLayer(layer: layers.Layer): string {
  const cls = layer.getClassName();
  return `${/^[AEIOU]/.test(cls) ? 'an' : 'a'} ${cls} layer ("${layer.name}")`;
}

function isLayer(x: unknown): x is layers.Layer {
  return x instanceof layers.Layer ||
         x != null && typeof x === 'object' && typeof (x as layers.Layer).getClassName === 'function' &&
             'inboundNodes' in x;
}

function assertEmbedding(layer: layers.Layer) {
  if (layer.getClassName() !== 'Embedding') {
    fail(OP, 'tiedTo', 'a tf.layers.embedding layer (or its name)', describeLayer(layer));
  }
}

function resolveConfig(config: LinearCrossEntropyHeadConfig): Resolved {
  assertKnownKeys(OP, 'config', config, KNOWN);
  const {units} = config;
  // A saved config holds {name}: tfjs-layers keeps `name` strings as they are, but camel-cases
  // every other string value on loading ('tok_embed' would come back as 'tokEmbed').
  const saved = config.tiedTo as unknown;
  const tiedTo = saved != null && typeof saved === 'object' && !isLayer(saved) &&
                 typeof (saved as {name?: unknown}).name === 'string' ? (saved as {name: string}).name : config.tiedTo;
  if (units == null && tiedTo == null) {
    fail(OP, 'units', 'the vocabulary size, a positive integer (or config.tiedTo, an embedding layer)',
         'neither units nor tiedTo');
  }
  if (units != null && tiedTo != null) {
    fail(OP, 'tiedTo', 'left out when units is given (the tied embedding sets the vocabulary size)',
         isLayer(tiedTo) ? describeLayer(tiedTo) : describeValue(tiedTo));
  }
  if (units != null) assertInteger(OP, 'units', units, 1, INT32_MAX);
  if (tiedTo != null) {
    if (isLayer(tiedTo)) {
      assertEmbedding(tiedTo);
    } else if (typeof tiedTo !== 'string' || tiedTo === '') {
      fail(OP, 'tiedTo', 'a tf.layers.embedding layer (or its name)', describeValue(tiedTo));
    }
  }
  if (config.useBias != null && typeof config.useBias !== 'boolean') {
    fail(OP, 'useBias', 'a boolean', describeValue(config.useBias));
  }
  const num = (key: 'labelSmoothing'|'zLoss'|'maxSup'|'softcap', max = Infinity) =>
      config[key] == null ? 0 : assertFiniteNumber(OP, key, config[key], 0, max);
  return {
    units: units ?? null,
    tiedTo: tiedTo ?? null,
    useBias: config.useBias ?? true,
    ignoreIndex: config.ignoreIndex == null ? -100 : assertInteger(OP, 'ignoreIndex', config.ignoreIndex, INT32_MIN,
                                                                   INT32_MAX),
    labelSmoothing: num('labelSmoothing', 1),
    zLoss: num('zLoss'),
    maxSup: num('maxSup'),
    softcap: num('softcap'),
  };
}

/** The layer named `name` among those upstream of `start` (breadth first through inbound nodes), or null. */
function findUpstream(start: layers.Layer[], name: string): layers.Layer|null {
  const seen = new Set<layers.Layer>();
  const queue = [...start];
  while (queue.length > 0) {
    const layer = queue.shift()!;
    if (seen.has(layer)) continue;
    seen.add(layer);
    if (layer.name === name) return layer;
    for (const node of layer.inboundNodes) queue.push(...node.inboundLayers);
  }
  return null;
}

export class LinearCrossEntropyHead extends layers.Layer {
  static className = 'SluiceLinearCrossEntropyHead';
  readonly head: Readonly<Resolved>;
  private embedding: layers.Layer|null = null;
  private classifier: LayerVariable|null = null;
  private bias: LayerVariable|null = null;
  /** D the head was built for; checked on every call (the head takes one or two inputs, so no inputSpec). */
  private width = 0;

  constructor(config: LinearCrossEntropyHeadConfig) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      fail(OP, 'config', 'an object ({units} or {tiedTo})', describeValue(config));
    }
    const head = resolveConfig(config);
    super({name: config.name, trainable: config.trainable});
    this.head = head;
    if (isLayer(head.tiedTo)) this.embedding = head.tiedTo;
  }

  /** V: the head's units, or the tied embedding's inputDim. */
  get vocabSize(): number {
    if (this.head.units != null) return this.head.units;
    return this.tiedEmbedding().getConfig()['inputDim'] as number;
  }

  private tiedEmbedding(): layers.Layer {
    if (this.embedding != null) return this.embedding;
    // Loaded from a config: the embedding is found by name upstream of this head.
    return this.tieUpstream(this.inboundNodes.flatMap(node => node.inboundLayers));
  }

  /** Ties the head to the embedding named by `tiedTo` among `sources` and what feeds them; throws if none is. */
  private tieUpstream(sources: layers.Layer[]): layers.Layer {
    const name = this.head.tiedTo as string;
    const found = findUpstream(sources, name);
    if (found == null) {
      fail(OP, 'tiedTo', 'the name of an embedding layer upstream of the hidden states',
           `"${name}", which is not among them`);
    }
    assertEmbedding(found);
    this.embedding = found;
    return found;
  }

  /**
   * Resolves a tie given by name as soon as the layer is applied to symbolic
   * inputs (model construction, loadLayersModel), so a wrong name fails there.
   */
  override apply(inputs: tf.Tensor|tf.Tensor[]|SymbolicTensor|SymbolicTensor[], kwargs?: Kwargs):
      tf.Tensor|tf.Tensor[]|SymbolicTensor|SymbolicTensor[] {
    if (this.embedding == null && typeof this.head.tiedTo === 'string') {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const sources = list.filter((x): x is SymbolicTensor => x instanceof SymbolicTensor).map(x => x.sourceLayer);
      if (sources.length > 0) this.tieUpstream(sources);
    }
    return super.apply(inputs, kwargs);
  }

  build(inputShape: Shape|Shape[]): void {
    const hiddenShape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    if (hiddenShape.length < 2) {
      fail(OP, 'hidden', 'of rank >= 2 [..., D]', `shape [${hiddenShape.join(',')}]`);
    }
    const d = hiddenShape[hiddenShape.length - 1];
    if (d == null) fail(OP, 'hidden', 'of a known last dimension D', `shape [${hiddenShape.join(',')}]`);
    if (this.head.units != null) {
      this.classifier = this.addWeight('classifier', [this.head.units, d], 'float32', initializers.glorotUniform({}));
    } else {
      const embedding = this.tiedEmbedding();
      const width = embedding.getConfig()['outputDim'] as number;
      if (width !== d) {
        fail(OP, 'tiedTo', `an embedding of width ${d} (the hidden states' last dimension)`,
             `an embedding of width ${width} ("${embedding.name}")`);
      }
    }
    if (this.head.useBias) {
      this.bias = this.addWeight('bias', [this.vocabSize], 'float32', initializers.zeros());
    }
    this.width = d;
    this.built = true;
  }

  computeOutputShape(inputShape: Shape|Shape[]): Shape {
    if (Array.isArray(inputShape[0])) return (inputShape as Shape[])[1];
    return [...(inputShape as Shape).slice(0, -1), this.vocabSize];
  }

  /** The classifier [V, D] this head multiplies by: its own, or the tied embedding's matrix. */
  classifierValue(): tf.Tensor2D {
    if (this.classifier != null) return this.classifier.read() as tf.Tensor2D;
    const embedding = this.tiedEmbedding();
    if (!embedding.built || embedding.weights.length === 0) {
      fail(OP, 'tiedTo', 'a built embedding layer (apply it to tokens before the head runs)', describeLayer(embedding));
    }
    return embedding.weights[0].read() as tf.Tensor2D;
  }

  call(inputs: tf.Tensor|tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length !== 1 && list.length !== 2) {
      fail(OP, 'inputs', 'hidden [..., D] or [hidden [..., D], labels [...]]', `${list.length} tensors`);
    }
    const [hidden, labels] = list;
    if (hidden.dtype !== 'float32') fail(OP, 'hidden', 'of dtype float32', hidden.dtype);
    const lead = hidden.shape.slice(0, -1);
    const d = hidden.shape[hidden.shape.length - 1];
    if (hidden.rank < 2 || d !== this.width) {
      fail(OP, 'hidden', `of shape [..., ${this.width}] (the width the head was built for)`,
           `shape [${hidden.shape.join(',')}]`);
    }
    if (labels == null) {
      return tf.tidy(() => {
        let logits = tf.matMul(tf.reshape(hidden, [-1, d]), this.classifierValue(), false, true);
        if (this.bias != null) logits = tf.add(logits, this.bias.read());
        const s = this.head.softcap;
        if (s > 0) logits = tf.mul(tf.tanh(tf.div(logits, s)), s);
        return tf.reshape(logits, [...lead, this.vocabSize]);
      });
    }
    if (labels.dtype !== 'int32') fail(OP, 'labels', 'of dtype int32 (class ids)', labels.dtype);
    if (labels.shape.length !== lead.length || labels.shape.some((n, i) => n !== lead[i])) {
      fail(OP, 'labels', `of shape [${lead.join(',')}] (hidden's [${hidden.shape.join(',')}] without D)`,
           `shape [${labels.shape.join(',')}]`);
    }
    // The op takes hidden [..., D] and labels of its leading shape, and returns losses of the labels' shape.
    const {ignoreIndex, labelSmoothing, zLoss, maxSup, softcap} = this.head;
    const losses = linearCrossEntropy(hidden, this.classifierValue(), labels, {
      reduction: 'none', ignoreIndex, labelSmoothing, zLoss, maxSup, softcap,
      ...(this.bias != null ? {bias: this.bias.read()} : {}),
    });
    rememberLabels(losses, labels, this.head.ignoreIndex);
    return losses;
  }

  getConfig(): tf.serialization.ConfigDict {
    const h = this.head;
    const config: tf.serialization.ConfigDict = {
      useBias: h.useBias, ignoreIndex: h.ignoreIndex, labelSmoothing: h.labelSmoothing, zLoss: h.zLoss,
      maxSup: h.maxSup, softcap: h.softcap,
    };
    if (h.units != null) config['units'] = h.units;
    if (h.tiedTo != null) config['tiedTo'] = {name: typeof h.tiedTo === 'string' ? h.tiedTo : h.tiedTo.name};
    return {...config, ...super.getConfig()};
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
      cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    // The base config adds fields a head does not take (batchInputShape, dtype): keep ours and the layer's own.
    const own: tf.serialization.ConfigDict = {};
    for (const key of KNOWN) {
      if (config[key] !== undefined) own[key] = config[key];
    }
    return new cls(own);
  }
}

tf.serialization.registerClass(LinearCrossEntropyHead);

/** A tf.layers layer computing the fused cross-entropy of a classifier head; see `LinearCrossEntropyHead`. */
export function linearCrossEntropyHead(config: LinearCrossEntropyHeadConfig): LinearCrossEntropyHead {
  return new LinearCrossEntropyHead(config);
}
