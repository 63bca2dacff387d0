"""Continues training a model `npm run export` wrote, data-parallel in PyTorch (DDP; gloo on CPU, nccl on GPUs).

    torchrun --nproc_per_node 2 packages/demo/tools/continue_training.py \\
        --model .build/demo/hf --out .build/demo/hf-trained --steps 100

Loads the folder with AutoModelForCausalLM / AutoTokenizer (no custom code), tokenizes the corpus with the
exported tokenizer (GPT-2's, the trainer's ids) and splits it as the trainer does (the first 95% trains).
Each rank draws its own random windows of --context tokens; DDP averages the gradients; AdamW steps.
The validation loss is measured on the trainer's own validation batches (sluice_validation.json, written by
npm run export: a loss is the mean over batches of each batch's mean next-token cross-entropy, as the
trainer computes it) before the first step and after the last, so the first number continues sluice's curve.
Rank 0 saves the result with save_pretrained (tokenizer included) for `npm run import`, and writes --report.
The objective is plain next-token cross-entropy (no router auxiliary loss).
"""
import argparse
import json
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
MOBY_DICK = os.path.join(ROOT, 'node_modules', '@stdlib', 'datasets-moby-dick', 'data', 'data.txt')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', required=True, help='folder npm run export wrote')
    p.add_argument('--out', required=True, help='folder to save the trained model in (save_pretrained)')
    p.add_argument('--corpus', default=MOBY_DICK, help='text to train on (default: the trainer\'s Moby-Dick)')
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--batch', type=int, default=4, help='sequences per rank per step')
    p.add_argument('--context', type=int, default=64)
    p.add_argument('--lr', type=float, default=3e-4)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--report', default='', help='JSON file for the losses (rank 0)')
    return p.parse_args()


def validation_loss(model, validation):
    """The trainer's validation loss: the mean over batches of each batch's mean next-token cross-entropy."""
    windows = torch.tensor(validation['windows'], dtype=torch.long)
    batch = validation['batch']
    losses = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            w = windows[i:i + batch]
            logits = model(input_ids=w[:, :-1]).logits
            losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), w[:, 1:].reshape(-1)).item())
    model.train()
    return sum(losses) / len(losses)


def parameter_spread(model):
    """Largest difference of any parameter between ranks (0 when DDP kept the replicas identical)."""
    spread = 0.0
    for p in model.parameters():
        hi, lo = p.detach().clone(), p.detach().clone()
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        spread = max(spread, (hi - lo).abs().max().item())
    return spread


def main():
    args = parse_args()
    gpu = torch.cuda.is_available()
    device = torch.device('cpu')
    if gpu:
        # Before init_process_group: nccl binds a rank's communicator to the current CUDA device, which is GPU 0
        # for every rank unless each selects its own (torchrun's LOCAL_RANK).
        device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
        torch.cuda.set_device(device)
    dist.init_process_group('nccl' if gpu else 'gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).to(device)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    with open(os.path.join(args.model, 'sluice_validation.json'), encoding='utf-8') as f:
        validation = json.load(f)
    with open(args.corpus, encoding='utf-8') as f:
        # verbose=False: the corpus is one long text, never fed to the model whole (no max-length warning).
        ids = tokenizer(f.read(), add_special_tokens=False, verbose=False)['input_ids']
    ids = torch.tensor(ids, dtype=torch.long)
    train = ids[:math.floor(len(ids) * 0.95)]
    if len(train) < args.context + 2:
        raise SystemExit(f'--corpus: {len(train)} training tokens, too few for --context {args.context}')

    start_loss = validation_loss(model, validation)
    if rank == 0:
        sluice = validation.get('loss')
        print(f'{world} ranks; validation loss before the first step {start_loss:.5f} '
              f'(sluice\'s last: {sluice if sluice is None else f"{sluice:.5f}"}, {validation["source"]})', flush=True)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if gpu else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    losses, started = [], time.time()
    for step in range(1, args.steps + 1):
        g = torch.Generator().manual_seed((args.seed * 1_000_003 + step) * world + rank)
        starts = torch.randint(0, len(train) - args.context - 1, (args.batch,), generator=g)
        w = torch.stack([train[s:s + args.context + 1] for s in starts.tolist()]).to(device)
        logits = ddp(input_ids=w[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces (averages) the gradients here
        optimizer.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean)
        losses.append(mean.item() / world)
        if rank == 0:
            print(f'step {step}/{args.steps} loss {losses[-1]:.4f} (mean over {world} ranks)', flush=True)
    end_loss = validation_loss(model, validation)
    spread = parameter_spread(model)
    if rank == 0:
        print(f'validation loss after step {args.steps}: {end_loss:.5f}; parameters equal across ranks to '
              f'{spread:.3g}; '
              f'{time.time() - started:.1f} s of training', flush=True)
        model.save_pretrained(args.out)
        tokenizer.save_pretrained(args.out)
        if args.report:
            with open(args.report, 'w', encoding='utf-8') as f:
                json.dump({'world_size': world, 'sluice_loss': validation.get('loss'), 'start_loss': start_loss,
                           'end_loss': end_loss, 'train_losses': losses, 'parameter_spread': spread}, f)
        print(f'saved to {args.out}: npm run import -- --from {args.out} --to <checkpoint>', flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
