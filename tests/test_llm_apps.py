"""sk.quantization.quantize_dynamic on a float Llama and on nn modules, and the `seqkernels generate` / `chat`
commands on a tiny GGUF model."""
import io
import sys

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import nn
from seqkernels.models import LlamaForCausalLM

transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")
from test_llama import HEADS, hf_model, write_gguf  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_llama_q")
    hf_model(tie=False, seed=4).save_pretrained(path, safe_serialization=True)
    return path


def test_quantize_dynamic_llama(folder):
    model = LlamaForCausalLM.from_pretrained(folder)
    q = sk.quantization.quantize_dynamic(model)
    assert q is not model and model.layers[0].qkv.qtype is None
    assert q.layers[0].qkv.qtype == 8 and q.lm_head.qtype == 8
    ids = np.random.default_rng(5).integers(0, model.config.vocab_size, 15)
    a, b = q.forward(ids).logits, model.forward(ids).logits
    # int8 weights (Q8_0) and int8 activations: both rounded to 1/254 of their block's largest value.
    assert np.abs(a - b).mean() <= 0.08 * np.abs(b).mean()
    assert (a.argmax(-1) == b.argmax(-1)).mean() >= 0.8
    same = sk.quantization.quantize_dynamic(model, inplace=True)
    assert same is model and model.layers[0].qkv.qtype == 8


def test_quantize_dynamic_modules():
    sk.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 10), nn.Linear(10, 3))
    x = sk.randn(5, 64)
    with pytest.warns(UserWarning, match="multiple of 32"):
        q = sk.quantization.quantize_dynamic(net)
    assert isinstance(q[0], sk.quantization.DynamicQuantizedLinear) and isinstance(q[3], nn.Linear)
    a, b = q(x).numpy(), net(x).numpy()
    assert np.abs(a - b).max() <= 0.03 * np.abs(b).max()
    with pytest.raises(ValueError):
        sk.quantization.quantize_dynamic(net, dtype="float16")


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory):
    from gguf import GGMLQuantizationType as GT

    path = tmp_path_factory.mktemp("tiny_cli") / "tiny.gguf"
    write_gguf(path, hf_model(tie=True, seed=1), GT.Q8_0)
    return path


def test_cli_generate_streams(gguf_path, capsys):
    from seqkernels.cli import main

    main(["generate", "the cat", "--model", str(gguf_path), "--max-new-tokens", "5", "--temperature", "0"])
    out = capsys.readouterr().out
    model = LlamaForCausalLM.from_gguf(gguf_path)
    ids = model.tokenizer.apply_chat_template([{"role": "user", "content": "the cat"}])
    expect = model.generate(np.array(ids), 5, repetition_penalty=1.1)
    assert out == model.tokenizer.decode(expect[len(ids):], skip_special_tokens=True) + "\n"


def test_cli_chat_two_turns_and_exit(gguf_path, capsys, monkeypatch):
    from seqkernels.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\nagain\n/exit\n"))
    main(["chat", "--model", str(gguf_path), "--max-new-tokens", "4", "--temperature", "0"])
    out = capsys.readouterr().out
    assert out.count("> ") == 3 and "seqkernels chat" in out


def test_cli_generate_missing_model(tmp_path):
    from seqkernels.cli import main

    with pytest.raises(SystemExit):
        main(["generate", "hi", "--model", str(tmp_path / "nope.gguf")])
