"""Writes packages/core/src/reference/torch_lce_fixture.ts: PyTorch's own
cross-entropy values and float64 gradients for small problems, which the
float64 reference (and the op on every backend) must reproduce.

    python3 -m venv ~/.cache/sluice-torch
    ~/.cache/sluice-torch/bin/pip install --retries 0 'torch==2.13.*'
    ~/.cache/sluice-torch/bin/python packages/core/scripts/torch_lce_fixture.py

Each case runs torch.nn.functional.linear_cross_entropy and, as a cross-check,
cross_entropy(linear(...)); both must agree before the case is written.
Inputs are drawn in float64 and rounded to float32, so the TypeScript side
sees exactly the values torch used.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(18)
N, V, D = 7, 6, 5
LABELS = [0, 5, -100, 3, 3, 1, -100]


def f32(*shape, scale=1.0, low=None):
    x = (torch.rand(*shape, dtype=torch.float64) * 2 - 1) * scale
    if low is not None:
        x = low + (torch.rand(*shape, dtype=torch.float64) * (scale - low))
    return x.float().double()


embeddings = f32(N, D, scale=1.5)
classifier = f32(V, D, scale=1.5)
bias = f32(V, scale=1.0)
class_weights = f32(V, scale=2.0, low=0.25)
none_weights = f32(N, scale=1.5, low=0.5)  # upstream gradient for 'none'
labels = torch.tensor(LABELS)

CASES = [
    dict(name='plain, mean', weights=False, bias=False, ls=0.0, reduction='mean'),
    dict(name='bias, label smoothing 0.2, mean', weights=False, bias=True, ls=0.2, reduction='mean'),
    dict(name='classWeights, mean', weights=True, bias=True, ls=0.0, reduction='mean'),
    dict(name='classWeights, label smoothing 0.1, mean', weights=True, bias=True, ls=0.1, reduction='mean'),
    dict(name='classWeights, label smoothing 0.1, sum', weights=True, bias=False, ls=0.1, reduction='sum'),
    dict(name='classWeights, label smoothing 0.3, none', weights=True, bias=True, ls=0.3, reduction='none'),
    dict(name='classWeights, label smoothing 1, mean', weights=True, bias=True, ls=1.0, reduction='mean'),
]


def run(case, fused):
    e = embeddings.clone().requires_grad_(True)
    c = classifier.clone().requires_grad_(True)
    b = bias.clone().requires_grad_(True)
    kwargs = dict(weight=class_weights if case['weights'] else None, reduction=case['reduction'],
                  ignore_index=-100, label_smoothing=case['ls'])
    lb = b if case['bias'] else None
    if fused:
        loss = F.linear_cross_entropy(e, c, labels, linear_bias=lb, **kwargs)
    else:
        loss = F.cross_entropy(F.linear(e, c, lb), labels, **kwargs)
    total = (loss * none_weights).sum() if case['reduction'] == 'none' else loss
    total.backward()
    return loss.detach(), e.grad, c.grad, b.grad if case['bias'] else torch.zeros(V, dtype=torch.float64)


def values(t):
    return [float(x) for x in t.reshape(-1).tolist()]


out = []
for case in CASES:
    fused = run(case, True)
    plain = run(case, False)
    for a, b in zip(fused, plain):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12), case['name']
    loss, de, dc, db = fused
    out.append({**case, 'loss': values(loss), 'dEmbeddings': values(de), 'dClassifier': values(dc),
                'dBias': values(db)})

fixture = {
    'torch': torch.__version__, 'n': N, 'v': V, 'd': D, 'labels': LABELS,
    'embeddings': values(embeddings), 'classifier': values(classifier), 'bias': values(bias),
    'classWeights': values(class_weights), 'noneWeights': values(none_weights), 'cases': out,
}
target = os.path.join(os.path.dirname(__file__), '..', 'src', 'reference', 'torch_lce_fixture.ts')
with open(target, 'w') as f:
    f.write('/**\n * Written by packages/core/scripts/torch_lce_fixture.py (do not edit): PyTorch\'s\n'
            ' * torch.nn.functional.linear_cross_entropy in float64, values and gradients\n'
            ' * (for \'none\': of Σ loss_i · noneWeights_i), with weight, label_smoothing,\n'
            ' * ignore_index -100. Inputs are float32-representable.\n */\n')
    f.write('export const TORCH_LCE_FIXTURE = {\n')
    for key, value in fixture.items():
        if key != 'cases':
            f.write(f'  {key}: {json.dumps(value)},\n')
    f.write('  cases: [\n')
    for case in out:
        f.write('    {\n' + ''.join(f'      {k}: {json.dumps(x)},\n' for k, x in case.items()) + '    },\n')
    f.write('  ],\n};\n')
print('wrote', target, 'with', len(out), 'cases, torch', torch.__version__)
