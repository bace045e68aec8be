"""The sentiment application: the bundled fine-food reviews, the scores, and a tiny train / predict."""
import numpy as np
import pytest

from seqkernels import cli
from seqkernels.apps import sentiment
from seqkernels.data import load_fine_foods


def test_bundled_fine_foods():
    texts, labels = load_fine_foods("train")
    test_texts, test_labels = load_fine_foods("test")
    assert (len(texts), len(test_texts)) == (4000, 1000)
    assert (labels.count("great"), test_labels.count("great")) == (2600, 658)
    assert texts[0] == "this stuff is  not stuffing  its  not good at all  save your money"
    with pytest.raises(ValueError, match="split"):
        load_fine_foods("validation")


def test_scores():
    s = sentiment.scores(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert s["accuracy"] == pytest.approx(0.6)
    assert s["f1_great"] == pytest.approx(2 / 3) and s["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)


def tiny_data(n=64):
    rng = np.random.default_rng(0)
    good, bad = "great tasty love delicious perfect".split(), "awful stale bad broken bland".split()
    rows = [(" ".join(rng.choice(good if i % 2 else bad, 6)) + " coffee", "great" if i % 2 else "other")
            for i in range(n)]
    texts, labels = [t for t, _ in rows], [l for _, l in rows]
    return texts[:48], labels[:48], texts[48:], labels[48:]


@pytest.mark.parametrize("model", ["textcnn", "bilstm"])
def test_from_scratch_models_learn_a_tiny_set(model):
    _, _, result = sentiment.train_sentiment(model, epochs=6, data=tiny_data(), log=lambda *a: None)
    assert result["test"]["accuracy"] == 1.0


def test_cli_train_predict(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sentiment, "load_data", tiny_data)
    out = str(tmp_path / "m")
    cli.main(["train", "--task", "sentiment", "--model", "textcnn", "--epochs", "6", "--output-dir", out])
    assert "accuracy 1.0000" in capsys.readouterr().out
    cli.main(["predict", "--task", "sentiment", "--model-dir", out, "love this delicious coffee", "stale bad coffee"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("great") and lines[1].startswith("other")
