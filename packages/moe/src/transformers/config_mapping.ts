/**
 * A `mixtureOfExperts` config to and from the MoE fields of a transformers
 * config.json (the block's fields only; the caller adds the rest of the model).
 */
import {fail} from '@sluice/core/internal';

import {MixtureOfExpertsConfig, resolveConfig} from '../config';
import {checkExpressible, TARGETS, targetSpec, TransformersTarget, TRANSFORMERS_TARGETS} from './targets';

type Json = Record<string, unknown>;

const TO = 'transformersMoeConfig';
const FROM = 'moeConfigFromTransformers';

/**
 * The config.json fields of `target`'s MoE block for a layer of this config
 * on inputs of `hiddenSize` features. Throws when the target cannot express it.
 * glm4_moe / deepseek_v3: one expert group, scaling factor 1, and
 * first_k_dense_replace 0 (every layer MoE; a model with dense first layers
 * sets its own).
 */
export function transformersMoeConfig(config: MixtureOfExpertsConfig, hiddenSize: number,
                                      target: TransformersTarget): Json {
  targetSpec(TO, target);
  if (!Number.isInteger(hiddenSize) || hiddenSize < 1) fail(TO, 'hiddenSize', 'a positive integer', String(hiddenSize));
  const cfg = resolveConfig(config);
  checkExpressible(TO, cfg, hiddenSize, target);
  const {numExperts: e, topK: k, hiddenUnits: h, sharedExperts: s} = cfg;
  const common = {model_type: target, hidden_size: hiddenSize, hidden_act: 'silu', num_experts_per_tok: k};
  switch (target) {
    case 'mixtral':
      return {...common, intermediate_size: h, num_local_experts: e, router_jitter_noise: 0};
    case 'qwen3_moe':
      return {...common, moe_intermediate_size: h, num_experts: e, norm_topk_prob: k > 1, decoder_sparse_step: 1,
              mlp_only_layers: []};
    case 'olmoe':
      return {...common, intermediate_size: h, num_experts: e, norm_topk_prob: k > 1};
    case 'glm4_moe':
    case 'deepseek_v3':
      return {...common, moe_intermediate_size: h, n_routed_experts: e, n_shared_experts: s, norm_topk_prob: k > 1,
              routed_scaling_factor: 1, n_group: 1, topk_group: 1, first_k_dense_replace: 0};
  }
}

/** An integer field, under the first of its names present (config.json spells some two ways, see below). */
function int(hf: Json, names: string[], where: string): number {
  const field = names.find(n => hf[n] !== undefined) ?? names[0];
  const v = hf[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    fail(FROM, `${where}.${names.join(' or ')}`, 'an integer >= 0', JSON.stringify(v) ?? 'undefined');
  }
  return v;
}

/**
 * The expert count's names: hub configs use the first, and transformers 5.17's
 * save_pretrained writes the other for Qwen3-MoE (its attribute_map maps
 * num_experts to num_local_experts).
 */
const EXPERT_COUNT: Record<TransformersTarget, string[]> = {
  mixtral: ['num_local_experts', 'num_experts'],
  qwen3_moe: ['num_experts', 'num_local_experts'],
  olmoe: ['num_experts', 'num_local_experts'],
  glm4_moe: ['n_routed_experts', 'num_local_experts'],
  deepseek_v3: ['n_routed_experts', 'num_local_experts'],
};

/**
 * The `mixtureOfExperts` config of the MoE block described by a transformers
 * config.json (`target` defaults to its model_type). Throws, naming the field,
 * for what sluice's layer cannot compute.
 */
export function moeConfigFromTransformers(hf: Json, target?: TransformersTarget): MixtureOfExpertsConfig {
  if (hf === null || typeof hf !== 'object') fail(FROM, 'config', 'a transformers config object', String(hf));
  const t = (target ?? hf['model_type']) as TransformersTarget;
  if (!(TRANSFORMERS_TARGETS as readonly string[]).includes(t as string)) {
    fail(FROM, target === undefined ? 'config.model_type' : 'target',
         `one of ${TRANSFORMERS_TARGETS.map(x => `'${x}'`).join(', ')}`, JSON.stringify(t));
  }
  const where = `config (${t})`;
  if (hf['hidden_act'] !== undefined && hf['hidden_act'] !== 'silu') {
    fail(FROM, `${where}.hidden_act`, "'silu' (sluice's swiglu experts)", JSON.stringify(hf['hidden_act']));
  }
  const deepseek = TARGETS[t].deepseekStyle;
  const numExperts = int(hf, EXPERT_COUNT[t], where);
  const hiddenUnits = int(hf, [t === 'mixtral' || t === 'olmoe' ? 'intermediate_size' : 'moe_intermediate_size'], where);
  const topK = int(hf, ['num_experts_per_tok'], where);
  const units = int(hf, ['hidden_size'], where);
  if (t !== 'mixtral') {
    const norm = hf['norm_topk_prob'] ?? (deepseek ? true : false);
    if (norm !== (topK > 1)) {
      fail(FROM, `${where}.norm_topk_prob`, `${topK > 1} with num_experts_per_tok ${topK} (sluice renormalises the ` +
           'chosen gates exactly when topK > 1)', JSON.stringify(norm));
    }
  }
  if (deepseek) {
    const scale = hf['routed_scaling_factor'] ?? 1;
    if (scale !== 1) fail(FROM, `${where}.routed_scaling_factor`, '1 (the layer has no routed scaling yet)', JSON.stringify(scale));
    const groups = hf['n_group'] ?? 1, topGroups = hf['topk_group'] ?? 1;
    if (groups !== topGroups) {
      fail(FROM, `${where}.topk_group`, `n_group (${groups}): every group eligible, as the layer routes without ` +
           'group limits', JSON.stringify(topGroups));
    }
  }
  const config: MixtureOfExpertsConfig = {
    numExperts, topK, units, hiddenUnits, activation: 'swiglu', router: 'topk', scoring: TARGETS[t].scoring,
  };
  if (deepseek) config.sharedExperts = int(hf, ['n_shared_experts'], where);
  checkExpressible(FROM, resolveConfig(config), units, t);
  return config;
}

/**
 * Fields transformers 5.17 types as float: its configs are strict dataclasses,
 * and config.json's `1` (what JSON.stringify writes for 1.0) fails to load
 * there ("expected float, got int"), so these are written as `1.0`.
 */
export const TRANSFORMERS_FLOAT_FIELDS: readonly string[] = [
  'routed_scaling_factor', 'router_jitter_noise', 'router_aux_loss_coef', 'rms_norm_eps', 'layer_norm_eps',
  'initializer_range', 'rope_theta', 'partial_rotary_factor', 'attention_dropout', 'factor',
];

/** A transformers config as config.json text (2-space indent), the float fields of `floatFields` as floats. */
export function transformersConfigJson(config: Json, floatFields: readonly string[] = TRANSFORMERS_FLOAT_FIELDS): string {
  const marker = '__sluice_float__';
  const text = JSON.stringify(config, (key, value) =>
      floatFields.includes(key) && typeof value === 'number' && Number.isInteger(value) ? `${marker}${value}` : value,
      2);
  return `${text.replace(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1.0')}\n`;
}
