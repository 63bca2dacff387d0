/**
 * The model's configuration is a transformers `config.json` object (the same
 * field names as transformers' MixtralConfig and Glm4MoeConfig), so it can be
 * written beside exported weights and read back. `resolveLMConfig` checks it
 * and turns it into the shapes and constants the model computes with; a value
 * the model cannot compute exactly as transformers does is rejected, naming
 * the field, the expected and the actual value.
 */
import {fail} from '@sluice/core/internal';

/** A transformers config.json object. */
export type TransformersConfig = Record<string, unknown>;

export type Architecture = 'MixtralForCausalLM'|'Glm4MoeForCausalLM';

const MODEL_TYPE: Record<Architecture, string> = {MixtralForCausalLM: 'mixtral', Glm4MoeForCausalLM: 'glm4_moe'};

/** What the model computes with, resolved from a config.json object. */
export interface LMSpec {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Leading dims of each head that rotate (head_dim · partial_rotary_factor); the rest pass through. */
  rotaryDim: number;
  ropeTheta: number;
  rmsNormEps: number;
  numExperts: number;
  topK: number;
  /** Hidden size of each routed expert (and of each shared expert). */
  expertHidden: number;
  /** Hidden size of the dense SwiGLU MLP of the first `firstDenseLayers` layers (Glm4Moe). */
  denseHidden: number;
  firstDenseLayers: number;
  sharedExperts: number;
  scoring: 'softmax'|'sigmoid';
  normalizeGates: boolean;
  routedScalingFactor: number;
  /** Aux-loss-free selection bias (Glm4Moe's `e_score_correction_bias`). */
  selectionBias: boolean;
  attentionBias: boolean;
  qkNorm: boolean;
  tieWordEmbeddings: boolean;
  maxPositions: number;
}

/** A small Mixtral for the demo: every field transformers' MixtralConfig writes that the model reads. */
export function mixtralConfig(overrides: TransformersConfig = {}): TransformersConfig {
  return {
    architectures: ['MixtralForCausalLM'],
    model_type: 'mixtral',
    vocab_size: 50257,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    hidden_act: 'silu',
    max_position_embeddings: 64,
    initializer_range: 0.02,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
    sliding_window: null,
    attention_dropout: 0.0,
    num_experts_per_tok: 2,
    num_local_experts: 4,
    router_jitter_noise: 0.0,
    router_aux_loss_coef: 0.001,
    rope_parameters: {rope_type: 'default', rope_theta: 10000.0},
    bos_token_id: 50256,
    eos_token_id: 50256,
    ...overrides,
  };
}

/**
 * A small Glm4Moe: sigmoid routing with the aux-loss-free selection bias,
 * renormalised gates scaled by routed_scaling_factor, one shared expert, a
 * dense first layer, partial rotary embeddings and biased q/k/v projections.
 */
export function glm4MoeConfig(overrides: TransformersConfig = {}): TransformersConfig {
  return {
    architectures: ['Glm4MoeForCausalLM'],
    model_type: 'glm4_moe',
    vocab_size: 50257,
    hidden_size: 64,
    intermediate_size: 128,
    moe_intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    hidden_act: 'silu',
    max_position_embeddings: 64,
    initializer_range: 0.02,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
    attention_bias: true,
    attention_dropout: 0.0,
    num_experts_per_tok: 2,
    n_routed_experts: 8,
    n_shared_experts: 1,
    routed_scaling_factor: 2.5,
    norm_topk_prob: true,
    n_group: 1,
    topk_group: 1,
    first_k_dense_replace: 1,
    use_qk_norm: false,
    num_nextn_predict_layers: 0,
    rope_parameters: {rope_type: 'default', rope_theta: 10000.0, partial_rotary_factor: 0.5},
    bos_token_id: 50256,
    eos_token_id: 50256,
    ...overrides,
  };
}

export const PRESETS: Record<string, () => TransformersConfig> = {mixtral: mixtralConfig, glm4_moe: glm4MoeConfig};

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : v === undefined ? 'undefined' : JSON.stringify(v));

class Reader {
  constructor(readonly where: string, readonly config: TransformersConfig) {}

  fail(field: string, expected: string, actual: unknown = this.config[field]): never {
    fail(this.where, field, expected, show(actual));
  }

  int(field: string, min: number, fallback?: number): number {
    const v = this.config[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, 'an integer');
    if (v < min) this.fail(field, `an integer >= ${min}`);
    return v;
  }

  positive(field: string, v: unknown = this.config[field]): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(field, 'a finite number > 0', v);
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.config[field] ?? fallback;
    if (typeof v !== 'boolean') this.fail(field, 'true or false');
    return v;
  }

  /** Fields that change training but that this model does not compute must keep their no-op value. */
  only(field: string, allowed: unknown[], why: string) {
    const v = this.config[field];
    if (v !== undefined && !allowed.some(a => a === v)) {
      this.fail(field, `${allowed.map(show).join(' or ')} (${why})`);
    }
  }
}

function architectureOf(config: TransformersConfig): Architecture {
  if (config == null || typeof config !== 'object' || Array.isArray(config)) {
    fail('config.json', 'config', 'an object', show(config));
  }
  const archs = config['architectures'];
  const known = Object.keys(MODEL_TYPE) as Architecture[];
  if (!Array.isArray(archs) || archs.length !== 1 || !known.includes(archs[0])) {
    fail('config.json', 'architectures', `[${known.map(a => `'${a}'`).join('] or [')}]`, show(archs));
  }
  const arch = archs[0] as Architecture;
  if (config['model_type'] !== MODEL_TYPE[arch]) {
    fail('config.json', 'model_type', `'${MODEL_TYPE[arch]}' (architectures is ${arch})`, show(config['model_type']));
  }
  return arch;
}

/** rope_parameters as transformers 5 writes it, or the older top-level rope_theta / partial_rotary_factor. */
function rope(r: Reader, headDim: number, partial: boolean): {theta: number, rotaryDim: number} {
  const params = r.config['rope_parameters'] ?? {};
  if (typeof params !== 'object' || params == null) r.fail('rope_parameters', 'an object');
  const p = params as Record<string, unknown>;
  if ((p['rope_type'] ?? 'default') !== 'default') {
    r.fail('rope_parameters.rope_type', `'default' (scaled RoPE variants are not implemented)`, p['rope_type']);
  }
  if (r.config['rope_scaling'] != null) r.fail('rope_scaling', 'null (scaled RoPE variants are not implemented)');
  const theta = r.positive(p['rope_theta'] !== undefined ? 'rope_parameters.rope_theta' : 'rope_theta',
                           p['rope_theta'] ?? r.config['rope_theta'] ?? 10000);
  let rotaryDim = headDim;
  if (partial) {
    const field = p['partial_rotary_factor'] !== undefined ? 'rope_parameters.partial_rotary_factor' :
                                                             'partial_rotary_factor';
    const factor = r.positive(field, p['partial_rotary_factor'] ?? r.config['partial_rotary_factor'] ?? 0.5);
    if (factor > 1) r.fail(field, 'in (0, 1]', factor);
    rotaryDim = Math.floor(headDim * factor);  // transformers: int(head_dim * partial_rotary_factor)
    if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
      r.fail(field, `a factor that makes int(head_dim · factor) even and >= 2 (head_dim ${headDim} gives ` +
             `${rotaryDim}; rotate_half splits the rotary dims in two halves)`, factor);
    }
  } else if (headDim % 2 !== 0) {
    r.fail('head_dim', 'even (rotate_half splits each head in two halves)', headDim);
  }
  return {theta, rotaryDim};
}

export function resolveLMConfig(config: TransformersConfig): LMSpec {
  const architecture = architectureOf(config);
  const glm = architecture === 'Glm4MoeForCausalLM';
  const r = new Reader(`${architecture} config`, config);
  const vocabSize = r.int('vocab_size', 1);
  const hiddenSize = r.int('hidden_size', 1);
  const numLayers = r.int('num_hidden_layers', 1);
  const numHeads = r.int('num_attention_heads', 1);
  const numKvHeads = r.int('num_key_value_heads', 1, numHeads);
  if (numHeads % numKvHeads !== 0) {
    r.fail('num_key_value_heads', `a divisor of num_attention_heads (${numHeads})`);
  }
  let headDim: number;
  if (config['head_dim'] == null) {
    if (hiddenSize % numHeads !== 0) {
      r.fail('num_attention_heads', `a divisor of hidden_size (${hiddenSize}) when head_dim is not given`);
    }
    headDim = hiddenSize / numHeads;
  } else {
    headDim = r.int('head_dim', 1);
  }
  const {theta, rotaryDim} = rope(r, headDim, glm);
  const numExperts = r.int(glm ? 'n_routed_experts' : 'num_local_experts', 1);
  const topK = r.int('num_experts_per_tok', 1);
  if (topK > numExperts) {
    r.fail('num_experts_per_tok', `<= ${glm ? 'n_routed_experts' : 'num_local_experts'} (${numExperts})`);
  }
  r.only('hidden_act', ['silu'], 'the experts are SwiGLU');
  r.only('attention_dropout', [0], 'dropout is not implemented');
  r.only('mlp_bias', [false], 'the MLPs have no biases');
  const spec: LMSpec = {
    architecture, vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, headDim, rotaryDim, ropeTheta: theta,
    rmsNormEps: r.positive('rms_norm_eps'),
    numExperts, topK,
    expertHidden: r.int(glm ? 'moe_intermediate_size' : 'intermediate_size', 1),
    denseHidden: 0, firstDenseLayers: 0, sharedExperts: 0,
    scoring: glm ? 'sigmoid' : 'softmax',
    // Mixtral always renormalises the top-k softmax probabilities, also at k = 1.
    normalizeGates: true,
    routedScalingFactor: 1,
    selectionBias: glm,
    attentionBias: false, qkNorm: false,
    tieWordEmbeddings: r.bool('tie_word_embeddings', false),
    maxPositions: r.int('max_position_embeddings', 1),
  };
  if (!glm) {
    r.only('router_jitter_noise', [0], 'training-time jitter is not implemented');
    const window = config['sliding_window'];
    if (window != null && !(typeof window === 'number' && window >= spec.maxPositions)) {
      r.fail('sliding_window', `null or >= max_position_embeddings (${spec.maxPositions}): sliding-window ` +
             'attention is not implemented');
    }
    return spec;
  }
  if (numExperts < 2) {
    r.fail('n_routed_experts', 'an integer >= 2 (Glm4Moe scores each expert group by its top-2 experts)');
  }
  const groups = r.int('n_group', 1, 1), topKGroups = r.int('topk_group', 1, 1);
  if (groups !== 1) r.fail('n_group', '1 (group-limited routing is not in this MoE layer yet)');
  if (topKGroups !== 1) r.fail('topk_group', '1 (group-limited routing is not in this MoE layer yet)');
  spec.sharedExperts = r.int('n_shared_experts', 0, 1);
  spec.normalizeGates = r.bool('norm_topk_prob', true);
  spec.routedScalingFactor = r.positive('routed_scaling_factor', config['routed_scaling_factor'] ?? 1);
  spec.firstDenseLayers = r.int('first_k_dense_replace', 0, 1);
  if (spec.firstDenseLayers > numLayers) {
    r.fail('first_k_dense_replace', `<= num_hidden_layers (${numLayers})`);
  }
  spec.denseHidden = spec.firstDenseLayers > 0 ? r.int('intermediate_size', 1) : 0;
  spec.attentionBias = r.bool('attention_bias', false);
  spec.qkNorm = r.bool('use_qk_norm', false);
  return spec;
}
