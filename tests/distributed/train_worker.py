"""One process of tests/test_distributed.py: trains a small TextCNN with ``fit`` on fixed data and
saves its parameters (and the logged losses) to ``OUT/rank<r>.npz``. Run alone for the one-process
reference, or under ``mpiexec -n W ... --distributed``."""
import argparse
import os

import numpy as np

import seqkernels as sk
import seqkernels.distributed as dist

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--batch-size", type=int, required=True)
parser.add_argument("--distributed", action="store_true")
args = parser.parse_args()

sk.set_num_threads(1)
if args.distributed:
    dist.init()
# Different seeds per rank on purpose: fit must broadcast rank 0's parameters and shuffling state.
sk.manual_seed(7 + 1000 * dist.rank())
data = np.random.default_rng(3)
x = data.integers(1, 50, size=(45, 12)).astype(np.int64)  # 45 samples: the last global batch is uneven
y = data.integers(0, 3, size=45).astype(np.int64)
model = sk.models.TextCNN(50, embed_dim=8, num_classes=3, num_filters=4, kernel_sizes=(2, 3), dropout=0.0)
model.compile(optimizer=sk.optim.Adam(model.parameters(), lr=1e-2),
              loss=sk.losses.SparseCategoricalCrossentropy(from_logits=True))
history = model.fit(x, y, batch_size=args.batch_size, epochs=2, verbose=0)
np.savez(os.path.join(args.out, f"rank{dist.rank()}.npz"), loss=np.array(history.history["loss"]),
         **{name: p.numpy() for name, p in model.named_parameters()})
