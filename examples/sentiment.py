"""Sentiment on the bundled Amazon fine-food reviews (4,000 train / 1,000 test, great vs other): TextCNN and a
BiLSTM from scratch and the pretrained MiniLM fine-tuned, each trained by seqkernels and by PyTorch
(benchmarks/torch_apps.py) with the same encoders, batches and hyper-parameters (sentiment.HYPER); prints test
accuracy / macro-F1 and training times — what pretraining buys.

    python examples/sentiment.py [--models textcnn bilstm minilm] [--no-torch] [--threads 2]

One command for ours alone: `seqkernels train --task sentiment --model minilm`."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import seqkernels as sk
from seqkernels.apps import sentiment

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="+", choices=sentiment.MODELS, default=list(sentiment.MODELS))
parser.add_argument("--no-torch", action="store_true")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--json", help="write the results here")
parser.add_argument("--save", help="save our MiniLM classifier here (for `seqkernels explain --model-dir`)")
args = parser.parse_args()
sk.set_num_threads(args.threads)
rows = []
for model in args.models:
    net, encoder, result = sentiment.train_sentiment(model)
    row = {"model": model, "ours": result}
    if args.save and model == "minilm":
        sentiment.save_classifier(net, encoder, args.save, result)
    print(row["ours"])
    if not args.no_torch:
        import torch
        from torch_apps import train_torch_sentiment

        torch.set_num_threads(args.threads)
        row["torch"] = train_torch_sentiment(model)
        print(row["torch"])
    rows.append(row)
print(f"\n{'model':<8} {'ours acc':>8} {'ours F1':>8} {'torch acc':>9} {'torch F1':>8} {'ours s':>7} {'torch s':>8}")
nan = {"test": {"accuracy": float("nan"), "macro_f1": float("nan")}, "train_seconds": float("nan")}
for r in rows:
    o, t = r["ours"], r.get("torch", nan)
    print(f"{r['model']:<8} {o['test']['accuracy']:8.3f} {o['test']['macro_f1']:8.3f} {t['test']['accuracy']:9.3f} "
          f"{t['test']['macro_f1']:8.3f} {o['train_seconds']:7.1f} {t['train_seconds']:8.1f}")
if args.json:
    with open(args.json, "w") as fh:
        json.dump(rows, fh, indent=1)
