/**
 * A `mixtureOfExperts` layer's weights to and from the keys of a transformers
 * MoE block (see weight_keys.ts for the table, targets.ts for what each
 * target can express).
 */
import * as tf from '@tensorflow/tfjs-core';
import {fail} from '@sluice/core/internal';
import type {LayerVariable} from '@tensorflow/tfjs-layers/dist/variables';

import type {MixtureOfExperts} from '../mixture_of_experts';
import {checkExpressible, ExpertLayout, TARGETS, targetSpec, TransformersTarget} from './targets';
import {KeySource, KeySpec, modulePrefixes, weightKeys} from './weight_keys';

export interface TransformersWeightOptions {
  /** The decoder layer's key prefix, e.g. 'model.layers.0.' (default ''). */
  prefix?: string;
  /** Export only: 'perExpert' (default, what save_pretrained writes) or 'fused'. */
  layout?: ExpertLayout;
}

/** A tensor, or host values as `@sluice/interop` reads them (converted to float32). */
export type WeightValue = tf.Tensor|{shape: number[], values: Float32Array|Int32Array|Uint8Array};

const EXPORT = 'exportTransformersWeights';
const IMPORT = 'importTransformersWeights';

function variable(layer: MixtureOfExperts, name: KeySource['weight']): LayerVariable|undefined {
  return layer.weights.find(w => w.originalName.split('/').pop() === name);
}

function prefixOf(op: string, options: TransformersWeightOptions): string {
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') fail(op, 'options.prefix', "a string such as 'model.layers.0.'", typeof prefix);
  return prefix;
}

function inputSize(op: string, layer: MixtureOfExperts): number {
  const router = variable(layer, 'router');
  if (!layer.built || router == null) {
    fail(op, 'layer', 'a built mixtureOfExperts layer (call it once, e.g. on tf.zeros([1, D]))', 'an unbuilt layer');
  }
  return router.shape[0]!;
}

/** The transformers tensor of one key, cut from the sluice weights. */
function exportKey(spec: KeySpec, weights: Record<KeySource['weight'], tf.Tensor|undefined>, h: number,
                   d: number): tf.Tensor {
  const {weight, expert, half} = spec.from;
  let w = weights[weight];
  if (w == null) return tf.zeros(spec.shape);  // the empty shared experts of sharedExperts 0
  if (weight === 'selection_bias') return tf.clone(w);
  if (weight === 'router') return tf.transpose(w);
  if (expert === undefined && (weight === 'experts_w1' || weight === 'experts_w2')) return tf.transpose(w, [0, 2, 1]);
  if (expert !== undefined) w = tf.reshape(tf.slice(w, [expert, 0, 0], [1, -1, -1]), w.shape.slice(1));
  if (half !== undefined) {
    const width = w.shape[1]! / 2;
    w = tf.slice(w, [0, half === 'gate' ? 0 : width], [d, width]);
  }
  return tf.transpose(w);
}

/**
 * The layer's weights under the keys of `target`'s MoE block (new tensors the
 * caller owns), after checking that the target computes what the layer does:
 * `router: 'topk'`, `activation: 'swiglu'`, dropless, `units` = input size,
 * the target's scoring, and a zero selection bias where the target has none.
 */
export async function exportTransformersWeights(layer: MixtureOfExperts, target: TransformersTarget,
                                                options: TransformersWeightOptions = {}): Promise<tf.NamedTensorMap> {
  const spec = targetSpec(EXPORT, target);
  const prefix = prefixOf(EXPORT, options);
  const layout = options.layout ?? 'perExpert';
  if (layout !== 'perExpert' && layout !== 'fused') {
    fail(EXPORT, 'options.layout', "'perExpert' or 'fused'", JSON.stringify(layout));
  }
  const d = inputSize(EXPORT, layer);
  checkExpressible(EXPORT, layer.moe, d, target);
  const read = (name: KeySource['weight']) => variable(layer, name)?.read();
  const weights = {router: read('router'), experts_w1: read('experts_w1'), experts_w2: read('experts_w2'),
                   shared_w1: read('shared_w1'), shared_w2: read('shared_w2'), selection_bias: read('selection_bias')};
  if (!spec.deepseekStyle) {
    const bias = await weights.selection_bias!.data();
    const at = bias.findIndex(v => v !== 0);
    if (at >= 0) {
      fail(EXPORT, 'selection_bias', `all zero for target '${target}' (it has no selection bias; glm4_moe and ` +
           'deepseek_v3 carry it as e_score_correction_bias)', `${bias[at]} at expert ${at}`);
    }
  }
  const keys = weightKeys(layer.moe, d, target, layout, prefix);
  return tf.tidy(() => Object.fromEntries(keys.map(k => [k.key, exportKey(k, weights, layer.moe.hiddenUnits, d)])));
}

function shapeOf(v: WeightValue): number[] {
  return v instanceof tf.Tensor ? v.shape : v.shape;
}

/**
 * Sets the layer's weights from a transformers MoE block's keys (a whole
 * checkpoint's tensors may be passed: only those under the block's module
 * are read). The layout (per-expert or fused) is detected. Checks, before
 * writing anything: the target can express the layer, every key is present
 * with its shape, and no other key sits under the block's module. An unbuilt
 * layer is built by one call on a zero token of the router's input size.
 */
export async function importTransformersWeights(layer: MixtureOfExperts, target: TransformersTarget,
                                                weights: Record<string, WeightValue>,
                                                options: TransformersWeightOptions = {}): Promise<void> {
  const spec = targetSpec(IMPORT, target);
  const prefix = prefixOf(IMPORT, options);
  if (weights === null || typeof weights !== 'object') fail(IMPORT, 'weights', 'an object of key -> tensor', String(weights));
  const fusedKey = `${prefix}${spec.module.fused}.experts.gate_up_proj`;
  const layout: ExpertLayout = fusedKey in weights ? 'fused' : 'perExpert';
  const routerKey = `${prefix}${spec.module[layout]}.gate.weight`;
  const routerShape = weights[routerKey] == null ? null : shapeOf(weights[routerKey]);
  if (routerShape == null || routerShape.length !== 2) {
    fail(IMPORT, `weights['${routerKey}']`, `the ${target} router weight [numExperts, hiddenSize]`,
         routerShape == null ? 'no such key' : `shape [${routerShape.join(',')}]`);
  }
  // Checked before building, so a config the target cannot express fails without running the layer.
  checkExpressible(IMPORT, layer.moe, layer.built ? inputSize(IMPORT, layer) : routerShape[1], target);
  // Built by a first call (not build()), as tf.layers counts that call as the layer's first use (dispose needs one).
  if (!layer.built) tf.tidy(() => void layer.apply(tf.zeros([1, routerShape[1]])));
  const d = inputSize(IMPORT, layer);
  const keys = weightKeys(layer.moe, d, target, layout, prefix);
  const expected = new Set(keys.map(k => k.key));
  for (const k of keys) {
    const v = weights[k.key];
    if (v == null) {
      fail(IMPORT, `weights['${k.key}']`, `present (${target}, ${layout} layout, shape [${k.shape.join(',')}])`,
           'no such key: the checkpoint does not match the layer (first missing key)');
    }
    const shape = shapeOf(v);
    if (shape.length !== k.shape.length || shape.some((n, i) => n !== k.shape[i])) {
      fail(IMPORT, `weights['${k.key}'] shape`, `[${k.shape.join(',')}] for this layer`, `[${shape.join(',')}]`);
    }
  }
  const unexpected = Object.keys(weights).filter(key => modulePrefixes(target, prefix).some(p => key.startsWith(p)) &&
                                                        !expected.has(key)).sort()[0];
  if (unexpected !== undefined) {
    fail(IMPORT, `weights['${unexpected}']`, `a key of the ${target} block (${layout} layout) of this layer`,
         'an unexpected key (first one)');
  }
  const values = tf.tidy(() => {
    const get = (k: KeySpec) => {
      const v = weights[k.key];
      return v instanceof tf.Tensor ? tf.cast(v, 'float32') : tf.tensor(v.values, v.shape, 'float32');
    };
    const by = (weight: KeySource['weight']) => keys.filter(k => k.from.weight === weight);
    const out: Partial<Record<KeySource['weight'], tf.Tensor>> = {};
    out.router = tf.transpose(get(by('router')[0]));
    const bias = by('selection_bias')[0];
    out.selection_bias = bias ? get(bias) : tf.zeros([layer.moe.numExperts]);
    if (layout === 'fused') {
      out.experts_w1 = tf.transpose(get(by('experts_w1')[0]), [0, 2, 1]);
      out.experts_w2 = tf.transpose(get(by('experts_w2')[0]), [0, 2, 1]);
    } else {
      const w1 = by('experts_w1'), w2 = by('experts_w2');
      out.experts_w1 = tf.stack(Array.from({length: layer.moe.numExperts}, (_, j) => tf.concat(
          [tf.transpose(get(w1[2 * j])), tf.transpose(get(w1[2 * j + 1]))], 1)));
      out.experts_w2 = tf.stack(w2.map(k => tf.transpose(get(k))));
    }
    const shared1 = by('shared_w1');
    if (shared1.length > 0 && layer.moe.sharedExperts > 0) {
      out.shared_w1 = tf.concat([tf.transpose(get(shared1[0])), tf.transpose(get(shared1[1]))], 1);
      out.shared_w2 = tf.transpose(get(by('shared_w2')[0]));
    }
    return out;
  });
  for (const [name, value] of Object.entries(values) as Array<[KeySource['weight'], tf.Tensor]>) {
    variable(layer, name)!.write(value);
  }
  tf.dispose(Object.values(values));
}

export {TARGETS};
