"""The main-job model (packages/demo) in and out of transformers 5.17: npm run export / import proven in PyTorch.

ExportedModel: sluice checkpoints of both presets (seeded random weights, every weight non-trivial, Glm4Moe's
  selection bias too) exported by `npm run export`'s code (Mixtral per expert, Glm4Moe fused) load with
  from_pretrained with nothing missing, unexpected or mismatched;
  (a) their logits equal sluice's on the same ids: max |sluice - transformers| <= 1e-4 * max |transformers|;
  (b) transformers' loss with labels equals sluice's fused linearCrossEntropy loss to 1e-5 relative;
  (c) AutoTokenizer of the exported folder encodes corpus samples to the trainer's ids.
TransformersMade (d): models transformers makes (the fixture writer's make_tiny: random weights, save_pretrained; both
  architectures, both expert layouts) imported by `npm run import`'s code give transformers' logits in sluice.
ContinuedTraining (e): a short run of the trainer (npm start), exported; `torchrun --nproc_per_node 2` (gloo,
  CPU) runs DDP steps with packages/demo/tools/continue_training.py; its validation loss before the first step,
  on the trainer's validation batches, equals the trainer's last one within 1e-4 relative (same float32
  weights and batches: only the order of float operations differs); the saved result imports back, its logits
  in sluice match transformers' to 1e-4, and `npm start -- --resume` trains on from it.
"""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

import torch
import transformers
from safetensors.torch import load_file

import sluice_node as node

sys.path.insert(0, os.path.join(node.ROOT, 'packages', 'demo', 'tools'))
from transformers_fixture import make_tiny  # noqa: E402 (the demo's fixture writer: one model recipe)

TOLERANCE = 1e-4
LOSS_TOLERANCE = 1e-5
# GPT-2's vocabulary (the exported tokenizer's) and layers a few units wide (multiples of 4: transformers'
# CPU expert kernels need 16-byte strides in float32).
FIELDS = {
    'mixtral': dict(hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                    num_key_value_heads=1, head_dim=8, num_local_experts=4, num_experts_per_tok=2,
                    max_position_embeddings=32),
    'glm4_moe': dict(hidden_size=16, intermediate_size=24, moe_intermediate_size=8, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=1, head_dim=8, n_routed_experts=4,
                     num_experts_per_tok=2, n_shared_experts=1, tie_word_embeddings=False,
                     max_position_embeddings=32),
}
LAYOUT = {'mixtral': 'perExpert', 'glm4_moe': 'fused'}


def free_port():
    """A port no one listens on now (the machine is shared: a fixed rendezvous port could be taken)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_json(path, value):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(value, f)
    return path


def random_ids(vocab, seed, shape=(2, 12)):
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


def load(folder):
    model, info = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                                    output_loading_info=True)
    return model.eval(), {k: v for k, v in info.items() if v}


def sluice_eval(checkpoint, ids, where):
    """sluice's logits [B, T, V] of ids and its fused loss of ids[:, :-1] -> ids[:, 1:]."""
    ids_file = write_json(os.path.join(where, 'ids.json'), ids.tolist())
    out = os.path.join(where, 'sluice_eval.safetensors')
    node.run('lm-eval', checkpoint, ids_file, out)
    t = load_file(out)
    return t['logits'], t['loss'].item()


class ExportedModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('lm-export')
        cls.ids = random_ids(50257, 11)
        cls.cases = {}
        for i, (preset, fields) in enumerate(FIELDS.items()):
            where = os.path.join(cls.dir, preset)
            os.makedirs(where)
            checkpoint = os.path.join(where, 'checkpoint.bin')
            fields_file = write_json(os.path.join(where, 'fields.json'), fields)
            node.run('lm-random', preset, fields_file, str(40 + i), checkpoint)
            folder = os.path.join(where, 'hf')
            node.run('demo', 'export', '--from', checkpoint, '--to', folder, '--layout', LAYOUT[preset])
            logits, loss = sluice_eval(checkpoint, cls.ids, where)
            model, problems = load(folder)
            cls.cases[preset] = dict(folder=folder, logits=logits, loss=loss, model=model, problems=problems)

    def check_loads(self, preset):
        c = self.cases[preset]
        self.assertEqual(c['problems'], {}, 'from_pretrained reported missing, unexpected or mismatched keys')
        self.assertEqual(type(c['model']).__name__, {'mixtral': 'MixtralForCausalLM',
                                                      'glm4_moe': 'Glm4MoeForCausalLM'}[preset])

    def check_logits(self, preset):
        c = self.cases[preset]
        with torch.no_grad():
            theirs = c['model'](input_ids=self.ids).logits
        err = node.rel_max_error(c['logits'], theirs)
        print(f'[{preset}: logits max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE)

    def check_loss(self, preset):
        c = self.cases[preset]
        with torch.no_grad():
            theirs = c['model'](input_ids=self.ids, labels=self.ids).loss.item()
        rel = abs(theirs - c['loss']) / abs(theirs)
        print(f'[{preset}: loss transformers {theirs:.6f} sluice {c["loss"]:.6f}, rel {rel:.2g}] ', end='', flush=True)
        self.assertLessEqual(rel, LOSS_TOLERANCE)

    def test_tokenizer_encodes_as_the_trainer(self):
        folder = self.cases['mixtral']['folder']
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        self.assertTrue(tokenizer.is_fast)
        node.run('lm-tokenize', os.path.join(self.dir, 'tokens.json'))
        samples = node.load_json(os.path.join(self.dir, 'tokens.json'))
        total = 0
        for s in samples:
            # The trainer reads '<|endoftext|>' in text as plain text; transformers, as GPT-2's tokenizer does, as
            # the special token 50256 unless split_special_tokens=True (Moby-Dick has none).
            plain = '<|endoftext|>' in s['text']
            ids = tokenizer(s['text'], add_special_tokens=False, split_special_tokens=plain)['input_ids']
            self.assertEqual(ids, s['ids'], f'ids differ on {s["text"][:60]!r}')
            if plain:
                self.assertIn(50256, tokenizer(s['text'], add_special_tokens=False)['input_ids'])
            self.assertEqual(tokenizer.decode(ids), s['text'])
            total += len(ids)
        print(f'[{len(samples)} samples, {total} tokens equal] ', end='', flush=True)


for _preset in FIELDS:
    for _what in ('loads', 'logits', 'loss'):
        setattr(ExportedModel, f'test_{_preset}_{_what}',
                lambda self, p=_preset, w=_what: getattr(self, f'check_{w}')(p))


# transformers configs of small vocabularies (import does not need GPT-2's; the trainer would).
MADE = {
    'mixtral': (transformers.MixtralConfig, 'MixtralForCausalLM', dict(
        vocab_size=96, hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=4, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=32,
        rope_parameters={'rope_type': 'default', 'rope_theta': 1000.0}), True),
    'glm4_moe': (transformers.Glm4MoeConfig, 'Glm4MoeForCausalLM', dict(
        vocab_size=96, hidden_size=16, intermediate_size=24, moe_intermediate_size=8, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, n_routed_experts=4, num_experts_per_tok=2,
        n_shared_experts=1, routed_scaling_factor=1.5, first_k_dense_replace=1, use_qk_norm=True, attention_bias=True,
        max_position_embeddings=32), False),
}


class TransformersMade(unittest.TestCase):
    """(d) save_pretrained's folders (Mixtral per expert, Glm4Moe fused) imported: transformers' logits in sluice."""

    def check(self, name):
        config_class, architecture, fields, original_format = MADE[name]
        where = node.temp_dir(f'lm-import-{name}')
        model = make_tiny(config_class, fields, architecture, 70)
        folder = os.path.join(where, 'hf')
        model.save_pretrained(folder, save_original_format=original_format)
        keys = load_file(os.path.join(folder, 'model.safetensors')).keys()
        fused = any(k.endswith('mlp.experts.gate_up_proj') for k in keys)
        self.assertEqual(fused, not original_format, f'save_pretrained wrote other expert keys: {sorted(keys)[:8]}')
        checkpoint = os.path.join(where, 'checkpoint.bin')
        node.run('demo', 'import', '--from', folder, '--to', checkpoint)
        ids = random_ids(96, 12)
        logits, _ = sluice_eval(checkpoint, ids, where)
        with torch.no_grad():
            theirs = model(input_ids=ids).logits
        err = node.rel_max_error(logits, theirs)
        print(f'[{name}: logits max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE)

    def test_mixtral_per_expert(self):
        self.check('mixtral')

    def test_glm4_moe_fused(self):
        self.check('glm4_moe')


SCRIPT = os.path.join(node.ROOT, 'packages', 'demo', 'tools', 'continue_training.py')
TRAIN = ['--steps', '4', '--batch', '2', '--context', '16', '--eval-every', '2', '--sample-tokens', '0']


def checkpoint_header(path):
    """The JSON header of a trainer checkpoint (packages/demo/src/trainer/checkpoint.ts: magic, u32 length, JSON)."""
    with open(path, 'rb') as f:
        data = f.read()
    magic = b'SLUICE-CKPT-1\n'
    assert data.startswith(magic), f'{path} is not a trainer checkpoint'
    n = int.from_bytes(data[len(magic):len(magic) + 4], 'little')
    return json.loads(data[len(magic) + 4:len(magic) + 4 + n])


def npm_start(args, where):
    """The trainer as `npm start` runs it (scripts/start.mjs); its output."""
    r = subprocess.run([node.NODE, os.path.join(node.ROOT, 'scripts', 'start.mjs'), *args,
                        '--report', os.path.join(where, 'report.html')],
                       cwd=node.ROOT, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f'npm start {" ".join(args)} failed ({r.returncode}):\n'
                           f'{r.stdout[-3000:]}\n{r.stderr[-3000:]}')
    return r.stdout


class ContinuedTraining(unittest.TestCase):
    """(e) sluice trains, exports; torchrun continues with DDP on 2 CPU ranks; the result imports back."""

    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('lm-continue')
        cls.timings = {}
        started = time.time()
        checkpoint = os.path.join(cls.dir, 'sluice.bin')
        sets = [x for k, v in FIELDS['glm4_moe'].items() for x in ('--set', f'{k}={json.dumps(v)}')]
        npm_start(['--preset', 'glm4_moe', *sets, *TRAIN, '--checkpoint', checkpoint], cls.dir)
        cls.checkpoint = checkpoint
        cls.timings['sluice train'] = time.time() - started
        cls.exported = os.path.join(cls.dir, 'hf')
        node.run('demo', 'export', '--from', checkpoint, '--to', cls.exported)
        cls.validation = node.load_json(os.path.join(cls.exported, 'sluice_validation.json'))
        cls.trained = os.path.join(cls.dir, 'hf-trained')
        report = os.path.join(cls.dir, 'torchrun.json')
        started = time.time()
        r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port',
                            str(free_port()), SCRIPT,
                            '--model', cls.exported, '--out', cls.trained, '--steps', '3', '--batch', '2',
                            '--context', '16', '--lr', '3e-3', '--report', report],
                           cwd=node.ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, 'OMP_NUM_THREADS': '1'})
        cls.timings['torchrun'] = time.time() - started
        if r.returncode != 0:
            raise RuntimeError(f'torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-4000:]}')
        cls.torchrun_out = r.stdout
        cls.report = node.load_json(report)

    def test_loss_starts_where_sluice_ended(self):
        sluice, start = self.validation['loss'], self.report['start_loss']
        self.assertIsNotNone(sluice, 'the checkpoint\'s last validation loss was not measured at its step')
        history = checkpoint_header(self.checkpoint)['history']
        self.assertEqual((self.validation['step'], history['valSteps'][-1], history['valLoss'][-1]), (4, 4, sluice))
        rel = abs(start - sluice) / sluice
        print(f'[sluice {sluice:.6f}, transformers before step 1 {start:.6f}, rel {rel:.2g}; after 3 DDP steps '
              f'{self.report["end_loss"]:.6f}; {self.timings}] ', end='', flush=True)
        self.assertLessEqual(rel, TOLERANCE)

    def test_ddp_ran_on_two_ranks_in_sync(self):
        self.assertEqual(self.report['world_size'], 2)
        self.assertEqual(len(self.report['train_losses']), 3)
        self.assertEqual(self.report['parameter_spread'], 0.0, 'DDP replicas diverged')
        self.assertNotEqual(self.report['end_loss'], self.report['start_loss'], 'training did not change the model')

    def test_result_imports_back_and_resumes(self):
        checkpoint = os.path.join(self.dir, 'imported.bin')
        out = node.run('demo', 'import', '--from', self.trained, '--to', checkpoint)
        self.assertIn("tokenizer.json is GPT-2's", out)
        model, problems = load(self.trained)
        self.assertEqual(problems, {})
        ids = random_ids(50257, 13)
        logits, _ = sluice_eval(checkpoint, ids, self.dir)
        with torch.no_grad():
            theirs = model(input_ids=ids).logits
        err = node.rel_max_error(logits, theirs)
        print(f'[imported back: logits max rel error {err:.2g}] ', end='', flush=True)
        self.assertLessEqual(err, TOLERANCE)
        self.assertEqual(checkpoint_header(checkpoint)['step'], 0)
        npm_start(['--resume', '--checkpoint', checkpoint, '--steps', '1', '--batch', '2', '--context', '16',
                   '--sample-tokens', '0'], self.dir)
        header = checkpoint_header(checkpoint)  # rewritten by the resumed run, one step on
        self.assertEqual((header['step'], header['config']['model_type'], header['history']['valSteps']),
                         (1, 'glm4_moe', [0, 1]))


if __name__ == '__main__':
    unittest.main()
