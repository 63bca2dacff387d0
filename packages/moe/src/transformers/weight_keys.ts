/**
 * The transformers keys of one MoE block, relative to its decoder layer's
 * prefix (e.g. `model.layers.0.`), with their shapes and where each comes
 * from in the sluice layer. transformers' Linear weights are [out, in]
 * (y = x·Wᵀ) and sluice's kernels [in, out] (y = x·W), so every matrix is
 * transposed; sluice's swiglu w1 holds [gate | up] halves along its last axis.
 */
import type {ResolvedConfig} from '../config';
import {ExpertLayout, TARGETS, TransformersTarget} from './targets';

/** The sluice weight a key comes from; `expert` and `half` select a slice of it. */
export interface KeySource {
  weight: 'router'|'experts_w1'|'experts_w2'|'shared_w1'|'shared_w2'|'selection_bias';
  /** Per-expert layout: the expert's slice [j] of a stacked weight. */
  expert?: number;
  /** swiglu w1: the gate (first) or the up (second) half of the last axis. */
  half?: 'gate'|'up';
}

export interface KeySpec {
  key: string;
  shape: number[];
  from: KeySource;
}

/** Every key the block has in `layout`, in a fixed order (router, bias, experts, shared experts). */
export function weightKeys(cfg: ResolvedConfig, hiddenSize: number, target: TransformersTarget,
                           layout: ExpertLayout, prefix: string): KeySpec[] {
  const spec = TARGETS[target];
  const {numExperts: e, hiddenUnits: h, sharedExperts: s} = cfg;
  const d = hiddenSize;
  const m = `${prefix}${spec.module[layout]}.`;
  const keys: KeySpec[] = [{key: `${m}gate.weight`, shape: [e, d], from: {weight: 'router'}}];
  if (spec.deepseekStyle) {
    keys.push({key: `${m}gate.e_score_correction_bias`, shape: [e], from: {weight: 'selection_bias'}});
  }
  if (layout === 'fused') {
    keys.push({key: `${m}experts.gate_up_proj`, shape: [e, 2 * h, d], from: {weight: 'experts_w1'}},
              {key: `${m}experts.down_proj`, shape: [e, d, h], from: {weight: 'experts_w2'}});
  } else {
    for (let j = 0; j < e; ++j) {
      keys.push({key: `${m}experts.${j}.${spec.gate}.weight`, shape: [h, d], from: {weight: 'experts_w1', expert: j, half: 'gate'}},
                {key: `${m}experts.${j}.${spec.up}.weight`, shape: [h, d], from: {weight: 'experts_w1', expert: j, half: 'up'}},
                {key: `${m}experts.${j}.${spec.down}.weight`, shape: [d, h], from: {weight: 'experts_w2', expert: j}});
    }
  }
  if (spec.deepseekStyle) {
    // Always present in these blocks; n_shared_experts = 0 gives empty [0, D] / [D, 0] weights.
    keys.push({key: `${m}shared_experts.gate_proj.weight`, shape: [s * h, d], from: {weight: 'shared_w1', half: 'gate'}},
              {key: `${m}shared_experts.up_proj.weight`, shape: [s * h, d], from: {weight: 'shared_w1', half: 'up'}},
              {key: `${m}shared_experts.down_proj.weight`, shape: [d, s * h], from: {weight: 'shared_w2'}});
  }
  return keys;
}

/** The module prefixes under which a block's keys of `target` may appear (both layouts). */
export function modulePrefixes(target: TransformersTarget, prefix: string): string[] {
  const {perExpert, fused} = TARGETS[target].module;
  return [...new Set([perExpert, fused])].map(m => `${prefix}${m}.`);
}
