"""``seqkernels explain "text" --model-dir DIR``: why a BERT classifier predicted what it did — per-token
gradient x input and integrated gradients (with the completeness check), and a PNG heatmap of both plus the
last layer's attention (``seqkernels.explain``).

DIR: a ``seqkernels train --task sentiment --model minilm`` directory, or a Hugging Face
BertForSequenceClassification folder (config.json, model.safetensors, vocab)."""
from __future__ import annotations

from .registry import (Command, add_threads_option, apply_threads, positive_int, read_model_config,
                       register_command)


def load_bert_classifier(model_dir: str):
    """(model, tokenizer, class names) from either kind of DIR."""
    from ..models import BertForSequenceClassification, BertTokenizer

    config = read_model_config(model_dir, "give a `seqkernels train --task sentiment --model minilm` directory "
                                          "or a BERT classifier folder")
    if "model" in config:  # a seqkernels sentiment directory
        from .sentiment import CLASSES, load_classifier

        if config["model"] != "minilm":
            raise ValueError(f"{model_dir}: explain needs a BERT model, this one is {config['model']!r} "
                             "(train one with --model minilm)")
        net, encoder = load_classifier(model_dir)
        return net, encoder.tokenizer, list(CLASSES)
    net = BertForSequenceClassification.from_pretrained(model_dir)
    labels = config.get("id2label") or {}
    return net, BertTokenizer.from_pretrained(model_dir), [labels.get(str(i), str(i)) for i in range(net.num_labels)]


def _arguments(parser) -> None:
    parser.add_argument("text", help="the text to explain")
    parser.add_argument("--model-dir", required=True, help="a BERT classifier (see above)")
    parser.add_argument("--output", default="explanation.png", help="the heatmap PNG (default: explanation.png)")
    parser.add_argument("--steps", type=positive_int, default=32, help="integrated-gradients steps (default: 32)")
    parser.add_argument("--target", default=None, help="class to explain (default: the predicted one)")
    add_threads_option(parser)


def _run(args, parser) -> None:
    from ..explain import explain_text, save_heatmap

    apply_threads(args)
    net, tokenizer, classes = load_bert_classifier(args.model_dir)
    target = None
    if args.target is not None:
        if args.target not in classes:
            parser.error(f"--target must be one of {classes}, got {args.target!r}")
        target = classes.index(args.target)
    ex = explain_text(net, tokenizer, args.text, target=target, steps=args.steps)
    name = classes[ex["target"]]
    print(f"class {name} (p = {ex['probability']:.3f}); logit {ex['logit']:.3f}, baseline logit "
          f"{ex['baseline_logit']:.3f}")
    print(f"{'token':<16} {'grad x input':>12} {'integrated':>11}")
    for tok, g, i in zip(ex["tokens"], ex["gradient_x_input"], ex["integrated_gradients"]):
        print(f"{tok:<16} {g:12.4f} {i:11.4f}")
    total = float(ex["integrated_gradients"].sum())
    print(f"completeness: sum of integrated gradients {total:.4f} vs logit - baseline "
          f"{ex['logit'] - ex['baseline_logit']:.4f} (gap {ex['completeness_gap']:.4f}, {args.steps} steps)")
    save_heatmap(ex, args.output, title=f"why '{name}' (p = {ex['probability']:.2f})")
    print(f"saved {args.output} (attributions; last layer's attention, mean over heads)")


register_command(Command("explain", "token attributions and attention maps of a BERT classifier's prediction",
                         _arguments, _run, description=__doc__.split("\n\n")[0]))
