"""Question answering by retrieval on the bundled chatterbot QA pairs (2,026 pairs; 20% of the distinct
questions held out): each test question retrieves its answer from all distinct answers by cosine similarity of
MiniLM sentence embeddings (exact top-10, sk.retrieval.search). Pretrained, then fine-tuned on the training
pairs with in-batch negatives — by seqkernels and by PyTorch/transformers (benchmarks/torch_apps.py), same
tokenizer, batches and hyper-parameters (qa.HYPER). Prints top-1 accuracy, MRR@10 and training times.

    python examples/qa_retrieval.py [--no-torch] [--threads 2] [--save DIR]

Then: `seqkernels search --corpus answers.jsonl --model-dir DIR "what is ai"` (--write-corpus answers.jsonl)."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import seqkernels as sk
from seqkernels.apps import qa
from seqkernels.apps.ner import minilm_folder
from seqkernels.models import SentenceEncoder

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--no-torch", action="store_true")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--save", help="save the fine-tuned seqkernels encoder here")
parser.add_argument("--json", help="write the results here")
parser.add_argument("--write-corpus", help="write the knowledge base (every distinct answer) here as .jsonl")
args = parser.parse_args()
sk.set_num_threads(args.threads)
train, test, answers = qa.qa_split()
if args.write_corpus:
    with open(args.write_corpus, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"answer": a}) + "\n" for a in answers)
print(f"{len(train)} training pairs, {len(test)} test pairs, {len(answers)} answers in the knowledge base")
enc = SentenceEncoder.from_pretrained(minilm_folder())
results = {"ours": {"pretrained": qa.evaluate(lambda t: enc.encode(t, show_progress_bar=False), test, answers)}}
print("ours, pretrained:", results["ours"]["pretrained"])
results["ours"]["train_seconds"] = qa.fine_tune(enc, train)
results["ours"]["fine-tuned"] = qa.evaluate(lambda t: enc.encode(t, show_progress_bar=False), test, answers)
print("ours, fine-tuned:", results["ours"]["fine-tuned"])
if args.save:
    enc.save_pretrained(args.save)
if not args.no_torch:
    import torch
    from torch_apps import torch_fine_tune, torch_sentence_encoder

    torch.set_num_threads(args.threads)
    bert, encode, embed = torch_sentence_encoder(minilm_folder())
    results["torch"] = {"pretrained": qa.evaluate(encode, test, answers)}
    print("torch, pretrained:", results["torch"]["pretrained"])
    results["torch"]["train_seconds"] = torch_fine_tune(bert, embed, train)
    results["torch"]["fine-tuned"] = qa.evaluate(encode, test, answers)
    print("torch, fine-tuned:", results["torch"]["fine-tuned"])
print(json.dumps(results, indent=1))
if args.json:
    with open(args.json, "w") as fh:
        json.dump(results, fh, indent=1)
