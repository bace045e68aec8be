"""LlamaForCausalLM against transformers on tiny random models: a Hugging Face folder (float32 safetensors)
and a GGUF file written with gguf's writer (q/k permuted as llama.cpp's converter does, quantized with gguf's
reference quantizers, a byte-level BPE tokenizer and a ChatML template in its metadata). Prefill logits, every
cached step, greedy generation, sampling options, the tokenizer and the chat template."""
import os

import numpy as np
import pytest

import seqkernels as sk
from seqkernels.models import LlamaCache, LlamaForCausalLM

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 64, 96, 2, 4, 2, 16
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "r e", "Ġ w", "a t", "e n", "Ġ c", "i s",
          "Ġ o", "o r", "a n", "l l", "1 2"]
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def vocabulary():
    from tokenizers import pre_tokenizers

    tokens = SPECIAL + sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens += ["".join(m.split(" ")) for m in MERGES]
    return tokens


def hf_model(tie: bool, seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(vocabulary()), hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM, rms_norm_eps=1e-5,
        rope_theta=10000.0, max_position_embeddings=256, tie_word_embeddings=tie, initializer_range=0.25,
        bos_token_id=1, eos_token_id=2)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():  # non-trivial norm weights
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
    return model


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor(np.asarray(ids)[None])).logits[0].numpy()


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_llama")
    model = hf_model(tie=False)
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


def test_from_pretrained_prefill_and_cached_steps_match_transformers(hf_folder):
    folder, ref = hf_folder
    model = LlamaForCausalLM.from_pretrained(folder)
    ids = np.random.default_rng(0).integers(0, model.config.vocab_size, 23)
    expect = hf_logits(ref, ids)
    # Float32 on both sides; differences are summation order only (logits are O(10) here).
    bound = 1e-4 * max(1.0, np.abs(expect).max())
    out = model.forward(ids)
    np.testing.assert_allclose(out.logits, expect, atol=bound, rtol=0)
    # Prefill 9 tokens, then a block of 5 after the cache (bottom-right causal), then one token at a time.
    cache = model.forward(ids[:9]).past_key_values
    block = model.forward(ids[9:14], past_key_values=cache).logits
    np.testing.assert_allclose(block, expect[9:14], atol=bound, rtol=0)
    for t in range(14, len(ids)):
        step = model.forward(ids[t:t + 1], past_key_values=cache).logits
        np.testing.assert_allclose(step[0], expect[t], atol=bound, rtol=0)
    assert cache.get_seq_length() == len(ids)


def test_greedy_generation_matches_transformers(hf_folder):
    folder, ref = hf_folder
    model = LlamaForCausalLM.from_pretrained(folder)
    prompt = np.array([5, 17, 99, 3, 42], np.int64)
    with torch.no_grad():
        expect = ref.generate(torch.tensor(prompt[None]), max_new_tokens=24, do_sample=False, eos_token_id=None,
                              pad_token_id=0).numpy()[0]
    got = model.generate(prompt, max_new_tokens=24, eos_token_id=None)
    np.testing.assert_array_equal(got, expect)


def test_batched_forward_equals_each_row(hf_folder):
    model = LlamaForCausalLM.from_pretrained(hf_folder[0])
    ids = np.random.default_rng(1).integers(0, model.config.vocab_size, (3, 7))
    both = model.forward(ids).logits
    for b in range(3):
        np.testing.assert_allclose(both[b], model.forward(ids[b]).logits, atol=1e-4, rtol=0)


def test_generation_options(hf_folder):
    model = LlamaForCausalLM.from_pretrained(hf_folder[0])
    prompt = np.array([[7, 8, 9]])
    a = model.generate(prompt, max_new_tokens=12, temperature=0.8, top_k=20, top_p=0.9, seed=3, eos_token_id=None)
    b = model.generate(prompt, max_new_tokens=12, temperature=0.8, top_k=20, top_p=0.9, seed=3, eos_token_id=None)
    assert a.shape == (1, 15) and np.array_equal(a, b)
    assert np.array_equal(a[0, :3], prompt[0])
    # top_k=1 is greedy whatever the temperature.
    np.testing.assert_array_equal(model.generate(prompt, 8, temperature=5.0, top_k=1, seed=1, eos_token_id=None),
                                  model.generate(prompt, 8, eos_token_id=None))
    # A strong repetition penalty never repeats a token while fresh ones score higher.
    rep = model.generate(prompt[0], 10, repetition_penalty=1e6, eos_token_id=None)
    assert len(set(rep[3:].tolist())) == 10
    # Stops at the end-of-sequence id.
    greedy = model.generate(prompt[0], 6, eos_token_id=None)
    stop_at = int(greedy[5])
    assert model.generate(prompt[0], 6, eos_token_id=stop_at)[-1] == stop_at
    for bad in (dict(temperature=-1), dict(top_k=0), dict(top_p=0.0), dict(repetition_penalty=0), dict(max_new_tokens=-1)):
        kwargs = dict(max_new_tokens=2, **bad) if "max_new_tokens" not in bad else bad
        with pytest.raises(ValueError):
            model.generate(prompt, **kwargs)
    with pytest.raises(IndexError):
        model.forward(np.array([model.config.vocab_size]))
    with pytest.raises(TypeError):
        model.forward(np.array([1.5]))


# ---- GGUF -------------------------------------------------------------------------------------------------
def permute(w, heads):
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (half-split -> interleaved rotary)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, model, qtype):
    from gguf import GGMLQuantizationType as GT

    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    tokens = vocabulary()
    w = gguf.GGUFWriter(os.fspath(path), "llama")
    w.add_name("tiny")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3] * len(SPECIAL) + [1] * (len(tokens) - len(SPECIAL)))
    w.add_token_merges(MERGES)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    def matrix(name, a):
        w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)

    w.add_tensor("token_embd.weight", gguf.quants.quantize(sd["model.embed_tokens.weight"], GT.Q8_0), raw_dtype=GT.Q8_0)
    if "lm_head.weight" in sd and not model.config.tie_word_embeddings:
        matrix("output.weight", sd["lm_head.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    for i in range(LAYERS):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", sd[p + "input_layernorm.weight"])
        w.add_tensor(b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        matrix(b + "attn_q.weight", permute(sd[p + "self_attn.q_proj.weight"], HEADS))
        matrix(b + "attn_k.weight", permute(sd[p + "self_attn.k_proj.weight"], KV_HEADS))
        matrix(b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        matrix(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        matrix(b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        matrix(b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        matrix(b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module", params=["Q4_0", "Q4_1", "Q8_0"])
def gguf_file(request, tmp_path_factory):
    from gguf import GGMLQuantizationType as GT

    path = tmp_path_factory.mktemp("tiny_gguf") / f"tiny-{request.param}.gguf"
    write_gguf(path, hf_model(tie=True, seed=1), GT[request.param])
    return path


def test_gguf_dequantized_matches_transformers_gguf_loader(gguf_file):
    pytest.importorskip("accelerate")
    ref = transformers.AutoModelForCausalLM.from_pretrained(os.fspath(gguf_file.parent), gguf_file=gguf_file.name,
                                                            dtype=torch.float32).eval()
    model = LlamaForCausalLM.from_gguf(gguf_file, dequantize=True)
    assert model.config.rope_interleaved and model.config.tie_word_embeddings
    ids = np.random.default_rng(2).integers(0, model.config.vocab_size, 17)
    expect = hf_logits(ref, ids)
    bound = 1e-4 * max(1.0, np.abs(expect).max())
    np.testing.assert_allclose(model.forward(ids).logits, expect, atol=bound, rtol=0)
    cache = model.forward(ids[:10]).past_key_values
    for t in range(10, 17):
        np.testing.assert_allclose(model.forward(ids[t:t + 1], cache).logits[0], expect[t], atol=bound, rtol=0)


def test_gguf_quantized_path_close_to_dequantized(gguf_file):
    quant = LlamaForCausalLM.from_gguf(gguf_file)
    exact = LlamaForCausalLM.from_gguf(gguf_file, dequantize=True)
    assert quant.layers[0].qkv.qtype is not None and exact.layers[0].qkv.qtype is None
    ids = np.random.default_rng(3).integers(0, quant.config.vocab_size, 19)
    a, b = quant.forward(ids).logits, exact.forward(ids).logits
    # The only difference is the 8-bit activations: 0.55% (mean relative) per projection here, amplified by
    # this random network's sharp attention to ~4% at the logits (the real SmolLM2: 5% of the largest logit
    # at most, 97% of argmaxes equal).
    assert np.abs(a - b).mean() <= 0.08 * np.abs(b).mean()
    assert np.abs(a - b).max() <= 0.15 * np.abs(b).max()
    assert (a.argmax(-1) == b.argmax(-1)).mean() >= 0.8


def test_gguf_tokenizer_matches_transformers(gguf_file):
    model = LlamaForCausalLM.from_gguf(gguf_file)
    tok = model.tokenizer
    ref = transformers.AutoTokenizer.from_pretrained(os.fspath(gguf_file.parent), gguf_file=gguf_file.name)
    for text in ["the cat sat on the mat", "Hello, world! in the", "  spaces\tand\nnewlines  ",
                 "<|im_start|>user\nhi<|im_end|>", "naïve café ✓"]:
        assert tok.encode(text) == ref.encode(text, add_special_tokens=False), text
        assert tok.decode(tok.encode(text)) == text
    # The 'smollm' pre-tokenizer splits digits one by one (llama.cpp's rule and the original tokenizer.json's;
    # transformers' GGUF converter does not, so "12" would use the merge "1 2" there).
    digits = tok.encode("x 12345")
    assert len(digits) == 7 and tok.decode(digits) == "x 12345"
    messages = [{"role": "user", "content": "Hi there"}]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    assert tok.apply_chat_template(messages) == tok.encode(text)
    assert tok.eos_token_id == 2 and tok.eos_token == "<|im_end|>"


def test_gguf_streaming_generation(gguf_file):
    model = LlamaForCausalLM.from_gguf(gguf_file)
    pieces = []
    prompt = model.tokenizer.encode("the cat")
    ids = model.generate(np.array(prompt), max_new_tokens=10, eos_token_id=None, streamer=pieces.append)
    assert "".join(pieces) == model.tokenizer.decode(ids[len(prompt):], skip_special_tokens=True)
    assert isinstance(model.forward(ids[:3]).past_key_values, LlamaCache)


def test_stream_decoder_releases_whole_characters(gguf_file):
    # Pushed one id at a time, the pieces join to the text of all ids, and none ends in a split character
    # (byte-level BPE spells rare characters as several byte tokens).
    from seqkernels.models.llama import _StreamDecoder

    tok = LlamaForCausalLM.from_gguf(gguf_file).tokenizer
    text = "naïve café ✓ 日本語 — the end"
    ids = tok.encode(text)
    stream = _StreamDecoder(tok)
    pieces = [stream.push(i) for i in ids] + [stream.flush()]
    assert "".join(pieces) == text == stream.text
    assert not any(p.endswith("\ufffd") for p in pieces)
    assert len(ids) > len(text.split())  # several ids per word: the pieces were really joined


def test_gguf_reads_tensors_in_place(gguf_file):
    model = LlamaForCausalLM.from_gguf(gguf_file)
    part = model.layers[0].qkv.parts[0]
    mapping = part
    while mapping is not None and not isinstance(mapping, np.memmap):  # a view (of a view) of the file's map
        mapping = mapping.base
    assert mapping is not None and os.path.samefile(mapping.filename, gguf_file)
    assert np.shares_memory(part, mapping)
    with pytest.raises(FileNotFoundError):
        LlamaForCausalLM.from_gguf(gguf_file.parent / "missing.gguf")
