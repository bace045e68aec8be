"""Task ``classify``: text classification (``seqkernels train`` / ``predict`` without ``--task``).

Data: a .csv / .tsv / .jsonl file with a text and a label column, or a bundled set by name: ``bbc_news``
(the default; 5 topics, a stratified validation split) or ``fine_foods`` (Amazon reviews, great / other; its
own 1,000-review test split is the held-out set). Models: textcnn, lstm (bidirectional), bert (2 layers from
scratch); see ``seqkernels.text_classifier``."""
from __future__ import annotations

from .registry import Task, positive_int, register_task

MODELS = ("textcnn", "lstm", "bert")


def _train_arguments(parser) -> None:
    group = parser.add_argument_group("--task classify")
    group.add_argument("--text-column", default="text", help="column (or JSON key) holding the text (default: text)")
    group.add_argument("--label-column", default="label",
                       help="column (or JSON key) holding the label (default: label)")
    group.add_argument("--max-len", type=positive_int, default=150, help="tokens kept per text (default: 150)")
    group.add_argument("--num-words", type=positive_int, default=10000, help="vocabulary size (default: 10000)")
    group.add_argument("--embed-dim", type=positive_int, default=64)
    group.add_argument("--hidden", type=positive_int, default=64,
                       help="TextCNN filters per width / LSTM hidden size / BERT hidden size (default: 64)")
    group.add_argument("--validation-split", type=float, default=0.2, help="held-out fraction (default: 0.2)")
    group.add_argument("--distributed", action="store_true",
                       help="data-parallel over MPI: run as `mpiexec -n N seqkernels train --distributed` "
                            "(--batch-size is per process; needs seqkernels[distributed])")


def _train(args, parser) -> None:
    from ..data import load_bbc_news, read_labelled_texts
    from ..text_classifier import train

    if not 0.0 < args.validation_split < 1.0:
        parser.error(f"--validation-split must be in (0, 1), got {args.validation_split}")
    if args.distributed:
        from .. import distributed
        distributed.init()
    if args.data in (None, "bbc_news"):
        texts, labels = load_bbc_news()
    else:
        texts, labels = read_labelled_texts(args.data, args.text_column, args.label_column)
    train(texts, labels, args.output_dir, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
          learning_rate=args.lr, validation_fraction=args.validation_split, num_words=args.num_words,
          max_len=args.max_len, embed_dim=args.embed_dim, hidden=args.hidden, seed=args.seed, verbose=args.verbose)


def _predict(args, parser) -> None:
    from ..text_classifier import TrainedClassifier

    classifier = TrainedClassifier(args.model_dir)
    for text, (label, prob) in zip(args.texts, classifier.classify(args.texts)):
        preview = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label}\t{prob:.3f}\t{preview}")


register_task(Task("classify", "a label per text", MODELS, _train, _predict, add_train_arguments=_train_arguments))
