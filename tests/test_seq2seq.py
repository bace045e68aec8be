"""Seq2SeqTransformer and Seq2SeqLSTM: cached decoding equals full recomputation step by step, beam search with
one beam equals greedy, beam search finds the best hypothesis of an enumerable model, teacher-forced fit learns,
and the PyTorch twin (benchmarks/torch_seq2seq.py) gives the same logits and gradients from the same weights."""
import itertools
import os
import sys

import numpy as np
import pytest

import seqkernels as sk
from seqkernels.losses import SparseCategoricalCrossentropy
from seqkernels.models import Seq2SeqLSTM, Seq2SeqTransformer
from seqkernels.models.generation import _log_softmax

V = 13  # ids 0 pad, 1 bos, 2 eos, 3.. words


def transformer(**kw):
    args = dict(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=24, dropout=0.0)
    args.update(kw)
    return Seq2SeqTransformer(V, **args)


MODELS = {
    "transformer": lambda: transformer(),
    "transformer-postnorm-learned-separate": lambda: transformer(norm_first=False, positions="learned",
                                                                 share_embeddings=False, tgt_vocab_size=V + 2),
    "transformer-shared": lambda: transformer(share_embeddings=True),
    "lstm-luong": lambda: Seq2SeqLSTM(V, embed_dim=10, hidden_size=12, dropout=0.0),
    "lstm-bahdanau": lambda: Seq2SeqLSTM(V, embed_dim=10, hidden_size=12, attention="bahdanau", dropout=0.0,
                                         encoder_layers=2),
}


def batch(rng, n=4, s=7, t=6):
    src = rng.integers(3, V, (n, s))
    src[1, 4:] = 0  # padded source rows
    src[2, 1:] = 0  # a source of one token
    tgt = rng.integers(3, V, (n, t))
    tgt[:, 0] = 1
    return src, tgt


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cached_steps_equal_full_recomputation(rng, name):
    sk.manual_seed(1)
    model = MODELS[name]().eval()
    src, tgt = batch(rng)
    full = model(src, tgt).numpy()
    state = model._start(src)
    steps = np.stack([model._step(state, tgt[:, t]) for t in range(tgt.shape[1])], axis=1)
    np.testing.assert_allclose(steps, full, atol=1e-5, rtol=0)
    # a reordered state continues as the chosen rows would
    state = model._start(src)
    for t in range(3):
        model._step(state, tgt[:, t])
    rows = np.array([3, 3, 0])
    model._reorder(state, rows)
    np.testing.assert_allclose(model._step(state, tgt[rows, 3]), full[rows, 3], atol=1e-5, rtol=0)


def reference_greedy(model, src, steps):
    """Greedy decoding by full recomputation of the prefix (no cache) at every step."""
    rows = []
    for i in range(src.shape[0]):
        prefix = [1]
        for _ in range(steps):
            logits = model(src[i:i + 1], np.array([prefix])).numpy()[0, -1].copy()
            logits[[0, 1]] = -np.inf
            prefix.append(int(logits.argmax()))
            if prefix[-1] == 2:
                break
        rows.append(prefix[1:])
    return rows


@pytest.mark.parametrize("name,eos_bias", [("transformer", 4.0), ("lstm-luong", 2.0), ("lstm-bahdanau", 3.0)])
def test_greedy_and_one_beam_equal_recomputed_greedy(rng, name, eos_bias):
    sk.manual_seed(2)
    model = MODELS[name]()
    for p in model.parameters():  # sharper distributions than the init's ...
        p.data *= 3.0
    model.generator.bias.data[2] += eos_bias  # ... and EOS likely enough that rows end at different steps
    src, _ = batch(rng, n=5)
    want = reference_greedy(model.eval(), src, 9)
    assert len({len(w) for w in want}) > 1, "the test needs rows that end at different steps"
    got = model.generate(src, max_new_tokens=9)
    for row, w in zip(got, want):
        assert list(row[:len(w)]) == w and (row[len(w):] == 0).all()
    # beam search with one beam (its own code path: candidates, finished hypotheses, stopping) is greedy
    with sk.no_grad():
        seqs, _ = model._beam(src, 9, 1, model.eos_id, 1.0, True)
    np.testing.assert_array_equal(model._pack(seqs), got)


def sequence_logp(model, src_row, tokens):
    prefix = np.array([[1] + tokens[:-1]])
    logits = model(src_row[None], prefix).numpy()[0].astype(np.float64)
    logits[:, [0, 1]] = -np.inf
    logp = _log_softmax(logits)
    return float(sum(logp[i, tok] for i, tok in enumerate(tokens)))


@pytest.mark.parametrize("length_penalty", [1.0, 0.0, -0.5, 2.0])
def test_beam_search_finds_the_best_enumerated_hypothesis(rng, length_penalty):
    """Vocabulary {eos, 3, 4, 5}, up to 3 new tokens: 1 + 3 + 9 + 27 = 40 hypotheses, all scored; 9 beams
    hold every live prefix, so the exact search (early_stopping=False) must return the best."""
    sk.manual_seed(3)
    vocab = 6
    model = Seq2SeqTransformer(vocab, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=16, dropout=0.0).eval()
    for p in model.parameters():
        p.data *= 2.0
    src = rng.integers(3, vocab, (3, 4))
    seqs, scores = model.generate(src, max_new_tokens=3, num_beams=9, length_penalty=length_penalty,
                                  early_stopping=False, return_scores=True)
    words = [3, 4, 5]
    hyps = [[2]] + [list(w) + [2] for n in (1, 2) for w in itertools.product(words, repeat=n)] + \
        [list(w) for w in itertools.product(words + [2], repeat=3) if 2 not in w[:2]]
    assert len(hyps) == 1 + 3 + 9 + 27 + 9  # the last: two words then EOS, counted once more below
    hyps = [list(h) for h in {tuple(h) for h in hyps}]
    assert len(hyps) == 40
    for i in range(src.shape[0]):
        scored = [(sequence_logp(model, src[i], h) / len(h) ** length_penalty, h) for h in hyps]
        best_score, best = max(scored)
        got = [int(t) for t in seqs[i] if t != 0]
        assert got == best, (got, best)
        np.testing.assert_allclose(scores[i], best_score, rtol=1e-5, atol=1e-5)


def test_sampling_and_arguments(rng):
    sk.manual_seed(4)
    model = MODELS["transformer"]()
    src, _ = batch(rng)
    sk.manual_seed(7)
    a = model.generate(src, max_new_tokens=5, do_sample=True, temperature=0.7, top_k=3)
    sk.manual_seed(7)
    b = model.generate(src, max_new_tokens=5, do_sample=True, temperature=0.7, top_k=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape[0] == 4 and a.shape[1] <= 5 and ((a == 0) | (a >= 2)).all()
    top1 = model.generate(src, max_new_tokens=5, do_sample=True, top_k=1)
    np.testing.assert_array_equal(top1, model.generate(src, max_new_tokens=5))  # top-1 sampling is greedy
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(src, max_new_tokens=0)
    with pytest.raises(ValueError, match="src"):
        model.generate(src.astype(np.float32))
    with pytest.raises(ValueError, match="num_beams"):
        model.generate(src, do_sample=True, num_beams=2)
    with pytest.raises(ValueError, match="max_len"):
        Seq2SeqTransformer(V, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, max_len=4)(
            src, np.ones((4, 6), np.int64))
    with pytest.raises(ValueError, match="attention"):
        Seq2SeqLSTM(V, attention="dot")


@pytest.mark.parametrize("name", ["transformer", "lstm-luong"])
def test_fit_teacher_forced_copy_task(name):
    """Copy the source: a few epochs of fit bring the loss well below its start, and greedy decoding copies
    far more tokens than chance (1 in 5)."""
    sk.manual_seed(5)
    rng = np.random.default_rng(5)
    n, length = 256, 5
    words = rng.integers(3, 8, (n, length))
    src = words
    tgt = np.concatenate([words, np.full((n, 1), 2)], axis=1)  # the words, then EOS
    tgt_in = np.concatenate([np.ones((n, 1), np.int64), tgt[:, :-1]], axis=1)
    model = Seq2SeqTransformer(8, d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=64, dropout=0.0) if name == "transformer" else \
        Seq2SeqLSTM(8, embed_dim=16, hidden_size=32, dropout=0.0)
    model.compile(optimizer=sk.optim.Adam(model.parameters(), lr=1e-2),
                  loss=SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    history = model.fit([src, tgt_in], tgt, batch_size=32, epochs=12, verbose=0)
    assert history.history["loss"][-1] < 0.4 * history.history["loss"][0]
    out = model.generate(src[:16], max_new_tokens=length + 1)
    assert (out[:, :length] == src[:16]).mean() > 0.45


def test_torch_twin_same_logits_gradients_and_decoding(rng):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    from torch_seq2seq import TorchSeq2SeqTransformer

    sk.manual_seed(6)
    ours = transformer(share_embeddings=True, norm_first=True)
    torch.manual_seed(0)
    ref = TorchSeq2SeqTransformer(V, 16, 2, 2, 2, 24, dropout=0.0, norm_first=True, max_len=512)
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    src, tgt = batch(rng)
    want = ref(torch.from_numpy(src), torch.from_numpy(tgt))
    got = ours(src, tgt)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), atol=3e-5, rtol=1e-4)
    g = rng.standard_normal(got.shape).astype(np.float32)
    want.backward(torch.from_numpy(g))
    got.backward(g)
    named = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named[name].grad.numpy(), atol=3e-5, rtol=1e-4, err_msg=name)
    ref.eval()
    ours.eval()
    for cache in (False, True):
        ref.cache = cache
        for beams in (1, 3):
            np.testing.assert_array_equal(ours.generate(src, 8, num_beams=beams), ref.generate(src, 8, num_beams=beams))
