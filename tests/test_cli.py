"""`seqkernels train` and `seqkernels predict` on tiny files, the bundled data set, and the readers'
errors (a missing column names the columns there are)."""
import csv
import json

import numpy as np
import pytest

from seqkernels import cli
from seqkernels.data import load_bbc_news, read_labelled_texts
from seqkernels.text_classifier import split_train_validation

SPORT = "the team won the match with a late goal from the striker"
TECH = "the new phone chip runs software faster and the network app uses less data"


def write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(["review", "topic"])
        writer.writerows(rows)


def tiny_rows(n=60):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        base = (SPORT if i % 2 == 0 else TECH).split()
        rows.append((" ".join(rng.permutation(base)), "sport" if i % 2 == 0 else "tech"))
    return rows


def test_bundled_bbc_news():
    texts, labels = load_bbc_news()
    assert len(texts) == 2225
    assert {label: labels.count(label) for label in set(labels)} == {
        "business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
    assert all(t.strip() for t in texts)


def test_readers_csv_tsv_jsonl(tmp_path):
    write_csv(tmp_path / "a.csv", [("good text", "pos"), ("", "neg"), ("bad text", "neg")])
    assert read_labelled_texts(tmp_path / "a.csv", "review", "topic") == (["good text", "bad text"], ["pos", "neg"])
    write_csv(tmp_path / "a.tsv", [("x, y", "1")], delimiter="\t")
    assert read_labelled_texts(tmp_path / "a.tsv", "review", "topic") == (["x, y"], ["1"])
    (tmp_path / "a.jsonl").write_text(json.dumps({"t": "hello", "l": 3}) + "\n\n" + json.dumps({"t": "bye", "l": 4}))
    assert read_labelled_texts(tmp_path / "a.jsonl", "t", "l") == (["hello", "bye"], ["3", "4"])


def test_reader_errors(tmp_path):
    write_csv(tmp_path / "a.csv", [("good", "pos")])
    with pytest.raises(ValueError, match=r"no column 'text' \(set --text-column\); the columns are: review, topic"):
        read_labelled_texts(tmp_path / "a.csv")
    with pytest.raises(ValueError, match="no column 'label'"):
        read_labelled_texts(tmp_path / "a.csv", text_column="review")
    (tmp_path / "b.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(ValueError, match="line 1: no column 'label'"):
        read_labelled_texts(tmp_path / "b.jsonl")
    (tmp_path / "c.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        read_labelled_texts(tmp_path / "c.jsonl")
    with pytest.raises(ValueError, match="unknown format '.xlsx'"):
        read_labelled_texts(tmp_path / "d.xlsx")
    with pytest.raises(FileNotFoundError):
        read_labelled_texts(tmp_path / "missing.csv")
    write_csv(tmp_path / "empty.csv", [])
    with pytest.raises(ValueError, match="no rows"):
        read_labelled_texts(tmp_path / "empty.csv", "review", "topic")


def test_split_is_stratified_and_disjoint():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2)
    train, val = split_train_validation(labels, 0.2, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(17))
    assert sorted(labels[val].tolist()) == [0, 0, 1, 2]


def test_train_errors_exit_with_a_message(tmp_path, capsys):
    write_csv(tmp_path / "a.csv", tiny_rows(4))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", str(tmp_path / "a.csv")])
    assert exit_info.value.code == 2
    assert "no column 'text' (set --text-column); the columns are: review, topic" in capsys.readouterr().err
    write_csv(tmp_path / "one.csv", [("a b", "x"), ("c d", "x")])
    with pytest.raises(SystemExit):
        cli.main(["train", str(tmp_path / "one.csv"), "--text-column", "review", "--label-column", "topic"])
    assert "at least two classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["predict", "--model-dir", str(tmp_path / "nothing"), "some text"])
    assert "not a trained model directory" in capsys.readouterr().err


def test_train_then_predict(tmp_path, capsys):
    data = tmp_path / "topics.csv"
    write_csv(data, tiny_rows())
    out = tmp_path / "model"
    cli.main(["train", str(data), "--text-column", "review", "--label-column", "topic", "--epochs", "6",
              "--max-len", "16", "--embed-dim", "16", "--hidden", "8", "--batch-size", "8", "--lr", "0.01",
              "--output-dir", str(out), "--verbose", "2"])
    printed = capsys.readouterr().out
    assert "Epoch 6/6" in printed and "validation accuracy:" in printed
    assert "precision" in printed and "sport" in printed and "tech" in printed
    for name in ("model.safetensors", "tokenizer.json", "config.json", "history.csv"):
        assert (out / name).is_file(), name
    accuracy = float(printed.split("validation accuracy:")[1].split()[0])
    assert accuracy >= 0.9  # two topics with disjoint vocabularies
    cli.main(["predict", "--model-dir", str(out), "the striker scored a goal", "a faster phone chip"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["sport", "tech"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1.0 for line in lines)


@pytest.mark.parametrize("model, model_class", [("lstm", "RNNClassifier"), ("bert", "bert")])
def test_other_architectures_train_and_predict(tmp_path, capsys, model, model_class):
    from seqkernels import models
    try:
        getattr(models, model_class) if model != "bert" else __import__("seqkernels.models.bert")
    except (AttributeError, ImportError):
        pytest.skip(f"seqkernels.models has no {model_class} in this checkout")
    data = tmp_path / "topics.csv"
    write_csv(data, tiny_rows(40))
    out = tmp_path / model
    cli.main(["train", str(data), "--text-column", "review", "--label-column", "topic", "--model", model,
              "--epochs", "4", "--max-len", "16", "--embed-dim", "16", "--hidden", "32", "--batch-size", "8",
              "--lr", "0.005", "--output-dir", str(out), "--verbose", "0"])
    assert json.loads((out / "config.json").read_text())["model"] == model
    assert "validation accuracy:" in capsys.readouterr().out
    cli.main(["predict", "--model-dir", str(out), "the striker scored a goal"])
    assert capsys.readouterr().out.split("\t")[0] in ("sport", "tech")
