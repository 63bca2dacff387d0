/**
 * The model's config.json object to and from the config.json transformers
 * 5.17 writes for MixtralConfig / Glm4MoeConfig.
 *
 * Export writes exactly the fields `save_pretrained` writes for these classes
 * (plus Glm4Moe's `head_dim`, which its modeling code reads with getattr),
 * with every value that changes what the model computes taken from what
 * sluice computed with (resolveLMConfig), so a field sluice filled in with its
 * own default is written as the value it used. Import fills a field the file
 * leaves out with transformers' default, so sluice computes what transformers
 * would for that file.
 */
import {transformersConfigJson} from '@sluice/moe';

import {Architecture, architectureOf, LMSpec, MODEL_TYPE, resolveLMConfig, TransformersConfig} from '../model/config';

/** transformers 5.17's defaults of every field save_pretrained writes (transformers_version aside). */
export const TRANSFORMERS_DEFAULTS: Record<Architecture, TransformersConfig> = {
  MixtralForCausalLM: {
    attention_dropout: 0.0, bos_token_id: 1, eos_token_id: 2, head_dim: null, hidden_act: 'silu', hidden_size: 4096,
    initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 131072, num_attention_heads: 32,
    num_experts_per_tok: 2, num_hidden_layers: 32, num_key_value_heads: 8, num_local_experts: 8,
    output_router_logits: false, pad_token_id: null, rms_norm_eps: 1e-5,
    rope_parameters: {rope_theta: 1000000.0, rope_type: 'default'}, router_aux_loss_coef: 0.001,
    router_jitter_noise: 0.0, sliding_window: null, tie_word_embeddings: false, use_cache: true, vocab_size: 32000,
  },
  Glm4MoeForCausalLM: {
    attention_bias: false, attention_dropout: 0.0, bos_token_id: null, eos_token_id: null, first_k_dense_replace: 1,
    // Not a Glm4MoeConfig field: its attention reads getattr(config, 'head_dim', hidden_size // heads).
    head_dim: null, hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02, intermediate_size: 10944,
    max_position_embeddings: 131072, moe_intermediate_size: 1408, n_group: 1, n_routed_experts: 128,
    n_shared_experts: 1, norm_topk_prob: true, num_attention_heads: 96, num_experts_per_tok: 8, num_hidden_layers: 46,
    num_key_value_heads: 8, num_nextn_predict_layers: 1, pad_token_id: null, partial_rotary_factor: 0.5,
    rms_norm_eps: 1e-5, rope_parameters: {partial_rotary_factor: 0.5, rope_theta: 10000.0, rope_type: 'default'},
    routed_scaling_factor: 1.0, tie_word_embeddings: false, topk_group: 1, use_cache: true, use_qk_norm: false,
    vocab_size: 151552,
  },
};

/** Fields a config.json may carry that are not model fields: replaced on export, never reported as dropped. */
const BOOKKEEPING = new Set(['architectures', 'model_type', 'dtype', 'torch_dtype', 'transformers_version',
                             '_name_or_path', 'rope_theta']);

/** Objects with their keys sorted, at every depth (transformers writes config.json with sort_keys). */
function sortedKeys(v: unknown): unknown {
  return v != null && typeof v === 'object' && !Array.isArray(v) ?
      Object.fromEntries(Object.keys(v).sort().map(k => [k, sortedKeys((v as Record<string, unknown>)[k])])) :
      v;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(sortedKeys(a)) === JSON.stringify(sortedKeys(b));

/** The rotary factor a Glm4Moe config asks for (rope_parameters first, as transformers 5 reads it). */
function partialRotaryFactor(config: TransformersConfig): number {
  const p = (config['rope_parameters'] ?? {}) as Record<string, unknown>;
  return (p['partial_rotary_factor'] ?? config['partial_rotary_factor'] ?? 0.5) as number;
}

export interface ExportedConfig {
  /** config.json's text (float fields written as floats, which transformers' strict configs need). */
  text: string;
  json: TransformersConfig;
  /** Fields of the sluice config that are not fields of the transformers class (left out). */
  dropped: string[];
}

/** config.json for a model of this config.json object (already checked by resolveLMConfig). */
export function exportConfig(config: TransformersConfig): ExportedConfig {
  const spec = resolveLMConfig(config);
  const arch = spec.architecture, glm = arch === 'Glm4MoeForCausalLM';
  const defaults = TRANSFORMERS_DEFAULTS[arch];
  const out: TransformersConfig = {architectures: [arch], model_type: MODEL_TYPE[arch], dtype: 'float32'};
  for (const [field, value] of Object.entries(defaults)) out[field] = config[field] !== undefined ? config[field] : value;
  Object.assign(out, {
    vocab_size: spec.vocabSize, hidden_size: spec.hiddenSize, num_hidden_layers: spec.numLayers,
    num_attention_heads: spec.numHeads, num_key_value_heads: spec.numKvHeads, head_dim: spec.headDim,
    rms_norm_eps: spec.rmsNormEps, tie_word_embeddings: spec.tieWordEmbeddings,
    max_position_embeddings: spec.maxPositions, num_experts_per_tok: spec.topK,
  });
  if (glm) {
    const factor = partialRotaryFactor(config);
    Object.assign(out, {
      moe_intermediate_size: spec.expertHidden, n_routed_experts: spec.numExperts, n_shared_experts: spec.sharedExperts,
      norm_topk_prob: spec.normalizeGates, routed_scaling_factor: spec.routedScalingFactor,
      first_k_dense_replace: spec.firstDenseLayers, attention_bias: spec.attentionBias, use_qk_norm: spec.qkNorm,
      n_group: 1, topk_group: 1, partial_rotary_factor: factor,
      rope_parameters: {rope_type: 'default', rope_theta: spec.ropeTheta, partial_rotary_factor: factor},
    });
    if (spec.firstDenseLayers > 0) out['intermediate_size'] = spec.denseHidden;
  } else {
    Object.assign(out, {intermediate_size: spec.expertHidden, num_local_experts: spec.numExperts,
                        rope_parameters: {rope_type: 'default', rope_theta: spec.ropeTheta}});
  }
  const dropped = Object.keys(config).filter(k => !(k in defaults) && !BOOKKEEPING.has(k)).sort();
  // What transformers will compute must be what sluice computed: the written config resolves to the same spec.
  const again: LMSpec = resolveLMConfig(out);
  if (!sameJson(again, spec)) {
    throw new Error(`exportConfig: the config.json written would compute another model (${JSON.stringify(again)} ` +
                    `instead of ${JSON.stringify(spec)}); this is a bug`);
  }
  return {text: transformersConfigJson(sortedKeys(out) as TransformersConfig), json: out, dropped};
}

/**
 * The model's config.json object for a config.json transformers wrote (or
 * any of these architectures): the file's fields, and transformers' default
 * for each field it leaves out. Checks architectures and model_type; the
 * caller resolves the result (resolveLMConfig names any field it rejects).
 */
export function importConfig(json: TransformersConfig): TransformersConfig {
  const arch = architectureOf(json);
  const out: TransformersConfig = {...json};
  for (const [field, value] of Object.entries(TRANSFORMERS_DEFAULTS[arch])) {
    if (out[field] !== undefined || field === 'rope_parameters') continue;
    out[field] = value;
  }
  if (out['rope_parameters'] === undefined) {
    // transformers 4 wrote rope_theta (and Glm4Moe's partial_rotary_factor) at the top level; 5 moves them here.
    const d = TRANSFORMERS_DEFAULTS[arch]['rope_parameters'] as Record<string, unknown>;
    const rope: Record<string, unknown> = {rope_type: 'default', rope_theta: json['rope_theta'] ?? d['rope_theta']};
    if (arch === 'Glm4MoeForCausalLM') rope['partial_rotary_factor'] = partialRotaryFactor(json);
    out['rope_parameters'] = rope;
  }
  return out;
}
