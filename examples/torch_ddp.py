"""A torch model patched onto seqkernels' kernels, trained with DistributedDataParallel (gloo, CPU).

    torchrun --nproc_per_node=2 examples/torch_ddp.py            # 2 processes on this machine
    python examples/torch_ddp.py                                 # 1 process, the same combined batch

Each process patches its model (``seqkernels.torch.patch``), wraps it in DDP and trains on its share of a
fixed batch; the printed checksum of the parameters is the same for 1 and 2 processes (DDP averages the
gradients, so 2 halves of the batch give the mean gradient of the whole). With ``--out file.pt`` rank 0
saves the final parameters and gradients (the test compares them with one process).
"""
from __future__ import annotations

import argparse
import os
from datetime import timedelta

import torch
import torch.distributed as dist

import seqkernels as sk
import seqkernels.torch as skt

VOCAB, EMBED, HIDDEN, CLASSES, BATCH, LENGTH = 50, 16, 24, 5, 8, 9


class Classifier(torch.nn.Module):
    """Embedding -> bidirectional LSTM -> LayerNorm -> Linear -> GELU -> Linear, with the attention-free
    parts of a text classifier; every module of it is one ``patch`` swaps."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, EMBED, padding_idx=0)
        self.lstm = torch.nn.LSTM(EMBED, HIDDEN, batch_first=True, bidirectional=True)
        self.norm = torch.nn.LayerNorm(2 * HIDDEN)
        self.hidden = torch.nn.Linear(2 * HIDDEN, HIDDEN)
        self.act = torch.nn.GELU()
        self.out = torch.nn.Linear(HIDDEN, CLASSES)

    def forward(self, ids):
        y, _ = self.lstm(self.embed(ids))
        return self.out(self.act(self.hidden(self.norm(y.mean(dim=1)))))


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randint(1, VOCAB, (BATCH, LENGTH), generator=g), torch.randint(0, CLASSES, (BATCH,), generator=g)


def train(rank: int = 0, world: int = 1, steps: int = 3):
    """Trains a patched Classifier on this rank's share of the batch -> the model (not DDP-wrapped)."""
    torch.manual_seed(0)
    model = Classifier()
    counts = skt.patch(model)
    assert counts == {"Embedding": 1, "LSTM": 1, "LayerNorm": 1, "Linear": 2, "GELU": 1}, counts
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    ids, labels = data()
    share = BATCH // world
    ids, labels = ids[rank * share:(rank + 1) * share], labels[rank * share:(rank + 1) * share]
    for _ in range(steps):
        opt.zero_grad()
        loss = skt.functional.cross_entropy(net(ids), labels)
        loss.backward()
        opt.step()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", help="rank 0 saves the final parameters and gradients here (torch.save)")
    args = parser.parse_args()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    torch.set_num_threads(1)
    sk.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    model = train(rank, world, args.steps)
    if rank == 0:
        state = {name: p.detach().clone() for name, p in model.named_parameters()}
        grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
        checksum = sum(float(p.double().abs().sum()) for p in state.values())
        print(f"world {world}: parameter checksum {checksum:.6f}")
        if args.out:
            torch.save({"params": state, "grads": grads}, args.out)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
