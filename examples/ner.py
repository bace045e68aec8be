"""Named-entity recognition on the bundled WNUT-16 tweets: BiLSTM-CRF from scratch and the pretrained MiniLM
fine-tuned as a token classifier, each trained by seqkernels and by PyTorch (benchmarks/torch_apps.py) on the
same split, encoders and hyper-parameters; prints entity-level test P/R/F1 (strict IOB2) and training times.

    python examples/ner.py [--models bilstm-crf minilm] [--no-torch] [--threads 2]

The one-command form for ours alone: `seqkernels train --task tag --model bilstm-crf` (then
`seqkernels predict --task tag "Heading to Madison Square Garden tonight"`)."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import seqkernels as sk
from seqkernels.apps import ner

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="+", choices=ner.MODELS, default=list(ner.MODELS))
parser.add_argument("--no-torch", action="store_true")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--json", help="write the results here")
args = parser.parse_args()
sk.set_num_threads(args.threads)
data = ner.load_split()
rows = []
for model in args.models:
    _, ours = ner.train_tagger(data, model)
    print(ner.format_report(ours["test"]))
    row = {"model": model, "ours": ours}
    if not args.no_torch:
        import torch
        from torch_apps import train_torch_tagger

        torch.set_num_threads(args.threads)
        row["torch"] = train_torch_tagger(data, model)
        print(ner.format_report(row["torch"]["test"]))
    rows.append(row)
print(f"\n{'model':<12} {'ours F1':>8} {'torch F1':>9} {'ours s':>7} {'torch s':>8}  (test micro-F1, training seconds)")
for r in rows:
    t = r.get("torch")
    print(f"{r['model']:<12} {r['ours']['test']['micro avg']['f1-score']:8.3f} "
          f"{t['test']['micro avg']['f1-score'] if t else float('nan'):9.3f} {r['ours']['train_seconds']:7.1f} "
          f"{t['train_seconds'] if t else float('nan'):8.1f}")
if args.json:
    with open(args.json, "w") as fh:
        json.dump(rows, fh, indent=1)
