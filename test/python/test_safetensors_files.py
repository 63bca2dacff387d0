"""safetensors files across sluice and the Python package (safetensors 0.8, torch, transformers).

- sluice writes, Python reads: values, dtypes and shapes equal to sluice's source values (F16/BF16 bit for
  bit equal to torch's own float32 -> float16/bfloat16 rounding), the same bytes as safetensors' save_file,
  and a sharded checkpoint whose index transformers' loader accepts;
- Python writes (save_file, and save_pretrained with shards), sluice reads: values equal bit for bit;
- corrupt files: both the Python package and sluice refuse them, sluice naming the file and the numbers.
"""
import json
import os
import struct
import unittest

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import sluice_node as node


def bits(t):
    """A float tensor's bit patterns, so NaN and -0 compare exactly."""
    return t.view(torch.int32 if t.dtype == torch.float32 else torch.int16)


class SluiceWritesPythonReads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('sluice-written')
        node.run('write-files', cls.dir)
        cls.values = node.load_json(os.path.join(cls.dir, 'values.json'))

    def load(self, name):
        path = os.path.join(self.dir, f'sluice_{name}.safetensors')
        with safe_open(path, 'pt') as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()

    def test_f32_int_bool_values_shapes_metadata(self):
        tensors, metadata = self.load('f32')
        self.assertEqual(metadata, {'format': 'pt'})
        self.assertEqual(set(tensors), set(self.values['f32']))
        for name, desc in self.values['f32'].items():
            expected = node.host_tensor(desc)
            got = tensors[name]
            want_dtype = {'float32': torch.float32, 'int32': torch.int32, 'bool': torch.bool}[desc['dtype']]
            self.assertEqual(got.dtype, want_dtype, name)
            self.assertEqual(list(got.shape), desc['shape'], name)
            if got.dtype == torch.float32:
                self.assertTrue(torch.equal(bits(got), bits(expected)), name)
            else:
                self.assertTrue(torch.equal(got.to(torch.int64), expected.to(torch.int64)), name)

    def check_rounded(self, name, dtype):
        tensors, _ = self.load(name)
        for key, desc in self.values[name].items():
            source = node.host_tensor(desc)
            got = tensors[key]
            self.assertEqual(got.dtype, dtype, key)
            # torch's float32 -> float16 / bfloat16 conversion: round to nearest even. NaN is NaN in both, but
            # torch's vectorised bfloat16 path writes it as 0xffff where sluice writes the quiet NaN 0x7fc0.
            want = source.to(dtype)
            nan = torch.isnan(want)
            self.assertTrue(torch.equal(torch.isnan(got), nan), key)
            self.assertTrue(torch.equal(bits(got)[~nan], bits(want)[~nan]),
                            f'{name} {key}: {got.tolist()} vs torch {want.tolist()}')

    def test_f16_rounds_as_torch_does(self):
        self.check_rounded('f16', torch.float16)

    def test_bf16_rounds_as_torch_does(self):
        self.check_rounded('bf16', torch.bfloat16)

    def test_i64(self):
        tensors, _ = self.load('i64')
        got = tensors['ids']
        self.assertEqual(got.dtype, torch.int64)
        self.assertEqual(got.tolist(), node.host_tensor(self.values['i64']['ids']).to(torch.int64).tolist())

    def test_same_bytes_as_save_file(self):
        tensors = {k: node.host_tensor(d).clone() for k, d in self.values['same'].items()}
        path = os.path.join(self.dir, 'python_same.safetensors')
        save_file(tensors, path, metadata={'format': 'pt'})
        with open(path, 'rb') as a, open(os.path.join(self.dir, 'sluice_same.safetensors'), 'rb') as b:
            self.assertEqual(a.read(), b.read())

    def test_sharded_checkpoint(self):
        shard_dir = os.path.join(self.dir, 'sluice_sharded')
        index = node.load_json(os.path.join(shard_dir, 'model.safetensors.index.json'))
        self.assertEqual(sorted(set(index['weight_map'].values())),
                         [f'model-0000{i}-of-00003.safetensors' for i in (1, 2, 3)])
        loaded = {}
        for shard in set(index['weight_map'].values()):
            part = load_file(os.path.join(shard_dir, shard))
            for k in part:
                self.assertEqual(index['weight_map'][k], shard)
            loaded.update(part)
        self.assertEqual(index['metadata']['total_size'], sum(t.numel() * t.element_size() for t in loaded.values()))
        self.assertEqual(index['metadata']['total_parameters'], sum(t.numel() for t in loaded.values()))
        for k, desc in self.values['sharded'].items():
            self.assertTrue(torch.equal(bits(loaded[k]), bits(node.host_tensor(desc))), k)

    def test_transformers_loads_a_checkpoint_sluice_sharded(self):
        """A model's weights re-sharded by sluice: from_pretrained loads them, nothing missing or unexpected."""
        import transformers
        src, dst = os.path.join(self.dir, 'hf_src'), os.path.join(self.dir, 'hf_resharded')
        cfg = transformers.Qwen3MoeConfig(vocab_size=16, hidden_size=8, intermediate_size=8, moe_intermediate_size=4,
                                          num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                          head_dim=4, num_experts=2, num_experts_per_tok=2,
                                          max_position_embeddings=16)
        torch.manual_seed(5)
        model = transformers.AutoModelForCausalLM.from_config(cfg)
        model.save_pretrained(src)
        node.run('reshard', src, dst, '1500')
        index = node.load_json(os.path.join(dst, 'model.safetensors.index.json'))
        self.assertGreater(len(set(index['weight_map'].values())), 1)
        loaded, info = transformers.AutoModelForCausalLM.from_pretrained(dst, output_loading_info=True)
        self.assertEqual({k: v for k, v in info.items() if v}, {})
        for key, value in model.state_dict().items():
            self.assertTrue(torch.equal(loaded.state_dict()[key], value), key)


class PythonWritesSluiceReads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('python-written')
        g = torch.Generator().manual_seed(3)
        special = torch.tensor([0.0, -0.0, 1.0, float('inf'), -float('inf'), float('nan'), 65504.0, 6.1e-5,
                                5.96e-8, 1e-3, -2.5])
        cls.files = {
            'f32': {'w': torch.randn(4, 5, generator=g), 'scalar': torch.tensor(2.5), 'empty': torch.zeros(0, 3),
                    'special': special},
            'f16': {'w': torch.randn(6, 3, generator=g).to(torch.float16), 'special': special.to(torch.float16)},
            'bf16': {'w': torch.randn(6, 3, generator=g).to(torch.bfloat16), 'special': special.to(torch.bfloat16)},
            'ints': {'i64': torch.tensor([0, -1, 2 ** 31 - 1, -2 ** 31, 5], dtype=torch.int64),
                     'i32': torch.tensor([[1, -2], [3, -4]], dtype=torch.int32),
                     'u8': torch.tensor([0, 255, 7], dtype=torch.uint8),
                     'i16': torch.tensor([-32768, 32767], dtype=torch.int16),
                     'i8': torch.tensor([-128, 127], dtype=torch.int8),
                     'flags': torch.tensor([True, False, True])},
            'mixed': {'a': torch.randn(3, generator=g), 'b': torch.randn(2, generator=g).to(torch.float16),
                      'c': torch.arange(4, dtype=torch.int64), 'd': torch.randn(2, generator=g).to(torch.bfloat16)},
        }
        for name, tensors in cls.files.items():
            save_file(tensors, os.path.join(cls.dir, f'{name}.safetensors'), metadata={'format': 'pt', 'by': name})
        # transformers' own sharding (save_pretrained with a small max_shard_size).
        import transformers
        cfg = transformers.MixtralConfig(vocab_size=16, hidden_size=8, intermediate_size=8, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2, num_local_experts=2,
                                         max_position_embeddings=16)
        torch.manual_seed(4)
        cls.model = transformers.AutoModelForCausalLM.from_config(cfg)
        cls.model.save_pretrained(os.path.join(cls.dir, 'hf_sharded'), max_shard_size='2KB')
        cls.read = os.path.join(cls.dir, 'read.json')
        node.run('read-files', cls.dir, cls.read)
        cls.result = node.load_json(cls.read)

    def check_file(self, name):
        got = self.result[f'{name}.safetensors']
        self.assertNotIn('error', got, got.get('error'))
        self.assertEqual(got['metadata'], {'format': 'pt', 'by': name})
        self.assertEqual(set(got['tensors']), set(self.files[name]))
        for key, source in self.files[name].items():
            desc = got['tensors'][key]
            host = node.host_tensor(desc)
            self.assertEqual(list(host.shape), list(source.shape), key)
            if source.is_floating_point():
                self.assertEqual(desc['dtype'], 'float32', key)
                # float16 and bfloat16 widen to float32 exactly (torch's conversion is the reference).
                self.assertTrue(torch.equal(bits(host), bits(source.to(torch.float32))), key)
            elif source.dtype == torch.bool:
                self.assertEqual(desc['dtype'], 'bool', key)
                self.assertEqual(host.tolist(), source.to(torch.uint8).tolist(), key)
            else:
                self.assertEqual(desc['dtype'], 'int32', key)
                self.assertEqual(host.tolist(), source.tolist(), key)

    def test_f32(self):
        self.check_file('f32')

    def test_f16(self):
        self.check_file('f16')

    def test_bf16(self):
        self.check_file('bf16')

    def test_integer_and_bool_dtypes(self):
        self.check_file('ints')
        self.assertEqual(self.result['ints.safetensors']['tensors']['i64']['sourceDtype'], 'I64')

    def test_mixed_dtypes_in_one_file(self):
        self.check_file('mixed')

    def test_transformers_sharded_checkpoint(self):
        got = self.result['hf_sharded']
        self.assertNotIn('error', got, got.get('error'))
        self.assertGreater(len(got['files']), 1)
        state = self.model.state_dict()
        self.assertEqual(set(got['tensors']), set(load_file_keys(os.path.join(self.dir, 'hf_sharded'))))
        # save_pretrained writes Mixtral's experts per expert: compare through its own saved files.
        for key, desc in got['tensors'].items():
            saved = saved_tensor(os.path.join(self.dir, 'hf_sharded'), key)
            self.assertTrue(torch.equal(bits(node.host_tensor(desc)), bits(saved.to(torch.float32))), key)
        self.assertTrue(torch.equal(state['model.embed_tokens.weight'],
                                    node.host_tensor(got['tensors']['model.embed_tokens.weight'])))


def load_file_keys(folder):
    index = node.load_json(os.path.join(folder, 'model.safetensors.index.json'))
    return index['weight_map'].keys()


def saved_tensor(folder, key):
    index = node.load_json(os.path.join(folder, 'model.safetensors.index.json'))
    with safe_open(os.path.join(folder, index['weight_map'][key]), 'pt') as f:
        return f.get_tensor(key)


class CorruptFiles(unittest.TestCase):
    """Files both readers must refuse; sluice's message must name the file and the numbers involved."""

    @classmethod
    def setUpClass(cls):
        cls.dir = node.temp_dir('corrupt')
        good = os.path.join(cls.dir, 'good.bin')
        save_file({'a': torch.arange(6, dtype=torch.float32).reshape(2, 3), 'b': torch.ones(4)}, good)
        raw = open(good, 'rb').read()
        n = struct.unpack('<Q', raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        os.remove(good)

        def with_header(h, data=raw[8 + n:]):
            text = json.dumps(h).encode()
            text += b' ' * (-len(text) % 8)
            return struct.pack('<Q', len(text)) + text + data

        def edit(**changes):
            h = json.loads(json.dumps(header))
            for name, fields in changes.items():
                h[name].update(fields)
            return with_header(h)

        a_end = header['a']['data_offsets'][1] if header['a']['data_offsets'][0] == 0 else None
        cls.cases = {
            'truncated_prefix': (raw[:5], ['5 bytes']),
            'header_past_end': (struct.pack('<Q', 10_000) + raw[8:40], ['10000', str(40 - 8)]),
            'invalid_json': (struct.pack('<Q', 8) + b'{"a": 1,' + raw[8 + n:], ['JSON']),
            'truncated_data': (raw[:-4], ['data_offsets', str(len(raw) - 8 - n - 4)]),
            'shape_mismatch': (edit(a={'shape': [2, 4]}), ["'a'", '32', '24']),
            'unknown_dtype': (edit(a={'dtype': 'F8_E9M9'}), ["'a'", 'F8_E9M9']),
            'overlap': (edit(b={'data_offsets': [8, 24]}) if a_end else None, ['overlap']),
            'out_of_range': (edit(b={'data_offsets': [40, 56]}), ['out of range', '[40, 56]']),
        }
        for name, (data, _) in cls.cases.items():
            if data is not None:
                with open(os.path.join(cls.dir, f'{name}.safetensors'), 'wb') as f:
                    f.write(data)
        node.run('read-files', cls.dir, os.path.join(cls.dir, 'read.json'))
        cls.result = node.load_json(os.path.join(cls.dir, 'read.json'))

    def test_each_corrupt_file(self):
        for name, (data, needles) in self.cases.items():
            with self.subTest(name):
                if data is None:
                    self.skipTest('tensor order not as expected')
                path = os.path.join(self.dir, f'{name}.safetensors')
                with self.assertRaises(Exception, msg=f'Python safetensors accepted {name}'):
                    with safe_open(path, 'pt') as f:
                        for k in f.keys():
                            f.get_tensor(k)
                error = self.result[f'{name}.safetensors'].get('error')
                self.assertIsNotNone(error, f'sluice accepted {name}')
                self.assertIn(path, error)
                for needle in needles:
                    self.assertIn(needle, error, f'{name}: {error}')


if __name__ == '__main__':
    unittest.main()
