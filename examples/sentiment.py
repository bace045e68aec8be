"""Sentiment on the bundled Amazon fine-food reviews (4,000 train / 1,000 test, great vs other): TextCNN and a
BiLSTM from scratch and the pretrained MiniLM fine-tuned, each trained by seqkernels and by PyTorch
(benchmarks/torch_apps.py) with the same encoders, batches and hyper-parameters (sentiment.HYPER); prints test
accuracy / macro-F1, training seconds, and each run's wall seconds and CPU share — what pretraining buys.

    python examples/sentiment.py [--models textcnn bilstm minilm] [--no-torch] [--threads 2] [--save DIR]

One command for ours alone: `seqkernels train --task sentiment --model minilm`."""
import _compare
from seqkernels.apps import sentiment

parser = _compare.parser(__doc__, sentiment.MODELS)
parser.add_argument("--save", help="save our MiniLM classifier here (for `seqkernels explain --model-dir`)")
args = parser.parse_args()
_compare.set_threads(args, torch_too=not args.no_torch)
rows = []
for model in args.models:
    (net, encoder, ours), run = _compare.timed(sentiment.train_sentiment, model)
    ours["run"] = run
    print(ours)
    if args.save and model == "minilm":
        sentiment.save_classifier(net, encoder, args.save, ours)
    row = {"model": model, "ours": ours}
    if not args.no_torch:
        from torch_apps import train_torch_sentiment

        row["torch"], run = _compare.timed(train_torch_sentiment, model)
        row["torch"]["run"] = run
        print(row["torch"])
    rows.append(row)
_compare.finish(args, rows, [("acc", ("test", "accuracy")), ("macro-F1", ("test", "macro_f1")),
                             ("train s", ("train_seconds",)), ("CPU share", ("run", "cpu_share"))])
