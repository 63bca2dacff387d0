/**
 * The transformers 5.17 MoE blocks a `mixtureOfExperts` layer maps to, and
 * what each can express. All of them are dropless top-k routers over gated
 * SiLU experts without biases (`down(silu(gate(x)) · up(x))`), mapping the
 * hidden size to itself:
 *
 * - mixtral (MixtralSparseMoeBlock): softmax over all experts, top-k, gates
 *   always renormalised to sum 1;
 * - qwen3_moe (Qwen3MoeSparseMoeBlock) and olmoe (OlmoeSparseMoeBlock):
 *   softmax, top-k, renormalised when `norm_topk_prob`;
 * - glm4_moe (Glm4MoeMoE) and deepseek_v3 (DeepseekV3MoE): sigmoid scores,
 *   `e_score_correction_bias` added for the choice only, group-limited
 *   routing (`n_group`, `topk_group`), renormalised when `norm_topk_prob`,
 *   times `routed_scaling_factor`, plus `n_shared_experts` always-on experts.
 *
 * sluice's top-k router renormalises exactly when k > 1, so `norm_topk_prob`
 * maps to topK > 1; Mixtral (always renormalised) needs topK >= 2.
 */
import {fail} from '@sluice/core/internal';

import type {ResolvedConfig, Scoring} from '../config';

export type TransformersTarget = 'mixtral'|'qwen3_moe'|'olmoe'|'glm4_moe'|'deepseek_v3';
export const TRANSFORMERS_TARGETS: readonly TransformersTarget[] =
    ['mixtral', 'qwen3_moe', 'olmoe', 'glm4_moe', 'deepseek_v3'];

/**
 * 'perExpert': one Linear per expert and projection, what `save_pretrained`
 * writes by default (save_original_format=True) and every transformers
 * version reads; 'fused': v5's stacked `experts.gate_up_proj` [E, 2H, D] and
 * `experts.down_proj` [E, D, H], the modules' own parameters
 * (`save_pretrained(save_original_format=False)`). `from_pretrained` accepts both.
 */
export type ExpertLayout = 'perExpert'|'fused';

export interface TargetSpec {
  /** The block's module under a decoder layer, per layout (Mixtral's per-expert checkpoints say block_sparse_moe). */
  module: Record<ExpertLayout, string>;
  /** Per-expert Linear names of the gate, up and down projections. */
  gate: string;
  up: string;
  down: string;
  scoring: Scoring;
  /** Has `gate.e_score_correction_bias` and shared experts (the DeepSeek-V3 block). */
  deepseekStyle: boolean;
}

export const TARGETS: Readonly<Record<TransformersTarget, TargetSpec>> = {
  mixtral: {module: {perExpert: 'block_sparse_moe', fused: 'mlp'}, gate: 'w1', up: 'w3', down: 'w2',
            scoring: 'softmax', deepseekStyle: false},
  qwen3_moe: {module: {perExpert: 'mlp', fused: 'mlp'}, gate: 'gate_proj', up: 'up_proj', down: 'down_proj',
              scoring: 'softmax', deepseekStyle: false},
  olmoe: {module: {perExpert: 'mlp', fused: 'mlp'}, gate: 'gate_proj', up: 'up_proj', down: 'down_proj',
          scoring: 'softmax', deepseekStyle: false},
  glm4_moe: {module: {perExpert: 'mlp', fused: 'mlp'}, gate: 'gate_proj', up: 'up_proj', down: 'down_proj',
             scoring: 'sigmoid', deepseekStyle: true},
  deepseek_v3: {module: {perExpert: 'mlp', fused: 'mlp'}, gate: 'gate_proj', up: 'up_proj', down: 'down_proj',
                scoring: 'sigmoid', deepseekStyle: true},
};

export function targetSpec(op: string, target: unknown): TargetSpec {
  if (typeof target !== 'string' || !(TRANSFORMERS_TARGETS as readonly string[]).includes(target)) {
    fail(op, 'target', `one of ${TRANSFORMERS_TARGETS.map(t => `'${t}'`).join(', ')}`, JSON.stringify(target));
  }
  return TARGETS[target as TransformersTarget];
}

/**
 * Throws, naming the field, when the target cannot compute what this layer
 * computes. `hiddenSize` is the layer's input feature size D.
 */
export function checkExpressible(op: string, cfg: ResolvedConfig, hiddenSize: number, target: TransformersTarget) {
  const spec = TARGETS[target];
  const on = `for target '${target}'`;
  if (cfg.router !== 'topk') fail(op, 'config.router', `'topk' ${on} (its router is a top-k over scores)`, `'${cfg.router}'`);
  if (cfg.activation !== 'swiglu') {
    fail(op, 'config.activation', `'swiglu' ${on} (its experts are gated SiLU MLPs)`, `'${cfg.activation}'`);
  }
  if (cfg.capacityFactor !== 0) {
    fail(op, 'config.capacityFactor', `0 (dropless) ${on}, which never drops tokens`, String(cfg.capacityFactor));
  }
  if (cfg.scoring !== spec.scoring) {
    fail(op, 'config.scoring', `'${spec.scoring}' ${on}`, `'${cfg.scoring}'`);
  }
  if (cfg.units !== hiddenSize) {
    fail(op, 'config.units', `the input size ${hiddenSize} ${on} (its block maps the hidden size to itself)`,
         String(cfg.units));
  }
  if (!spec.deepseekStyle && cfg.sharedExperts !== 0) {
    fail(op, 'config.sharedExperts', `0 ${on} (it has no shared experts; glm4_moe and deepseek_v3 do)`,
         String(cfg.sharedExperts));
  }
  if (target === 'mixtral' && cfg.topK < 2) {
    fail(op, 'config.topK', `>= 2 ${on} (Mixtral renormalises the chosen gates to sum 1, sluice does so for ` +
         'topK > 1 only; qwen3_moe expresses topK 1)', String(cfg.topK));
  }
  if (spec.deepseekStyle && cfg.numExperts < 2) {
    fail(op, 'config.numExperts', `>= 2 ${on} (its group scores take the top 2 experts of a group)`,
         String(cfg.numExperts));
  }
}
