"""The translation application: the vendored Bible pairs and their book split, the subword tokenizer, batching,
and `seqkernels translate train` / `text` end to end on a tiny model."""
import numpy as np
import pytest

pytest.importorskip("tokenizers")

from seqkernels import cli, translation as T  # noqa: E402
from seqkernels.data.bible import BIBLE_SPLITS, bible_splits, load_bible_pairs  # noqa: E402


def test_bible_pairs_and_book_split():
    rows = load_bible_pairs()
    assert len(rows) == 31102
    assert rows[0]["en"] == "In the beginning God created the heaven and the earth."
    assert rows[0]["fr"] == "Au commencement, Dieu créa les cieux et la terre."
    train, valid, test = bible_splits()
    assert len(train) + len(valid) + len(test) == 31102
    held = set(BIBLE_SPLITS["test"]) | set(BIBLE_SPLITS["valid"])
    assert train == [(r["en"], r["fr"]) for r in rows if r["book"] not in held]  # no held-out book's verse
    assert test == [(r["en"], r["fr"]) for r in rows if r["book"] in BIBLE_SPLITS["test"]]
    assert len(test) == 342 and len(valid) == 132
    assert {row["book"] for row in rows} >= set(BIBLE_SPLITS["test"]) | set(BIBLE_SPLITS["valid"])
    with pytest.raises(ValueError, match="source"):
        bible_splits(source="de")


def test_tokenizer_roundtrip_and_batches(tmp_path):
    texts = ["Au commencement, Dieu créa les cieux et la terre.", "In the beginning God created the heaven."] * 5
    tok = T.train_tokenizer(texts, vocab_size=120)
    assert [tok.token_to_id(s) for s in T.SPECIALS] == [0, 1, 2, 3]
    ids = T.encode(tok, texts[:2], max_len=8)
    assert all(len(s) <= 8 and s[-1] == T.EOS for s in ids)
    full = T.encode(tok, texts[:1], max_len=200)[0]
    assert tok.decode(full[:-1]) == texts[0]
    tok.save(str(tmp_path / "t.json"))
    batch = T.pad_batch([[5, 6], [7]], bos=True)
    np.testing.assert_array_equal(batch, [[1, 5, 6], [1, 7, 0]])
    rng = np.random.default_rng(0)
    src = [[4] * n for n in rng.integers(1, 30, 200)]
    batches = T.bucketed_batches(src, src, 64, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(200))
    assert all(len(b) * max(len(src[i]) for i in b) <= 64 or len(b) == 1 for b in batches)
    assert T.noam_lr(1, 1e-3, 10) == pytest.approx(1e-4) and T.noam_lr(40, 1e-3, 10) == pytest.approx(5e-4)


@pytest.mark.parametrize("model", ["transformer", "lstm-bahdanau"])
def test_translate_cli_train_and_text(tmp_path, capsys, model):
    data = tmp_path / "pairs.tsv"
    data.write_text("In the beginning\tAu commencement\nGod is love\tDieu est amour\nthe light\tla lumière\n",
                    encoding="utf-8")
    out = tmp_path / "model"
    assert cli.main(["translate", "train", str(data), "--output-dir", str(out), "--model", model, "--steps", "4",
                     "--vocab-size", "60", "--d-model", "16", "--nhead", "2", "--layers", "1", "--ffn", "16",
                     "--warmup", "2"]) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors", "tokenizer.json"}
    capsys.readouterr()
    assert cli.main(["translate", "text", "God is love", "the light", "--model-dir", str(out), "--beams", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    translator = T.Translator(str(out))
    assert translator.translate(["God is love"], num_beams=2) == lines[:1]
    with pytest.raises(SystemExit):
        cli.main(["translate", "text", "x", "--model-dir", str(tmp_path / "missing")])
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        cli.main(["translate", "train", str(bad), "--output-dir", str(out)])
