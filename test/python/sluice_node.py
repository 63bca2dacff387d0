"""Calls the Node side of these tests (test/python/sluice_cli.ts, bundled by scripts/test.mjs)."""
import base64
import json
import os
import subprocess
import tempfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CLI = os.environ.get('SLUICE_NODE_CLI', os.path.join(ROOT, '.build', 'tests', 'sluice_cli.cjs'))
NODE = os.environ.get('SLUICE_NODE', 'node')
TMP = os.path.join(ROOT, '.tmp')


def run(*args):
    """Runs one sluice_cli command; raises with its stderr when it fails."""
    if not os.path.exists(CLI):
        raise RuntimeError(f'{CLI} is missing: run the tests through `node scripts/test.mjs`, which bundles it')
    r = subprocess.run([NODE, CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f'sluice_cli {" ".join(args)} failed ({r.returncode}):\n{r.stderr[-4000:]}')
    return r.stdout


def temp_dir(name):
    os.makedirs(TMP, exist_ok=True)
    return tempfile.mkdtemp(prefix=f'python-{name}-', dir=TMP)


_NUMPY = {'float32': np.float32, 'int32': np.int32, 'bool': np.uint8}


def host_tensor(desc):
    """A tensor sluice described as {dtype, shape, b64} (its host values' raw bytes) as a torch tensor."""
    values = np.frombuffer(base64.b64decode(desc['b64']), dtype=_NUMPY[desc['dtype']]).copy()
    return torch.from_numpy(values.reshape(desc['shape']))


def load_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def rel_max_error(actual, expected):
    """max |a - b| / max |b| (float64)."""
    a, b = actual.double(), expected.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
