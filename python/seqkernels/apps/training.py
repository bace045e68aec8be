"""The training loop the applications share (sentiment, tag, QA fine-tuning): epochs of shuffled batches, an
optimiser step per batch with an optional linear decay of the learning rate to zero, and the training seconds
counted apart from whatever ``after_epoch`` does (validation). ``benchmarks/torch_apps.py`` replays the same
``epoch_plan`` in PyTorch."""
from __future__ import annotations

import time
from typing import Callable, List, Optional

import numpy as np


def epoch_plan(count: int, batch_size: int, epochs: int, seed: int) -> List[List[np.ndarray]]:
    """The shuffled batch index arrays of every epoch: ceil(count / batch_size) near-equal batches per epoch,
    one permutation per epoch from one generator (the same for both frameworks)."""
    rng = np.random.default_rng(seed)
    return [np.array_split(rng.permutation(count), -(-count // batch_size)) for _ in range(epochs)]


def fit(model, opt, plan, loss_of: Callable, lr: float, decay: bool = False,
        after_epoch: Optional[Callable] = None) -> float:
    """For each epoch of ``plan`` (see ``epoch_plan``): ``model.train()``, then per batch ``loss_of(indices)``,
    backward and an optimiser step (the learning rate ``lr * (1 - step / total_steps)`` when ``decay``, else
    left as it is); then ``after_epoch(epoch, training_seconds_so_far, batch_losses)``. -> training seconds."""
    total, step, seconds = sum(map(len, plan)), 0, 0.0
    for epoch, batches in enumerate(plan):
        model.train()
        start = time.perf_counter()
        losses = []
        for idx in batches:
            if decay:
                for group in opt.param_groups:
                    group["lr"] = lr * max(0.0, 1.0 - step / total)
            loss = loss_of(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
            step += 1
        seconds += time.perf_counter() - start
        if after_epoch is not None:
            after_epoch(epoch, seconds, losses)
    return seconds
