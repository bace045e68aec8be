"""Question answering by retrieval on the bundled chatterbot QA pairs (2,026 pairs; 20% of the distinct
questions held out): each test question retrieves its answer from all distinct answers by cosine similarity of
MiniLM sentence embeddings (exact top-10, sk.retrieval.search). Pretrained, then fine-tuned on the training
pairs with in-batch negatives — by seqkernels and by PyTorch/transformers (benchmarks/torch_apps.py), same
tokenizer, batches and hyper-parameters (qa.HYPER). Prints top-1 accuracy, MRR@10, training seconds, and the
fine-tuning's wall seconds and CPU share.

    python examples/qa_retrieval.py [--frameworks ours torch] [--threads 2] [--epochs N] [--save DIR]

Then: `seqkernels search --corpus answers.jsonl --model-dir DIR "what is ai"` (--write-corpus answers.jsonl)."""
import json

import _compare
from seqkernels.apps import qa
from seqkernels.apps.ner import minilm_folder
from seqkernels.models import SentenceEncoder

parser = _compare.parser(__doc__)
parser.add_argument("--save", help="save the fine-tuned seqkernels encoder here")
parser.add_argument("--epochs", type=int, default=qa.HYPER["epochs"],
                    help=f"fine-tuning epochs for both frameworks (default: {qa.HYPER['epochs']})")
parser.add_argument("--write-corpus", help="write the knowledge base (every distinct answer) here as .jsonl")
args = parser.parse_args()
qa.HYPER["epochs"] = args.epochs  # qa.fine_tune and its torch twin both read qa.HYPER
_compare.set_threads(args)
train, test, answers = qa.qa_split()
if args.write_corpus:
    with open(args.write_corpus, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"answer": a}) + "\n" for a in answers)
print(f"{len(train)} training pairs, {len(test)} test pairs, {len(answers)} answers in the knowledge base")


def compare(who, encode, fine_tune):
    result = {"pretrained": qa.evaluate(encode, test, answers)}
    print(f"{who}, pretrained:", result["pretrained"])
    result["train_seconds"], result["run"] = _compare.timed(fine_tune, train)
    result["fine-tuned"] = qa.evaluate(encode, test, answers)
    print(f"{who}, fine-tuned:", result["fine-tuned"])
    return result


row = {"model": "minilm"}
if "ours" in args.frameworks:
    enc = SentenceEncoder.from_pretrained(minilm_folder())
    row["ours"] = compare("ours", lambda t: enc.encode(t, show_progress_bar=False),
                          lambda pairs: qa.fine_tune(enc, pairs))
    if args.save:
        enc.save_pretrained(args.save)
if "torch" in args.frameworks:
    from torch_apps import torch_fine_tune, torch_sentence_encoder

    bert, encode, embed = torch_sentence_encoder(minilm_folder())
    row["torch"] = compare("torch", encode, lambda pairs: torch_fine_tune(bert, embed, pairs))
_compare.finish(args, [row], [(f"{stage[:5]} {m}", (stage, key)) for stage in ("pretrained", "fine-tuned")
                              for m, key in (("top1", "top1"), ("MRR", "mrr@10"))]
                + [("train s", ("train_seconds",)), ("CPU share", ("run", "cpu_share"))])
