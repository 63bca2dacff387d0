"""sluice's mixtureOfExperts layer against transformers 5.17's MoE blocks, both ways.

Export: a sluice layer (random weights, a random selection bias where the target has one) is mapped to a
target's keys by exportTransformersWeights; those replace the MoE keys of a tiny model of the target
architecture that save_pretrained wrote (same key set and shapes required), from_pretrained loads it with
nothing missing, unexpected or mismatched, and the block's output on sluice's inputs equals sluice's.
Import: a tiny model made and saved by transformers is read by sluice (config.json -> layer config,
model.safetensors -> weights) and sluice's output equals the block's. Both for the per-expert layout
(save_pretrained's default) and the fused one (save_original_format=False).

Tolerance: max |sluice - transformers| <= 1e-4 * max |transformers| in float32.
"""
import json
import os
import unittest

import torch
import transformers
from safetensors.torch import load_file, save_file

import sluice_node as node

D, H, E, TOKENS = 8, 8, 4, 12
TOLERANCE = 1e-4
PREFIX = 'model.layers.0.'


def tiny_config(model_type, moe_fields):
    """A one-layer model of `model_type` whose layer 0 is the MoE block described by moe_fields."""
    common = dict(vocab_size=16, hidden_size=D, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                  max_position_embeddings=16, initializer_range=0.5)
    extra = {
        'mixtral': {},
        'qwen3_moe': dict(intermediate_size=16, head_dim=4),
        'olmoe': {},
        'glm4_moe': dict(intermediate_size=16, head_dim=4, first_k_dense_replace=0),
        'deepseek_v3': dict(intermediate_size=16, first_k_dense_replace=0, kv_lora_rank=4, q_lora_rank=None,
                            qk_rope_head_dim=2, qk_nope_head_dim=2, v_head_dim=4),
    }[model_type]
    fields = {k: v for k, v in moe_fields.items() if k != 'model_type'}
    return transformers.AutoConfig.for_model(model_type, **{**common, **extra, **fields})


def moe_keys(state):
    return {k: tuple(v.shape) for k, v in state.items()
            if k.startswith(PREFIX + 'mlp.') or k.startswith(PREFIX + 'block_sparse_moe.')}


def block_output(model, x):
    with torch.no_grad():
        return model.model.layers[0].mlp(x[None])[0]


NEGATIVE_BIAS = 'negative_bias'

def zero_masked_block_output(mlp, x):
    """DeepseekV3MoE's output had its group mask set the dropped groups' experts to 0, as transformers 4.x's
    DeepseekV3TopkRouter.get_topk_indices did (5.17's forward sets -inf)."""
    gate = mlp.gate
    with torch.no_grad():
        scores = torch.sigmoid(torch.nn.functional.linear(x, gate.weight))
        biased = scores + gate.e_score_correction_bias
        n, g = biased.shape[0], gate.num_group
        group_scores = biased.view(n, g, -1).topk(2, dim=-1)[0].sum(dim=-1)
        kept = torch.zeros_like(group_scores).scatter_(1, group_scores.topk(gate.topk_group, dim=-1)[1], 1).bool()
        kept = kept.unsqueeze(-1).expand(n, g, gate.num_experts // g).reshape(n, -1)
        indices = biased.masked_fill(~kept, 0.0).topk(gate.top_k, dim=-1)[1]
        weights = scores.gather(1, indices)
        if gate.norm_topk_prob:
            weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
        weights = weights * gate.routed_scaling_factor
        return mlp.experts(x, indices, weights) + mlp.shared_experts(x)


EXPORT_CASES = [
    ('mixtral', 'perExpert', dict(topK=2)),
    ('mixtral', 'fused', dict(topK=3)),
    ('qwen3_moe', 'perExpert', dict(topK=2)),
    ('qwen3_moe', 'fused', dict(topK=1)),
    ('olmoe', 'perExpert', dict(topK=2)),
    ('olmoe', 'fused', dict(topK=1)),
    ('glm4_moe', 'perExpert', dict(topK=2, scoring='sigmoid', sharedExperts=1)),
    ('glm4_moe', 'fused', dict(topK=1, scoring='sigmoid', sharedExperts=0)),
    ('deepseek_v3', 'perExpert', dict(topK=2, scoring='sigmoid', sharedExperts=2)),
    ('deepseek_v3', 'fused', dict(topK=3, scoring='sigmoid', sharedExperts=1)),
    # Mixtral renormalises at k = 1 too; Glm4Moe / DeepSeek-V3 with their own routing fields: norm_topk_prob off,
    # routed_scaling_factor, and group-limited routing (n_group 2, topk_group 1).
    ('mixtral', 'perExpert', dict(topK=1, normalizeGates=True), 'top1'),
    ('glm4_moe', 'fused', dict(topK=2, scoring='sigmoid', sharedExperts=1, normalizeGates=False,
                               routedScalingFactor=2.5, numGroups=2, topKGroups=1), 'routing'),
    ('deepseek_v3', 'perExpert', dict(topK=2, scoring='sigmoid', sharedExperts=1, routedScalingFactor=1.5,
                                      numGroups=2, topKGroups=1), 'routing'),
    # A selection bias near -2 makes every biased score negative: masking the dropped group's experts with -inf
    # (transformers 5.17, DeepSeek-V3's inference code, sluice) and with 0 (transformers 4.x) then choose
    # different experts, and the check below shows that they do.
    ('deepseek_v3', 'perExpert', dict(topK=2, scoring='sigmoid', sharedExperts=1, numGroups=2, topKGroups=1,
                                      biasOffset=-2.0), NEGATIVE_BIAS),
]


def case_name(target, layout, tag=''):
    return f'{target}_{layout}' + (f'_{tag}' if tag else '')


class SluiceToTransformers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('moe-export')
        cases = []
        for i, (target, layout, extra, *tag) in enumerate(EXPORT_CASES):
            extra = dict(extra)
            bias_offset = extra.pop('biasOffset', 0.0)
            config = dict(numExperts=E, units=D, hiddenUnits=H, activation='swiglu', router='topk', **extra)
            cases.append(dict(name=case_name(target, layout, *tag), target=target, layout=layout, config=config, hiddenSize=D,
                              tokens=TOKENS, seed=100 + i, biasScale=0.3 if extra.get('scoring') == 'sigmoid' else 0,
                              biasOffset=bias_offset))
        with open(os.path.join(cls.dir, 'cases.json'), 'w') as f:
            json.dump(cases, f)
        node.run('moe-export', os.path.join(cls.dir, 'cases.json'), cls.dir)

    def check(self, target, layout, tag=''):
        case = os.path.join(self.dir, case_name(target, layout, tag))
        moe = node.load_json(os.path.join(case, 'moe_config.json'))
        self.assertEqual(moe['model_type'], target)
        sluice = load_file(os.path.join(case, 'moe.safetensors'))
        io = load_file(os.path.join(case, 'io.safetensors'))
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(tiny_config(target, moe))
        out = os.path.join(case, 'checkpoint')
        model.save_pretrained(out, save_original_format=(layout == 'perExpert'))
        state = load_file(os.path.join(out, 'model.safetensors'))
        self.assertEqual(moe_keys(state), {k: tuple(v.shape) for k, v in sluice.items()},
                         'sluice\'s keys and shapes differ from what save_pretrained writes')
        state.update(sluice)
        save_file(state, os.path.join(out, 'model.safetensors'), metadata={'format': 'pt'})
        loaded, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
        self.assertEqual({k: v for k, v in info.items() if v}, {})
        y = block_output(loaded, io['x'])
        err = node.rel_max_error(io['y'], y)
        print(f'[{case_name(target, layout, tag)}: sluice -> transformers, max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE, f'{target} {layout}: relative error {err:.3g}')
        if tag == NEGATIVE_BIAS:
            mlp = loaded.model.layers[0].mlp
            with torch.no_grad():
                gate = mlp.gate
                scores = torch.sigmoid(torch.nn.functional.linear(io['x'], gate.weight))
                self.assertTrue(bool((scores + gate.e_score_correction_bias < 0).all()),
                                'the case needs every biased score negative')
            # transformers 4.x's mask (0, not -inf) would route elsewhere: the case tells the two apart.
            self.assertGreater(node.rel_max_error(io['y'], zero_masked_block_output(mlp, io['x'])), 1e-2)
        bias_key = PREFIX + 'mlp.gate.e_score_correction_bias'
        if bias_key in sluice:
            # The selection bias must matter here, or a dropped bias would go unnoticed.
            loaded.model.layers[0].mlp.gate.e_score_correction_bias.zero_()
            self.assertGreater(node.rel_max_error(io['y'], block_output(loaded, io['x'])), 1e-2)
        return err


for _target, _layout, _, *_tag in EXPORT_CASES:
    setattr(SluiceToTransformers, f'test_{case_name(_target, _layout, *_tag)}',
            lambda self, t=_target, l=_layout, g=(_tag or [''])[0]: self.check(t, l, g))


# transformers configs written by hand (not by sluice's transformersMoeConfig): the import reads them.
IMPORT_CASES = [
    ('mixtral', 'perExpert', dict(num_local_experts=E, num_experts_per_tok=2, intermediate_size=H)),
    ('mixtral', 'fused', dict(num_local_experts=E, num_experts_per_tok=2, intermediate_size=H)),
    ('qwen3_moe', 'perExpert', dict(num_experts=E, num_experts_per_tok=2, moe_intermediate_size=H, norm_topk_prob=True)),
    ('qwen3_moe', 'fused', dict(num_experts=E, num_experts_per_tok=1, moe_intermediate_size=H, norm_topk_prob=False)),
    ('olmoe', 'perExpert', dict(num_experts=E, num_experts_per_tok=2, intermediate_size=H, norm_topk_prob=True)),
    ('olmoe', 'fused', dict(num_experts=E, num_experts_per_tok=2, intermediate_size=H, norm_topk_prob=True)),
    ('glm4_moe', 'perExpert', dict(n_routed_experts=E, num_experts_per_tok=2, moe_intermediate_size=H,
                                   n_shared_experts=1, norm_topk_prob=True)),
    ('glm4_moe', 'fused', dict(n_routed_experts=E, num_experts_per_tok=2, moe_intermediate_size=H,
                               n_shared_experts=2, norm_topk_prob=True)),
    ('deepseek_v3', 'perExpert', dict(n_routed_experts=E, num_experts_per_tok=2, moe_intermediate_size=H,
                                      n_shared_experts=1, n_group=1, topk_group=1, routed_scaling_factor=1.0,
                                      norm_topk_prob=True)),
    ('deepseek_v3', 'fused', dict(n_routed_experts=E, num_experts_per_tok=1, moe_intermediate_size=H,
                                  n_shared_experts=1, n_group=2, topk_group=2, routed_scaling_factor=1.0,
                                  norm_topk_prob=False)),
    # DeepSeek-V3's and Glm4Moe's routing fields as their own configs set them (scaled, group-limited).
    ('deepseek_v3', 'fused', dict(n_routed_experts=E, num_experts_per_tok=2, moe_intermediate_size=H,
                                  n_shared_experts=1, n_group=2, topk_group=1, routed_scaling_factor=2.5,
                                  norm_topk_prob=True), 'routing'),
    ('glm4_moe', 'perExpert', dict(n_routed_experts=E, num_experts_per_tok=2, moe_intermediate_size=H,
                                   n_shared_experts=0, n_group=2, topk_group=1, routed_scaling_factor=1.8,
                                   norm_topk_prob=False), 'routing'),
]


class TransformersToSluice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('moe-import')
        cls.expected = {}
        cases = []
        for i, (target, layout, fields, *tag) in enumerate(IMPORT_CASES):
            name = case_name(target, layout, *tag)
            torch.manual_seed(200 + i)
            model = transformers.AutoModelForCausalLM.from_config(tiny_config(target, fields))
            gate = model.model.layers[0].mlp.gate
            if hasattr(gate, 'e_score_correction_bias'):
                gate.e_score_correction_bias.copy_(torch.randn(E) * 0.3)
            ckpt = os.path.join(cls.dir, name)
            model.save_pretrained(ckpt, save_original_format=(layout == 'perExpert'))
            x = torch.randn(TOKENS, D)
            cls.expected[name] = block_output(model, x)
            save_file({'x': x}, os.path.join(ckpt, 'io.safetensors'))
            cases.append(dict(name=name, dir=ckpt, io=os.path.join(ckpt, 'io.safetensors'),
                              out=os.path.join(ckpt, 'sluice_y.safetensors')))
        with open(os.path.join(cls.dir, 'cases.json'), 'w') as f:
            json.dump(cases, f)
        node.run('moe-import', os.path.join(cls.dir, 'cases.json'))

    def check(self, target, layout, tag=''):
        name = case_name(target, layout, tag)
        fused = any(k.endswith('experts.gate_up_proj') for k in load_file(os.path.join(self.dir, name, 'model.safetensors')))
        self.assertEqual(fused, layout == 'fused', 'the checkpoint is not in the layout this case tests')
        y = load_file(os.path.join(self.dir, name, 'sluice_y.safetensors'))['y']
        err = node.rel_max_error(y, self.expected[name])
        print(f'[{name}: transformers -> sluice, max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE, f'{name}: relative error {err:.3g}')


for _target, _layout, _, *_tag in IMPORT_CASES:
    setattr(TransformersToSluice, f'test_{case_name(_target, _layout, *_tag)}',
            lambda self, t=_target, l=_layout, g=(_tag or [''])[0]: self.check(t, l, g))


if __name__ == '__main__':
    unittest.main()
