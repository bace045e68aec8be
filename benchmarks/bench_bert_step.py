"""One MiniLM training step (forward, backward, AdamW), seqkernels beside transformers on torch: token
classification (--task ner: 16 WNUT-16 tweets padded to their longest, 55 pieces, lr 1e-4) or the sentiment
fine-tuning of the README's table (--task sentiment: `BertForSequenceClassification`, 16 fine-food reviews cut to
64 pieces, lr 5e-5, as `seqkernels.apps.sentiment` batches them), each with OMP_WAIT_POLICY=ACTIVE and
PASSIVE: torch's OpenMP workers spin (libgomp's default) or sleep between regions; seqkernels' own pool (it
opens no OpenMP region) spins 200 us and then sleeps either way, so its two rows tell the noise. Every
(framework, policy) runs in a fresh process (libgomp reads the policy once, when it loads), alternating over
--rounds; prints medians of ms/step, the CPU share (CPU seconds of all threads / wall seconds) and the CPU
seconds of all threads over those of the calling thread (2.0: the work is split evenly over two threads,
whatever the machine's load; 1.0: one thread did it all).

    python benchmarks/bench_bert_step.py [--task ner|sentiment] [--threads 2] [--steps 3] [--rounds 2] [--profile]

--profile also prints, for seqkernels, each op's share of the step and its all-threads / calling-thread CPU.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


TASKS = {"ner": ("BertForTokenClassification", 1e-4), "sentiment": ("BertForSequenceClassification", 5e-5)}


def batches(task, steps):
    """steps + 1 batches (the first is a warm-up) of (ids, mask, labels), the number of labels, the MiniLM folder."""
    if task == "sentiment":
        from seqkernels.apps import sentiment

        texts, labels = sentiment.load_data()[:2]
        encoder = sentiment.Encoder("minilm")
        out = []
        for s in range(steps + 1):
            b = slice(16 * s, 16 * s + 16)
            y = np.array([sentiment.CLASSES.index(label) for label in labels[b]], np.int64)
            out.append([np.ascontiguousarray(a) for a in sentiment.trim(encoder(texts[b])) + [y]])
        return out, len(sentiment.CLASSES), encoder.folder
    from seqkernels.apps import ner
    from seqkernels.models import BertTokenizer

    words, tags = ner.load_split()["train"]
    tagset = ner.tag_set(tags)
    tag_ids = {t: i for i, t in enumerate(tagset)}
    tokenizer = BertTokenizer.from_pretrained(ner.minilm_folder())
    out = []
    for s in range(steps + 1):  # the first is a warm-up
        b = range(16 * s, 16 * s + 16)
        ids, mask, y, _ = ner.encode_pieces(tokenizer, [words[i] for i in b], tag_ids, [tags[i] for i in b])
        keep = int(mask.sum(1).max())
        out.append([np.ascontiguousarray(a[:, :keep]) for a in (ids, mask, y)])
    return out, len(tagset), ner.minilm_folder()


def clock():
    return time.perf_counter(), time.process_time(), time.thread_time()


def op_profiler():
    """Wraps every autograd Function's forward / backward: {name: [wall, cpu all threads, cpu this thread]}."""
    from seqkernels import autograd
    import seqkernels.autograd_functions  # noqa: F401  (defines the Function classes)

    stats = collections.defaultdict(lambda: [0.0, 0.0, 0.0])

    def wrap(owner, attr):
        original = owner.__dict__[attr]
        fn, kind = original.__func__, type(original)

        def timed(*args, **kwargs):
            start = clock()
            result = fn(*args, **kwargs)
            s = stats[f"{(args[0] if kind is classmethod else owner).__name__}.{attr}"]
            for i, (a, b) in enumerate(zip(start, clock())):
                s[i] += b - a
            return result
        setattr(owner, attr, kind(timed))

    pending = [autograd.Function]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        for attr in ("forward", "backward"):
            if isinstance(cls.__dict__.get(attr), (classmethod, staticmethod)):
                wrap(cls, attr)
    return stats


def run_one(task, framework, threads, steps, profile):
    data, num_labels, folder = batches(task, steps)
    model_class, lr = TASKS[task]
    stats = None
    if framework == "ours":
        import seqkernels as sk
        from seqkernels import models, optim

        sk.set_num_threads(threads)
        sk.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = getattr(models, model_class).from_pretrained(folder, num_labels=num_labels)
        opt = optim.AdamW(list(net.parameters()), lr=lr, weight_decay=0.01)
        stats = op_profiler() if profile else None

        def step(ids, mask, y):
            loss = net(ids, attention_mask=mask, labels=y).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        import torch
        import transformers

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        transformers.logging.set_verbosity_error()
        net = getattr(transformers, model_class).from_pretrained(folder, num_labels=num_labels)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
        data = [[torch.from_numpy(a) for a in b] for b in data]

        def step(ids, mask, y):
            loss = net(input_ids=ids, attention_mask=mask, labels=y).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.train()
    step(*data[0])
    if stats is not None:
        stats.clear()
    start = clock()
    for batch in data[1:]:
        step(*batch)
    wall, cpu, own = (b - a for a, b in zip(start, clock()))
    result = {"ms_per_step": 1000 * wall / steps, "cpu_share": cpu / wall, "threads_over_caller": cpu / own}
    if stats is not None:
        result["ops"] = {k: [v[0] / wall, v[1] / v[2] if v[2] else 0.0] for k, v in stats.items()}
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), default="ner")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_one(args.task, args.child[0], args.threads, args.steps, args.profile)))
        return
    runs = collections.defaultdict(list)
    for _ in range(args.rounds):
        for framework in ("ours", "torch"):
            for policy in ("ACTIVE", "PASSIVE"):
                env = dict(os.environ, OMP_WAIT_POLICY=policy,
                           PYTHONPATH=os.pathsep.join([os.path.join(HERE, "..", "python"),
                                                       os.environ.get("PYTHONPATH", "")]))
                cmd = [sys.executable, __file__, "--child", framework, policy, "--task", args.task,
                       "--threads", str(args.threads), "--steps", str(args.steps)]
                cmd += ["--profile"] if args.profile and framework == "ours" else []
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                runs[framework, policy].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.task}: {args.threads} threads, {args.steps} steps x {args.rounds} rounds (medians)")
    print(f"{'framework':>10} {'policy':>8} {'ms/step':>8} {'CPU share':>9} {'threads/caller':>14}")
    for (framework, policy), rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("ms_per_step", "cpu_share", "threads_over_caller")}
        print(f"{framework:>10} {policy:>8} {med['ms_per_step']:8.0f} {med['cpu_share']:9.2f} "
              f"{med['threads_over_caller']:14.2f}")
    if args.profile:
        for policy in ("ACTIVE", "PASSIVE"):
            ops = runs["ours", policy][-1]["ops"]
            print(f"\nseqkernels ops, {policy} (share of the step's wall time, all-threads / calling-thread CPU):")
            for name, (frac, ratio) in sorted(ops.items(), key=lambda kv: -kv[1][0])[:14]:
                print(f"  {name:40} {100 * frac:5.1f}% {ratio:5.2f}")


if __name__ == "__main__":
    main()
