"""English -> French translation on the bundled Bible verse pairs (King James Version / Louis Segond 1910), with
seqkernels' Seq2SeqTransformer and, with --torch, the same architecture in PyTorch (torch.nn.Transformer) on the
same tokenizer, batches, schedule and budget. Reports sacreBLEU and chrF on the held-out test books (Ruth, Jonah,
Philippians, 1 John), greedy and beam 4, with the training and decoding times.

    python examples/translate_bible.py --steps 1000 --torch --output runs/bible
    (needs `tokenizers` and `sacrebleu`; torch for --torch)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

import seqkernels as sk
from seqkernels import translation as T
from seqkernels.data.bible import bible_splits

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_share(t0, c0):
    """(wall seconds, CPU seconds / wall seconds) since (t0, c0)."""
    wall = time.perf_counter() - t0
    c = os.times()
    return wall, (c.user + c.system - c0) / max(wall, 1e-9)


def cpu_now():
    c = os.times()
    return c.user + c.system


def train_torch(pairs, valid_pairs, tokenizer, config):
    """The same training loop as seqkernels.translation.train_translation, in PyTorch."""
    import torch
    warnings.filterwarnings("ignore", message="enable_nested_tensor")
    sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))
    from torch_seq2seq import TorchSeq2SeqTransformer

    torch.manual_seed(config["seed"])
    rng = np.random.default_rng(config["seed"])
    src = T.encode(tokenizer, [s for s, _ in pairs], config["max_len"])
    tgt = T.encode(tokenizer, [t for _, t in pairs], config["max_len"])
    model = TorchSeq2SeqTransformer(config["vocab_size"], config["d_model"], config["nhead"], config["layers"],
                                    config["layers"], config["ffn"], config["dropout"], max_len=config["max_len"] + 1,
                                    pad_id=T.PAD, bos_id=T.BOS, eos_id=T.EOS)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"], betas=(0.9, 0.98), eps=1e-9)
    start, losses, batches, step = time.perf_counter(), [], [], 0
    model.train()
    while step < config["steps"]:
        if not batches:
            batches = T.bucketed_batches(src, tgt, config["batch_tokens"], rng)
        idx = batches.pop()
        s = torch.from_numpy(T.pad_batch([src[i] for i in idx]))
        t = torch.from_numpy(T.pad_batch([tgt[i] for i in idx], bos=True))
        step += 1
        for group in opt.param_groups:
            group["lr"] = T.noam_lr(step, config["lr"], config["warmup"])
        logits = model(s, t[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), t[:, 1:].reshape(-1),
                                                 ignore_index=T.PAD)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        opt.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0 or step == config["steps"]:
            print(f"[torch] step {step}/{config['steps']}  loss {np.mean(losses[-50:]):.3f}  "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    summary = {"train_seconds": time.perf_counter() - start, "final_loss": float(np.mean(losses[-50:]))}
    model.eval()
    return model, summary


def evaluate(model, tokenizer, test_pairs, max_len, beams):
    import sacrebleu

    sources, refs = [s for s, _ in test_pairs], [t for _, t in test_pairs]
    t0, c0 = time.perf_counter(), cpu_now()
    hyps = T.translate_texts(model, tokenizer, sources, max_len, num_beams=beams)
    wall, share = cpu_share(t0, c0)
    return {"bleu": sacrebleu.corpus_bleu(hyps, [refs]).score, "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
            "decode_seconds": wall, "cpu_share": share, "hypotheses": hyps}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=T.DEFAULTS["steps"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="bible-en-fr")
    parser.add_argument("--torch", action="store_true", help="also train and evaluate the PyTorch twin")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on the first N test verses only")
    args = parser.parse_args(argv)
    sk.set_num_threads(args.threads)
    train, valid, test = bible_splits()
    test = test[:args.limit] if args.limit else test
    config = {**T.DEFAULTS, "steps": args.steps}
    results = {"config": config, "threads": args.threads, "train_pairs": len(train), "test_pairs": len(test)}

    t0, c0 = time.perf_counter(), cpu_now()
    summary = T.train_translation(train, args.output, valid_pairs=valid, steps=args.steps)
    summary["cpu_share"] = cpu_share(t0, c0)[1]
    ours = T.Translator(args.output)
    results["seqkernels"] = {"train": summary}
    for beams in (1, 4):
        results["seqkernels"][f"beam{beams}"] = evaluate(ours.model, ours.tokenizer, test, config["max_len"], beams)
        r = results["seqkernels"][f"beam{beams}"]
        print(f"seqkernels beam {beams}: BLEU {r['bleu']:.2f} chrF {r['chrf']:.2f} ({r['decode_seconds']:.0f} s)")

    if args.torch:
        import torch
        torch.set_num_threads(args.threads)
        t0, c0 = time.perf_counter(), cpu_now()
        model, tsummary = train_torch(train, valid, ours.tokenizer, {**config, "vocab_size": ours.config["vocab_size"]})
        tsummary["cpu_share"] = cpu_share(t0, c0)[1]
        results["torch"] = {"train": tsummary}
        for beams in (1, 4):
            results["torch"][f"beam{beams}"] = evaluate(model, ours.tokenizer, test, config["max_len"], beams)
            r = results["torch"][f"beam{beams}"]
            print(f"torch beam {beams}: BLEU {r['bleu']:.2f} chrF {r['chrf']:.2f} ({r['decode_seconds']:.0f} s)")
    with open(os.path.join(args.output, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, ensure_ascii=False)
    print(f"results in {os.path.join(args.output, 'results.json')}")


if __name__ == "__main__":
    main()
