"""Named-entity recognition on the bundled WNUT-16 tweets: BiLSTM-CRF from scratch and the pretrained MiniLM
fine-tuned as a token classifier, each trained by seqkernels and by PyTorch (benchmarks/torch_apps.py) on the
same split, encoders and hyper-parameters; prints entity-level test P/R/F1 (strict IOB2), training seconds, and
each run's wall seconds and CPU share.

    python examples/ner.py [--models bilstm-crf minilm] [--frameworks ours torch] [--threads 2] [--epochs N]

The one-command form for ours alone: `seqkernels train --task tag --model bilstm-crf` (then
`seqkernels predict --task tag "Heading to Madison Square Garden tonight"`)."""
import _compare
from seqkernels.apps import ner

parser = _compare.parser(__doc__, ner.MODELS)
parser.add_argument("--epochs", type=int, default=None, help="default: ner.DEFAULTS (per model)")
args = parser.parse_args()
_compare.set_threads(args)
data = ner.load_split()
rows = []
for model in args.models:
    row = {"model": model}
    if "ours" in args.frameworks:
        (_, row["ours"]), run = _compare.timed(ner.train_tagger, data, model, epochs=args.epochs)
        row["ours"]["run"] = run
        print(ner.format_report(row["ours"]["test"]))
    if "torch" in args.frameworks:
        from torch_apps import train_torch_tagger

        row["torch"], run = _compare.timed(train_torch_tagger, data, model, epochs=args.epochs)
        row["torch"]["run"] = run
        print(ner.format_report(row["torch"]["test"]))
    rows.append(row)
_compare.finish(args, rows, [("F1", ("test", "micro avg", "f1-score")), ("train s", ("train_seconds",)),
                             ("CPU share", ("run", "cpu_share"))])
