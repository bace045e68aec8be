"""Explanations on a tiny random BERT classifier: attention maps equal transformers' output_attentions,
gradient x input equals torch autograd's, integrated gradients satisfy completeness; and a saved PNG."""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import explain
from seqkernels.models import BertConfig, BertForSequenceClassification

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def pair():
    sk.manual_seed(0)
    cfg = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
               max_position_embeddings=32, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
               initializer_range=0.3)  # large weights: logits and gradients far from 0
    ours = BertForSequenceClassification(BertConfig(**cfg)).eval()
    ref = transformers.BertForSequenceClassification(transformers.BertConfig(**cfg, attn_implementation="eager")).eval()
    ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}, strict=False)
    return ours, ref


def test_attention_maps_equal_transformers(pair):
    ours, ref = pair
    ids = np.array([2, 7, 9, 11, 3, 5, 3], np.int64)
    mask = np.array([[1, 1, 1, 1, 1, 0, 0]])
    got = ours.bert(ids[None], attention_mask=mask, output_attentions=True)
    with torch.no_grad():
        expected = ref.bert(torch.from_numpy(ids[None]), attention_mask=torch.from_numpy(mask), output_attentions=True)
    assert len(got.attentions) == 2 and got.attentions[0].shape == (1, 4, 7, 7)
    for a, b in zip(got.attentions, expected.attentions):
        np.testing.assert_allclose(a.data, b.numpy(), atol=1e-5)
    np.testing.assert_allclose(got.last_hidden_state.data, expected.last_hidden_state.numpy(), atol=1e-4)
    maps = explain.attention_maps(ours, ids)
    assert maps.shape == (2, 4, 7, 7) and np.allclose(maps.sum(-1), 1, atol=1e-5)


def test_gradient_x_input_equals_torch_autograd(pair):
    ours, ref = pair
    ids = np.array([2, 4, 8, 15, 3], np.int64)
    got = explain.gradient_x_input(ours, ids, target=1)
    t = torch.from_numpy(ids[None])
    emb = ref.bert.embeddings
    words = emb.word_embeddings(t).detach().requires_grad_(True)
    ref(inputs_embeds=words).logits[0, 1].backward()
    expected = (words * words.grad).sum(-1)[0].detach().numpy()
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_integrated_gradients_completeness(pair):
    ours, _ = pair
    ids = np.array([2, 6, 10, 21, 33, 3], np.int64)
    ig, f_x, f_base = explain.integrated_gradients(ours, ids, target=2, steps=64)
    assert ig.shape == (6,)
    assert explain.completeness_gap(ig, f_x, f_base) < 0.02 * abs(f_x - f_base) + 1e-4
    coarse, *_ = explain.integrated_gradients(ours, ids, target=2, steps=1)
    assert not np.allclose(coarse, ig)  # the test can fail: one step is a cruder quadrature
    with pytest.raises(ValueError, match="steps"):
        explain.integrated_gradients(ours, ids, target=0, steps=0)


def test_explain_text_and_heatmap(pair, tmp_path):
    pytest.importorskip("matplotlib")
    from seqkernels.models import BertTokenizer

    ours, _ = pair
    tok = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(45)])
    ex = explain.explain_text(ours, tok, "w1 w2 w3", steps=16)
    assert ex["tokens"] == ["[CLS]", "w1", "w2", "w3", "[SEP]"]
    assert ex["attentions"].shape == (2, 4, 5, 5) and 0 < ex["probability"] <= 1
    explain.save_heatmap(ex, str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_explain_prints_attributions_and_saves_png(pair, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import json

    from seqkernels import cli

    ours, _ = pair
    folder = tmp_path / "clf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**ours.config.to_dict(),
                                                    "id2label": {"0": "neg", "1": "mid", "2": "pos"}}))
    sk.save(ours.state_dict(), str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                                + [f"w{i}" for i in range(45)]) + "\n")
    png = tmp_path / "e.png"
    cli.main(["explain", "w3 w9 w4", "--model-dir", str(folder), "--output", str(png), "--steps", "64"])
    out = capsys.readouterr().out
    assert out.startswith("class ") and "w9" in out and "completeness:" in out
    gap = float(out.split("(gap ")[1].split(",")[0])
    diff = float(out.split("vs logit - baseline ")[1].split(" ")[0])
    assert gap < 0.02 * abs(diff) + 1e-3
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit):
        cli.main(["explain", "w1", "--model-dir", str(folder), "--target", "nope", "--output", str(png)])
