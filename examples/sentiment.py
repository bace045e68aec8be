"""Sentiment on the bundled Amazon fine-food reviews (4,000 train / 1,000 test, great vs other): TextCNN and a
BiLSTM from scratch and the pretrained MiniLM fine-tuned, each trained by seqkernels and by PyTorch
(benchmarks/torch_apps.py) with the same encoders, batches and hyper-parameters (sentiment.HYPER); prints test
accuracy / macro-F1, training seconds, and each run's wall seconds and CPU share — what pretraining buys.

    python examples/sentiment.py [--models textcnn bilstm minilm] [--frameworks ours torch] [--threads 2]
                                 [--train-size N] [--save DIR]

One command for ours alone: `seqkernels train --task sentiment --model minilm`."""
import _compare
from seqkernels.apps import sentiment

parser = _compare.parser(__doc__, sentiment.MODELS)
parser.add_argument("--train-size", type=int, default=None,
                    help="train on the first N training reviews only (they are in random order; default: all 4,000)")
parser.add_argument("--save", help="save our MiniLM classifier here (for `seqkernels explain --model-dir`)")
args = parser.parse_args()
_compare.set_threads(args)
texts, labels, test_texts, test_labels = sentiment.load_data()
data = (texts[:args.train_size], labels[:args.train_size], test_texts, test_labels)
rows = []
for model in args.models:
    row = {"model": model}
    if "ours" in args.frameworks:
        (net, encoder, row["ours"]), run = _compare.timed(sentiment.train_sentiment, model, data=data)
        row["ours"]["run"] = run
        print(row["ours"])
        if args.save and model == "minilm":
            sentiment.save_classifier(net, encoder, args.save, row["ours"])
    if "torch" in args.frameworks:
        from torch_apps import train_torch_sentiment

        row["torch"], run = _compare.timed(train_torch_sentiment, model, data=data)
        row["torch"]["run"] = run
        print(row["torch"])
    rows.append(row)
_compare.finish(args, rows, [("acc", ("test", "accuracy")), ("macro-F1", ("test", "macro_f1")),
                             ("train s", ("train_seconds",)), ("CPU share", ("run", "cpu_share"))])
