/**
 * MoECausalLM's weights to and from a transformers state dict (the keys and
 * layouts of MixtralForCausalLM / Glm4MoeForCausalLM in transformers 5.17;
 * the table is in model/causal_lm.ts). Dense weights already carry
 * transformers' keys and layouts; each MoE layer maps through @sluice/moe's
 * transformers mapping (router, experts in the per-expert or fused layout,
 * Glm4Moe's e_score_correction_bias and shared experts). With tied embeddings
 * there is no lm_head.weight, as save_pretrained writes it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {fail} from '@sluice/core/internal';
import {ExpertLayout, exportTransformersWeights, importTransformersWeights, TransformersTarget,
        weightKeys} from '@sluice/moe';

import {MoECausalLM} from '../model/causal_lm';

const LOAD = 'loadStateDict';

/** A tensor as @sluice/interop reads it: host values (float32 for F32, F16 and BF16) and the file's dtype. */
export interface StateDictValue {
  dtype: string;
  shape: number[];
  values: Float32Array|Int32Array|Uint8Array;
  sourceDtype?: string;
}

export interface KeyShape {
  key: string;
  shape: number[];
}

export function moeTarget(model: MoECausalLM): TransformersTarget {
  return model.spec.architecture === 'MixtralForCausalLM' ? 'mixtral' : 'glm4_moe';
}

const layerPrefix = (l: number) => `model.layers.${l}.`;

/**
 * Every key of the model's transformers state dict with its shape, in the
 * modules' order (embeddings, each layer's own weights then its MoE block,
 * final norm, lm_head). `layouts[l]` is the expert layout of MoE layer l.
 */
export function transformersKeys(model: MoECausalLM, layouts: (l: number) => ExpertLayout): KeyShape[] {
  const dense = [...model.params].map(([key, v]) => ({key, shape: v.shape}));
  const inLayer = (k: KeyShape, l: number) => k.key.startsWith(layerPrefix(l));
  const out = dense.filter(k => !k.key.startsWith('model.layers.') && !k.key.startsWith('model.norm') &&
                                !k.key.startsWith('lm_head'));
  model.moe.forEach((m, l) => {
    out.push(...dense.filter(k => inLayer(k, l)));
    if (m != null) {
      out.push(...weightKeys(m.moe, model.spec.hiddenSize, moeTarget(model), layouts(l), layerPrefix(l))
                   .map(({key, shape}) => ({key, shape})));
    }
  });
  out.push(...dense.filter(k => k.key.startsWith('model.norm') || k.key.startsWith('lm_head')));
  return out;
}

/**
 * The model's weights under transformers' keys, in the modules' order. The
 * dense entries are the model's own variables (not copies); the MoE entries
 * are new tensors, listed in `owned` for the caller to dispose.
 */
export async function exportStateDict(model: MoECausalLM, layout: ExpertLayout = 'perExpert'):
    Promise<{tensors: Record<string, tf.Tensor>, owned: tf.Tensor[]}> {
  const moe: Record<string, tf.Tensor> = {};
  for (let l = 0; l < model.moe.length; ++l) {
    const m = model.moe[l];
    if (m != null) Object.assign(moe, await exportTransformersWeights(m, moeTarget(model), {prefix: layerPrefix(l), layout}));
  }
  const tensors: Record<string, tf.Tensor> = {};
  for (const {key} of transformersKeys(model, () => layout)) tensors[key] = model.params.get(key) ?? moe[key];
  return {tensors, owned: Object.values(moe)};
}

const shapeText = (shape: readonly number[]) => `[${shape.join(',')}]`;

function layoutOf(weights: Record<string, StateDictValue>, l: number): ExpertLayout {
  return `${layerPrefix(l)}mlp.experts.gate_up_proj` in weights ? 'fused' : 'perExpert';
}

/**
 * Checks a transformers state dict against the model, before changing anything:
 * every key present with the model's shape (the first missing key, or the
 * first wrong shape, named with both shapes), float tensors only, and no
 * other key (the first unexpected one named with its shape). With tied
 * embeddings an lm_head.weight equal to the embeddings is accepted, as
 * transformers ties it. `where` names the checkpoint in errors.
 */
export function checkStateDict(model: MoECausalLM, weights: Record<string, StateDictValue>, where: string): KeyShape[] {
  const arch = model.spec.architecture;
  const keys = transformersKeys(model, l => layoutOf(weights, l));
  for (const {key, shape} of keys) {
    const w = weights[key];
    if (w === undefined) {
      fail(LOAD, `${where}: tensor '${key}'`, `present (${arch} with this config.json has it, shape ${shapeText(shape)})`,
           'no such tensor (the first missing one)');
    }
    if (w.shape.length !== shape.length || w.shape.some((n, i) => n !== shape[i])) {
      fail(LOAD, `${where}: tensor '${key}' shape`, `${shapeText(shape)} (from config.json)`, shapeText(w.shape));
    }
    if (w.dtype !== 'float32') {
      fail(LOAD, `${where}: tensor '${key}' dtype`, 'a float dtype (F32, F16 or BF16)', w.sourceDtype ?? w.dtype);
    }
  }
  const expected = new Set(keys.map(k => k.key));
  for (const key of Object.keys(weights).sort()) {
    if (expected.has(key)) continue;
    if (key === 'lm_head.weight' && model.spec.tieWordEmbeddings) {
      const embed = weights['model.embed_tokens.weight'], head = weights[key];
      if (shapeText(head.shape) === shapeText(embed.shape) && head.values.every((v, i) => v === embed.values[i])) continue;
      fail(LOAD, `${where}: tensor 'lm_head.weight'`,
           `absent or equal to model.embed_tokens.weight ${shapeText(embed.shape)} (tie_word_embeddings is true)`,
           `a different tensor of shape ${shapeText(head.shape)}`);
    }
    fail(LOAD, `${where}: tensor '${key}'`, `a weight of ${arch} with this config.json`,
         `an unexpected tensor of shape ${shapeText(weights[key].shape)} (the first one)`);
  }
  return keys;
}

/** Sets every weight of the model from a transformers state dict, after checkStateDict found nothing wrong. */
export async function loadStateDict(model: MoECausalLM, weights: Record<string, StateDictValue>,
                                    where: string): Promise<void> {
  checkStateDict(model, weights, where);
  for (const [key, variable] of model.params) {
    const w = weights[key];
    tf.tidy(() => variable.assign(tf.tensor(w.values as Float32Array, w.shape, 'float32')));
  }
  for (let l = 0; l < model.moe.length; ++l) {
    const m = model.moe[l];
    if (m != null) await importTransformersWeights(m, moeTarget(model), weights, {prefix: layerPrefix(l)});
  }
}
