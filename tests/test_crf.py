"""nn.CRF on the C++ kernels: NLL against a torch forward algorithm and brute-force enumeration, every
gradient against torch autograd through that reference, Viterbi against enumeration, masking by lengths,
and bad input."""
import itertools

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import nn
from seqkernels.ops import crf as C

torch = pytest.importorskip("torch")


def torch_crf_nll(e, tags, lengths, trans, start, end):
    """Reference: the forward algorithm in torch, one sequence at a time."""
    out = []
    for b in range(e.shape[0]):
        L = int(lengths[b])
        alpha = start + e[b, 0]
        score = start[tags[b, 0]] + e[b, 0, tags[b, 0]]
        for t in range(1, L):
            alpha = torch.logsumexp(alpha[:, None] + trans, dim=0) + e[b, t]
            score = score + trans[tags[b, t - 1], tags[b, t]] + e[b, t, tags[b, t]]
        out.append(torch.logsumexp(alpha + end, dim=0) - score - end[tags[b, L - 1]])
    return torch.stack(out)


def path_score(e, path, trans, start, end):
    s = start[path[0]] + e[0, path[0]] + end[path[-1]]
    return s + sum(trans[path[t - 1], path[t]] + e[t, path[t]] for t in range(1, len(path)))


def problem(batch, steps, tags, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((batch, steps, tags)).astype(np.float32)
    y = rng.integers(0, tags, (batch, steps))
    lengths = rng.integers(1, steps + 1, batch)
    lengths[0] = steps
    trans, start, end = (rng.standard_normal(s).astype(np.float32) * 0.5 for s in ((tags, tags), tags, tags))
    return e, y, lengths, trans, start, end


@pytest.mark.parametrize("batch,steps,tags", [(1, 1, 1), (3, 5, 4), (7, 13, 21), (2, 1, 9)])
def test_nll_and_gradients_match_torch_autograd(batch, steps, tags):
    e, y, lengths, trans, start, end = problem(batch, steps, tags)
    dy = np.random.default_rng(1).standard_normal(batch).astype(np.float32)
    nll, log_alpha, log_z = C.crf_forward(e, y, lengths, trans, start, end)
    grads = C.crf_backward(dy, e, y, lengths, log_alpha, log_z, trans, start, end)
    ref_in = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in (e, trans, start, end)]
    ref = torch_crf_nll(ref_in[0], torch.tensor(y), lengths, *ref_in[1:])
    (ref * torch.tensor(dy, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(nll, ref.detach().numpy(), rtol=1e-5, atol=1e-4)
    for ours, theirs in zip(grads, ref_in):
        expected = np.zeros(theirs.shape) if theirs.grad is None else theirs.grad.numpy()  # steps=1: no transition
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
    for b in range(batch):  # padding steps get no emission gradient
        assert not grads[0][b, lengths[b]:].any()


def test_nll_equals_enumeration_and_viterbi_is_the_argmax():
    e, y, lengths, trans, start, end = problem(4, 4, 3, seed=2)
    nll, _, _ = C.crf_forward(e, y, lengths, trans, start, end)
    best, best_score = C.crf_viterbi(e, lengths, trans, start, end)
    for b in range(4):
        L = lengths[b]
        scores = {p: path_score(e[b], p, trans, start, end) for p in itertools.product(range(3), repeat=L)}
        log_z = np.log(np.sum(np.exp(np.array(list(scores.values()), np.float64))))
        assert nll[b] == pytest.approx(log_z - scores[tuple(y[b, :L])], abs=1e-4)
        argmax = max(scores, key=scores.get)
        assert tuple(best[b, :L]) == argmax and (best[b, L:] == -1).all()
        assert best_score[b] == pytest.approx(scores[argmax], abs=1e-4)


def test_layer_padding_is_ignored_and_training_lowers_the_loss():
    sk.manual_seed(0)
    crf = nn.CRF(5)
    e, y, lengths, *_ = problem(6, 8, 5, seed=3)
    garbage = e.copy()
    for b, L in enumerate(lengths):
        garbage[b, L:] = 1e3
        y[b, L:] = 99  # out of range, but padding is never read
    emissions = sk.tensor(e, requires_grad=True)
    loss = crf(emissions, y, lengths=lengths)
    assert float(crf(garbage, y, lengths=lengths)) == pytest.approx(float(loss), rel=1e-6)
    mask = np.arange(8)[None] < lengths[:, None]
    assert float(crf(e, y, mask=mask, reduction="sum")) == pytest.approx(float(loss) * 6, rel=1e-5)
    assert crf.decode(garbage, lengths=lengths) == crf.decode(e, mask=mask)
    opt = sk.optim.Adam(list(crf.parameters()) + [emissions], lr=0.1)
    first = float(loss)
    for _ in range(30):
        opt.zero_grad()
        loss = crf(emissions, y, lengths=lengths)
        loss.backward()
        opt.step()
    assert float(loss) < 0.2 * first
    assert crf.decode(emissions, lengths=lengths) == [list(y[b, :L]) for b, L in enumerate(lengths)]


def test_bad_input_raises():
    crf = nn.CRF(3)
    e = np.zeros((2, 4, 3), np.float32)
    y = np.zeros((2, 4), np.int64)
    with pytest.raises(ValueError, match="emissions"):
        crf(np.zeros((2, 4, 5), np.float32), y)
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0"):
        crf(e, y, lengths=[4, 0])
    with pytest.raises(ValueError, match=r"lengths\[0\] = 5"):
        crf.decode(e, lengths=[5, 1])
    with pytest.raises(IndexError, match="tag 3"):
        crf(e, np.full((2, 4), 3))
    with pytest.raises(ValueError, match="prefix"):
        crf(e, y, mask=np.array([[1, 0, 1, 0], [1, 1, 1, 1]], bool))
    with pytest.raises(TypeError, match="emissions"):
        C.crf_forward(e.astype(np.float64), y, None, np.zeros((3, 3), np.float32), np.zeros(3, np.float32),
                      np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="transitions"):
        C.crf_viterbi(e, None, np.zeros((3, 2), np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32))
