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
]


class SluiceToTransformers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('moe-export')
        cases = []
        for i, (target, layout, extra) in enumerate(EXPORT_CASES):
            config = dict(numExperts=E, units=D, hiddenUnits=H, activation='swiglu', router='topk', **extra)
            cases.append(dict(name=f'{target}_{layout}', target=target, layout=layout, config=config, hiddenSize=D,
                              tokens=TOKENS, seed=100 + i, biasScale=0.3 if extra.get('scoring') == 'sigmoid' else 0))
        with open(os.path.join(cls.dir, 'cases.json'), 'w') as f:
            json.dump(cases, f)
        node.run('moe-export', os.path.join(cls.dir, 'cases.json'), cls.dir)

    def check(self, target, layout):
        case = os.path.join(self.dir, f'{target}_{layout}')
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
        print(f'[{target} {layout}: sluice -> transformers, max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE, f'{target} {layout}: relative error {err:.3g}')
        bias_key = PREFIX + 'mlp.gate.e_score_correction_bias'
        if bias_key in sluice:
            # The selection bias must matter here, or a dropped bias would go unnoticed.
            loaded.model.layers[0].mlp.gate.e_score_correction_bias.zero_()
            self.assertGreater(node.rel_max_error(io['y'], block_output(loaded, io['x'])), 1e-2)
        return err


for _target, _layout, _ in EXPORT_CASES:
    setattr(SluiceToTransformers, f'test_{_target}_{_layout}',
            lambda self, t=_target, l=_layout: self.check(t, l))


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
]


class TransformersToSluice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('moe-import')
        cls.expected = {}
        cases = []
        for i, (target, layout, fields) in enumerate(IMPORT_CASES):
            name = f'{target}_{layout}'
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

    def check(self, target, layout):
        name = f'{target}_{layout}'
        fused = any(k.endswith('experts.gate_up_proj') for k in load_file(os.path.join(self.dir, name, 'model.safetensors')))
        self.assertEqual(fused, layout == 'fused', 'the checkpoint is not in the layout this case tests')
        y = load_file(os.path.join(self.dir, name, 'sluice_y.safetensors'))['y']
        err = node.rel_max_error(y, self.expected[name])
        print(f'[{name}: transformers -> sluice, max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE, f'{name}: relative error {err:.3g}')


for _target, _layout, _ in IMPORT_CASES:
    setattr(TransformersToSluice, f'test_{_target}_{_layout}',
            lambda self, t=_target, l=_layout: self.check(t, l))


if __name__ == '__main__':
    unittest.main()
