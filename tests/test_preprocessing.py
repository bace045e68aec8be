"""Tokenizer and pad_sequences against Keras's documented behaviour (the examples of its docs and the
cases its own tests cover), worked out by hand here: frequency ranking, OOV at index 1, the num_words
boundary, every matrix mode, JSON round trip, char-level Chinese, and every error pad_sequences raises."""
import json
from collections import OrderedDict

import numpy as np
import pytest

from seqkernels.preprocessing.sequence import pad_sequences
from seqkernels.preprocessing.text import DEFAULT_FILTERS, Tokenizer, text_to_word_sequence, tokenizer_from_json

TEXTS = ["The cat sat on the mat.", "The dog sat on the log.", "Dogs and cats living together."]
# counts: the 4, sat 2, on 2, then the words seen once in first-seen order
RANKED = ["the", "sat", "on", "cat", "mat", "dog", "log", "dogs", "and", "cats", "living", "together"]


def fitted(**kwargs):
    tok = Tokenizer(**kwargs)
    tok.fit_on_texts(TEXTS)
    return tok


def test_text_to_word_sequence_filters_lower_split():
    assert DEFAULT_FILTERS == '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
    assert text_to_word_sequence("Hello, World!\tIt's  here.") == ["hello", "world", "it's", "here"]
    assert text_to_word_sequence("a-b c", filters="", lower=False) == ["a-b", "c"]
    assert text_to_word_sequence("A|b.c", split="|") == ["a", "b", "c"]
    assert text_to_word_sequence("a b", split=str.split) == ["a", "b"]


def test_word_index_ranks_by_frequency_ties_in_first_seen_order():
    tok = fitted()
    assert tok.word_index == {w: i + 1 for i, w in enumerate(RANKED)}
    assert tok.index_word == {i + 1: w for i, w in enumerate(RANKED)}
    assert isinstance(tok.word_counts, OrderedDict)
    assert list(tok.word_counts.items())[:4] == [("the", 4), ("cat", 1), ("sat", 2), ("on", 2)]
    assert tok.document_count == 3
    assert tok.word_docs["the"] == 2 and tok.word_docs["dogs"] == 1
    assert tok.index_docs[1] == 2 and tok.index_docs[8] == 1
    assert tok.texts_to_sequences(TEXTS) == [[1, 4, 2, 3, 1, 5], [1, 6, 2, 3, 1, 7], [8, 9, 10, 11, 12]]
    assert list(tok.texts_to_sequences_generator(TEXTS[:1])) == [[1, 4, 2, 3, 1, 5]]


def test_num_words_keeps_indices_below_it():
    tok = fitted(num_words=5)
    assert len(tok.word_index) == len(RANKED)  # the vocabulary itself is never cut
    assert tok.texts_to_sequences(TEXTS) == [[1, 4, 2, 3, 1], [1, 2, 3, 1], []]
    assert tok.sequences_to_texts([[1, 4, 5, 12]]) == ["the cat"]
    assert fitted(num_words=1).texts_to_sequences(TEXTS) == [[], [], []]


def test_oov_token_takes_index_one_and_replaces_unknown_and_rare_words():
    tok = fitted(num_words=5, oov_token="<OOV>")
    assert tok.word_index["<OOV>"] == 1 and tok.word_index["the"] == 2 and tok.index_word[1] == "<OOV>"
    assert tok.texts_to_sequences(["The cat sat on the zebra"]) == [[2, 1, 3, 4, 2, 1]]  # cat is index 5
    assert tok.sequences_to_texts([[2, 5, 99]]) == ["the <OOV> <OOV>"]
    plain = fitted()
    assert plain.texts_to_sequences(["zebra the"]) == [[1]]  # no oov_token: unknown words vanish
    assert plain.sequences_to_texts([[1, 0, 99, 2]]) == ["the sat"]


def test_empty_text_and_token_lists():
    tok = fitted()
    assert tok.texts_to_sequences(["", "...!"]) == [[], []]
    tok.fit_on_texts([["The", "Zebra"]])  # a list is taken as tokens (lower-cased, not filtered)
    assert tok.word_counts["the"] == 5 and tok.word_counts["zebra"] == 1 and tok.document_count == 4
    assert tok.texts_to_sequences([["zebra", "THE"]]) == [[tok.word_index["zebra"], 1]]


def test_char_level_chinese():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["我爱北京", "我爱上海!"])
    assert tok.word_index == {"我": 1, "爱": 2, "北": 3, "京": 4, "上": 5, "海": 6, "!": 7}  # no filtering
    assert tok.texts_to_sequences(["上海我", "东京"]) == [[5, 6, 1], [4]]
    assert tok.sequences_to_texts([[1, 2, 3, 4]]) == ["我 爱 北 京"]


def test_lower_false_and_custom_split():
    tok = Tokenizer(lower=False, split=";", filters="")
    tok.fit_on_texts(["A;b;A", "b"])
    assert tok.word_index == {"A": 1, "b": 2}
    assert tok.texts_to_sequences(["a;A"]) == [[1]]


def test_matrix_modes():
    tok = fitted(num_words=6)
    seqs = [[1, 4, 2, 3, 1, 5], [1, 7, 99], []]
    np.testing.assert_array_equal(tok.sequences_to_matrix(seqs, "binary")[0], [0, 1, 1, 1, 1, 1])
    counts = tok.sequences_to_matrix(seqs, "count")
    assert counts.shape == (3, 6) and counts.dtype == np.float64
    np.testing.assert_array_equal(counts, [[0, 2, 1, 1, 1, 1], [0, 1, 0, 0, 0, 0], [0] * 6])
    # freq divides by the whole sequence length, ids >= num_words included (Keras)
    np.testing.assert_allclose(tok.sequences_to_matrix(seqs, "freq")[1], [0, 1 / 3, 0, 0, 0, 0])
    tfidf = tok.sequences_to_matrix(seqs, "tfidf")
    # (1 + ln c) * ln(1 + N / (1 + df)): "the" twice in doc 0, in 2 of the 3 documents
    assert tfidf[0, 1] == pytest.approx((1 + np.log(2)) * np.log(1 + 3 / 3))
    assert tfidf[0, 4] == pytest.approx(np.log(1 + 3 / 2))
    np.testing.assert_array_equal(tok.texts_to_matrix(TEXTS, "count"), tok.sequences_to_matrix(
        tok.texts_to_sequences(TEXTS), "count"))
    assert fitted().texts_to_matrix(TEXTS).shape == (3, len(RANKED) + 1)  # width: vocabulary + 1


def test_matrix_errors():
    with pytest.raises(ValueError, match="Specify a dimension"):
        Tokenizer().sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="before using tfidf"):
        Tokenizer(num_words=4).sequences_to_matrix([[1]], mode="tfidf")
    with pytest.raises(ValueError, match="Unknown vectorization mode"):
        fitted().sequences_to_matrix([[1]], mode="onehot")


def test_fit_on_sequences_enables_tfidf():
    tok = Tokenizer(num_words=4)
    tok.fit_on_sequences([[1, 2, 2], [2, 3]])
    assert tok.document_count == 2 and dict(tok.index_docs) == {1: 1, 2: 2, 3: 1}
    m = tok.sequences_to_matrix([[2, 2]], mode="tfidf")
    assert m[0, 2] == pytest.approx((1 + np.log(2)) * np.log(1 + 2 / 3))


def test_json_round_trip_keeps_every_table_and_behaviour():
    tok = fitted(num_words=8, oov_token="<unk>", lower=True)
    config = json.loads(tok.to_json())
    assert config["class_name"] == "Tokenizer"
    assert set(config["config"]) == {"num_words", "filters", "lower", "split", "char_level", "oov_token",
                                     "document_count", "word_counts", "word_docs", "index_docs",
                                     "index_word", "word_index"}
    back = tokenizer_from_json(tok.to_json(indent=2))
    for name in ("word_counts", "word_docs", "index_docs", "word_index", "index_word", "document_count",
                 "num_words", "oov_token", "filters"):
        assert getattr(back, name) == getattr(tok, name), name
    assert list(back.word_counts) == list(tok.word_counts)
    probe = ["the zebra sat on a log", ""]
    assert back.texts_to_sequences(probe) == tok.texts_to_sequences(probe)
    back.fit_on_texts(["zebra"])  # a restored tokenizer keeps fitting
    assert back.word_docs["zebra"] == 1 and back.document_count == 4


def test_constructor_arguments():
    with pytest.warns(UserWarning, match="num_words"):
        assert Tokenizer(nb_words=3).num_words == 3
    with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
        Tokenizer(vocab=3)
    with pytest.raises(TypeError, match="num_words"):
        Tokenizer(num_words=2.5)
    by_dash = Tokenizer(analyzer=lambda t: t.split("-"))
    by_dash.fit_on_texts(["x y-z", "z"])
    assert by_dash.word_index == {"z": 1, "x y": 2}


# ---- pad_sequences ------------------------------------------------------------------------------
SEQS = [[1], [2, 3], [4, 5, 6]]


def test_pad_sequences_documented_examples():
    out = pad_sequences(SEQS)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQS, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQS, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2, truncating="post"), [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2, padding="post", truncating="post"),
                                  [[1, 0], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=5, padding="post", value=9),
                                  [[1, 9, 9, 9, 9], [2, 3, 9, 9, 9], [4, 5, 6, 9, 9]])


def test_pad_sequences_dtype_value_and_edge_lengths():
    out = pad_sequences([[0.5, 1.5], [2.25]], dtype="float32", value=-0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.5, 1.5], [-0.5, 2.25]])
    np.testing.assert_array_equal(pad_sequences([[1.7, 2.2]], dtype="int64"), [[1, 2]])  # cast, as numpy
    assert pad_sequences(SEQS, maxlen=0).shape == (3, 0)
    assert pad_sequences(SEQS, maxlen=0, truncating="post").shape == (3, 0)
    np.testing.assert_array_equal(pad_sequences([[], [7]]), [[0], [7]])
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([]).shape == (0, 0)
    np.testing.assert_array_equal(pad_sequences([np.array([3, 4]), (5,)], maxlen=3), [[0, 3, 4], [0, 0, 5]])
    vectors = pad_sequences([np.ones((2, 4)), np.ones((1, 4))], dtype="float32")
    assert vectors.shape == (2, 2, 4) and vectors[1, 0].sum() == 0 and vectors[1, 1].sum() == 4


def test_pad_sequences_strings():
    out = pad_sequences([["a", "bb"], ["ccc"]], dtype=object, value="<pad>")
    assert out.tolist() == [["a", "bb"], ["<pad>", "ccc"]]
    assert pad_sequences([["a"]], maxlen=2, dtype="<U3", value="x").tolist() == [["x", "a"]]
    with pytest.raises(ValueError, match="dtype=object"):
        pad_sequences([["a"]], dtype="int32", value="x")


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="must be iterable"):
        pad_sequences(5)
    with pytest.raises(ValueError, match="Found non-iterable: 1"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match='Padding type "middle" not understood'):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match='Truncating type "middle" not understood'):
        pad_sequences(SEQS, truncating="middle")
    with pytest.raises(ValueError, match="different from expected shape"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="maxlen"):
        pad_sequences(SEQS, maxlen=-1)
