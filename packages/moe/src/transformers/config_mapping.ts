/**
 * A `mixtureOfExperts` config to and from the MoE fields of a transformers
 * config.json (the block's fields only; the caller adds the rest of the model).
 */
import {fail, resolveGroupLimit} from '@sluice/core/internal';

import {MixtureOfExpertsConfig, resolveConfig} from '../config';
import {checkExpressible, TARGETS, targetSpec, TransformersTarget, TRANSFORMERS_TARGETS} from './targets';

type Json = Record<string, unknown>;

const TO = 'transformersMoeConfig';
const FROM = 'moeConfigFromTransformers';

/**
 * The config.json fields of `target`'s MoE block for a layer of this config
 * on inputs of `hiddenSize` features. Throws when the target cannot express it.
 * glm4_moe / deepseek_v3: the layer's groups (one when it has none) and
 * scaling factor, and first_k_dense_replace 0 (every layer MoE; a model with
 * dense first layers sets its own).
 */
export function transformersMoeConfig(config: MixtureOfExpertsConfig, hiddenSize: number,
                                      target: TransformersTarget): Json {
  targetSpec(TO, target);
  if (!Number.isInteger(hiddenSize) || hiddenSize < 1) fail(TO, 'hiddenSize', 'a positive integer', String(hiddenSize));
  const cfg = resolveConfig(config);
  checkExpressible(TO, cfg, hiddenSize, target);
  const {numExperts: e, topK: k, hiddenUnits: h, sharedExperts: s, normalizeGates: norm} = cfg;
  const common = {model_type: target, hidden_size: hiddenSize, hidden_act: 'silu', num_experts_per_tok: k};
  switch (target) {
    case 'mixtral':
      return {...common, intermediate_size: h, num_local_experts: e, router_jitter_noise: 0};
    case 'qwen3_moe':
      return {...common, moe_intermediate_size: h, num_experts: e, norm_topk_prob: norm, decoder_sparse_step: 1,
              mlp_only_layers: []};
    case 'olmoe':
      return {...common, intermediate_size: h, num_experts: e, norm_topk_prob: norm};
    case 'glm4_moe':
    case 'deepseek_v3':
      return {...common, moe_intermediate_size: h, n_routed_experts: e, n_shared_experts: s, norm_topk_prob: norm,
              routed_scaling_factor: cfg.routedScalingFactor, n_group: cfg.groups?.numGroups ?? 1,
              topk_group: cfg.groups?.topKGroups ?? 1, first_k_dense_replace: 0};
  }
}

/**
 * An integer field >= `min`, under the first of its names present (config.json spells some two ways, see
 * below); `fallback` (the config class's default) when absent.
 */
function int(hf: Json, names: string[], where: string, min: number, fallback?: number): number {
  const field = names.find(n => hf[n] !== undefined) ?? names[0];
  const v = hf[field] === undefined ? fallback : hf[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    fail(FROM, `${where}.${names.join(' or ')}`, `an integer >= ${min}`, JSON.stringify(v) ?? 'undefined');
  }
  return v;
}

/**
 * The routing and shared-expert fields' defaults of transformers 5.17's config classes, which apply when
 * config.json leaves a field out (configuration_deepseek_v3.py, configuration_glm4_moe.py); Mixtral, Qwen3-MoE and OLMoE have none
 * of these fields.
 */
const ROUTING_DEFAULTS: Partial<Record<TransformersTarget, {routedScalingFactor: number, nGroup: number,
                                                           topkGroup: number, nSharedExperts: number}>> = {
  deepseek_v3: {routedScalingFactor: 2.5, nGroup: 8, topkGroup: 4, nSharedExperts: 1},
  glm4_moe: {routedScalingFactor: 1, nGroup: 1, topkGroup: 1, nSharedExperts: 1},
};

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
  // Every value is checked here in config.json's terms, so that resolveConfig below never names a layer field.
  const numExperts = int(hf, EXPERT_COUNT[t], where, deepseek ? 2 : 1);
  const hiddenUnits = int(hf, [t === 'mixtral' || t === 'olmoe' ? 'intermediate_size' : 'moe_intermediate_size'], where,
                          1);
  const topK = int(hf, ['num_experts_per_tok'], where, 1);
  if (topK > numExperts) {
    fail(FROM, `${where}.num_experts_per_tok`, `<= ${EXPERT_COUNT[t][0]} (${numExperts})`, String(topK));
  }
  const units = int(hf, ['hidden_size'], where, 1);
  // Mixtral always renormalises; the others' default is their config class's (Glm4Moe / DeepSeek-V3: true).
  const normalizeGates = t === 'mixtral' ? true : hf['norm_topk_prob'] ?? deepseek;
  if (typeof normalizeGates !== 'boolean') {
    fail(FROM, `${where}.norm_topk_prob`, 'a boolean', JSON.stringify(normalizeGates));
  }
  const config: MixtureOfExpertsConfig = {
    numExperts, topK, units, hiddenUnits, activation: 'swiglu', router: 'topk', scoring: TARGETS[t].scoring,
    normalizeGates,
  };
  const defaults = ROUTING_DEFAULTS[t];
  if (deepseek && defaults != null) {
    config.sharedExperts = int(hf, ['n_shared_experts'], where, 0, defaults.nSharedExperts);
    const scale = hf['routed_scaling_factor'] ?? defaults.routedScalingFactor;
    if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
      fail(FROM, `${where}.routed_scaling_factor`, 'a finite number > 0', JSON.stringify(scale));
    }
    if (scale !== 1) config.routedScalingFactor = scale;
    const nGroup = int(hf, ['n_group'], where, 1, defaults.nGroup);
    const topkGroup = int(hf, ['topk_group'], where, 1, defaults.topkGroup);
    const names = {numGroups: `${where}.n_group`, topKGroups: `${where}.topk_group`,
                   numExperts: EXPERT_COUNT[t][0], k: `${where}.num_experts_per_tok`};
    resolveGroupLimit(FROM, names, nGroup, topkGroup, numExperts, topK);
    // Every group kept is no limit at all; fewer is DeepSeek-V3's group-limited routing.
    if (topkGroup < nGroup) Object.assign(config, {numGroups: nGroup, topKGroups: topkGroup});
  }
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
