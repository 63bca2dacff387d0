"""Writes the trainer suite's transformers fixtures: tiny MixtralForCausalLM and
Glm4MoeForCausalLM models with seeded random weights (every weight and the
e_score_correction_bias non-trivial), their state dicts, a batch of input ids
and the logits transformers computes (eager attention, float32, eval mode).
The trainer suite loads each state dict into sluice's model and compares logits.

    python3 -m venv .tmp/venv && .tmp/venv/bin/pip install --retries 0 torch transformers
    .tmp/venv/bin/python packages/demo/tools/transformers_fixture.py

Rerun only to regenerate; the fixtures are committed, so `npm test` needs no Python.
"""
import json
import os

import torch
import transformers
from transformers import Glm4MoeConfig, MixtralConfig

OUT = os.path.join(os.path.dirname(__file__), '..', 'src', 'trainer', 'testdata')

CASES = {
    'mixtral_tiny': (MixtralConfig, 'MixtralForCausalLM', dict(
        vocab_size=13, hidden_size=8, intermediate_size=6, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=4, num_local_experts=3, num_experts_per_tok=2, max_position_embeddings=16,
        rms_norm_eps=1e-5, tie_word_embeddings=False, rope_parameters={'rope_type': 'default', 'rope_theta': 1000.0})),
    'glm4_moe_tiny': (Glm4MoeConfig, 'Glm4MoeForCausalLM', dict(
        vocab_size=13, hidden_size=8, intermediate_size=10, moe_intermediate_size=4, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=6, n_routed_experts=5, num_experts_per_tok=3,
        n_shared_experts=2, routed_scaling_factor=1.7, norm_topk_prob=True, n_group=1, topk_group=1,
        first_k_dense_replace=1, use_qk_norm=True, attention_bias=True, tie_word_embeddings=False,
        max_position_embeddings=16, rms_norm_eps=1e-5,
        rope_parameters={'rope_type': 'default', 'rope_theta': 1000.0, 'partial_rotary_factor': 0.75})),
}


def randomize(model, seed=None):
    """Every weight non-trivial (norms near 1, Glm4Moe's e_score_correction_bias too), as a trained model's.
    Draws from torch's global generator, seeded first when `seed` is given. The python tests use it too."""
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if key.endswith('norm.weight'):
                tensor.copy_(1 + 0.3 * torch.randn_like(tensor))
            elif key.endswith('e_score_correction_bias'):
                tensor.copy_(0.3 * torch.randn_like(tensor))
            else:
                tensor.copy_(0.4 * torch.randn_like(tensor))


def make_tiny(config_class, fields, architecture, seed):
    """A transformers model of `architecture` (a class name, e.g. 'MixtralForCausalLM') from
    config_class(**fields), in eval mode with eager attention and experts (the modeling file's own loops:
    the reference), its weights randomized. Seeds torch's global generator with `seed` before the model
    is built, and draws its initial weights and then randomize()'s from it, in that order: the committed
    fixtures depend on it. The python tests use it too."""
    torch.manual_seed(seed)
    config = config_class(**fields)
    config.architectures = [architecture]
    config._attn_implementation = 'eager'
    config._experts_implementation = 'eager'  # the per-expert loop of the modeling file
    model = getattr(transformers, architecture)(config).eval()
    randomize(model)
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (config_class, architecture, fields) in CASES.items():
        model = make_tiny(config_class, fields, architecture, 7)
        config = model.config
        with torch.no_grad():
            ids = torch.randint(0, config.vocab_size, (2, 7), generator=torch.Generator().manual_seed(3))
            logits = model(input_ids=ids).logits
        state = {k: {'shape': list(v.shape), 'values': v.reshape(-1).tolist()} for k, v in model.state_dict().items()}
        fixture = {
            'transformers': transformers.__version__, 'torch': torch.__version__,
            'config': json.loads(config.to_json_string(use_diff=False)),
            'state_dict': state,
            'input_ids': ids.tolist(),
            'logits': logits.reshape(-1).tolist(),
        }
        with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
            json.dump(fixture, f)
        print(name, sorted(state)[:40], logits.shape)


if __name__ == '__main__':
    main()
