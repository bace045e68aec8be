"""The ``seqkernels`` command line: ``train`` and ``predict`` a text classifier, ``bench`` the kernels."""
from __future__ import annotations

import argparse
import sys


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_train(sub) -> None:
    from .text_classifier import MODEL_NAMES

    train = sub.add_parser(
        "train", help="train a text classifier (default: the bundled BBC News set, 5 topics)",
        description="Trains a text classifier on DATA (a .csv, .tsv or .jsonl file with a text and a label "
                    "column) or, without DATA, on the 2,225 BBC News articles bundled with seqkernels. Shows the "
                    "progress, prints the validation accuracy and a per-class report, and saves the model, the "
                    "tokenizer and the training curves into --output-dir for `seqkernels predict`.")
    train.add_argument("data", nargs="?", help="labelled texts: .csv, .tsv or .jsonl (default: BBC News)")
    train.add_argument("--text-column", default="text", help="column (or JSON key) holding the text (default: text)")
    train.add_argument("--label-column", default="label",
                       help="column (or JSON key) holding the label (default: label)")
    train.add_argument("--model", choices=MODEL_NAMES, default="textcnn", help="architecture (default: textcnn)")
    train.add_argument("--epochs", type=_positive_int, default=6)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate (default: 5e-3)")
    train.add_argument("--max-len", type=_positive_int, default=150, help="tokens kept per text (default: 150)")
    train.add_argument("--num-words", type=_positive_int, default=10000, help="vocabulary size (default: 10000)")
    train.add_argument("--embed-dim", type=_positive_int, default=64)
    train.add_argument("--hidden", type=_positive_int, default=64,
                       help="TextCNN filters per width / LSTM hidden size / BERT hidden size (default: 64)")
    train.add_argument("--validation-split", type=float, default=0.2, help="held-out fraction (default: 0.2)")
    train.add_argument("--output-dir", default="seqkernels-model", help="where to save (default: ./seqkernels-model)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=_positive_int, default=None, help="kernel threads (default: all)")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="0 silent, 1 progress bar, 2 one line per epoch")


def _add_predict(sub) -> None:
    predict = sub.add_parser("predict", help="classify texts with a model saved by `seqkernels train`")
    predict.add_argument("texts", nargs="*", help="texts to classify ('-' reads one text per line from stdin)")
    predict.add_argument("--model-dir", default="seqkernels-model", help="a `seqkernels train` output directory")
    predict.add_argument("--threads", type=_positive_int, default=None)


def _run_train(args, parser) -> None:
    from . import set_num_threads
    from .data import load_bbc_news, read_labelled_texts
    from .text_classifier import train

    if not 0.0 < args.validation_split < 1.0:
        parser.error(f"--validation-split must be in (0, 1), got {args.validation_split}")
    if args.threads is not None:
        set_num_threads(args.threads)
    if args.data is None:
        texts, labels = load_bbc_news()
    else:
        texts, labels = read_labelled_texts(args.data, args.text_column, args.label_column)
    train(texts, labels, args.output_dir, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
          learning_rate=args.lr, validation_fraction=args.validation_split, num_words=args.num_words,
          max_len=args.max_len, embed_dim=args.embed_dim, hidden=args.hidden, seed=args.seed, verbose=args.verbose)


def _run_predict(args, parser) -> None:
    from . import set_num_threads
    from .text_classifier import TrainedClassifier

    texts = [t for t in args.texts if t != "-"]
    if "-" in args.texts:
        texts += [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        parser.error("give at least one text to classify (or '-' to read them from stdin)")
    if args.threads is not None:
        set_num_threads(args.threads)
    classifier = TrainedClassifier(args.model_dir)
    for text, (label, prob) in zip(texts, classifier.classify(texts)):
        preview = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label}\t{prob:.3f}\t{preview}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="seqkernels", description="seqkernels command line")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_predict(sub)
    from .translation import add_cli as _add_translate
    _add_translate(sub)
    bench = sub.add_parser("bench", help="build info, measured FMA peak and GEMM speed vs numpy/torch")
    bench.add_argument("--threads", type=int, default=None, help="threads for every contender (default: all)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench import run
        if args.threads is not None and args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        run(threads=args.threads)
    elif args.command == "translate":
        try:
            args.handler(args)
        except (ValueError, FileNotFoundError) as exc:
            sub.choices["translate"].error(str(exc))
    else:
        command = sub.choices[args.command]
        try:
            (_run_train if args.command == "train" else _run_predict)(args, command)
        except (ValueError, FileNotFoundError) as exc:
            command.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
