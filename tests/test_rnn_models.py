"""RNNClassifier / RNNTagger against the same model written in torch (Embedding, packed (bi)LSTM/GRU, Linear),
and the padding conventions (end and front padding give the same results at the real tokens).

Tolerance as tests/test_rnn.py: float32 through a few recurrent steps, ~1e-7 observed, 2e-5 / 1e-4 allowed.
"""
import numpy as np
import pytest

import seqkernels as sk
import seqkernels.models


ATOL, RTOL = 2e-5, 1e-4
IDS = np.array([[5, 6, 7, 0, 0, 0], [3, 4, 9, 8, 2, 1], [11, 0, 0, 0, 0, 0], [7, 7, 2, 5, 0, 0]])


def torch_twin(model, kind):
    """Our model's weights in torch modules."""
    torch = pytest.importorskip("torch")
    emb = torch.nn.Embedding(model.embedding.num_embeddings, model.embedding.embedding_dim, padding_idx=0)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        model.rnn.input_size, model.rnn.hidden_size, num_layers=model.rnn.num_layers, batch_first=True,
        bidirectional=model.rnn.bidirectional)
    fc = torch.nn.Linear(model.fc.in_features, model.fc.out_features)
    for mod, prefix in ((emb, "embedding."), (rnn, "rnn."), (fc, "fc.")):
        mod.load_state_dict({k[len(prefix):]: torch.tensor(v) for k, v in model.state_dict().items()
                             if k.startswith(prefix)})
    return emb, rnn, fc


def torch_encode(emb, rnn, ids):
    torch = pytest.importorskip("torch")
    lengths = torch.tensor((ids != 0).sum(1))
    packed = torch.nn.utils.rnn.pack_padded_sequence(emb(torch.tensor(ids)), lengths, batch_first=True,
                                                     enforce_sorted=False)
    out, state = rnn(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
    return out, state[0] if isinstance(state, tuple) else state


@pytest.mark.parametrize("kind,layers,bi", [("lstm", 1, True), ("gru", 2, True), ("lstm", 2, False)])
def test_classifier_matches_torch(kind, layers, bi):
    torch = pytest.importorskip("torch")
    sk.manual_seed(0)
    model = sk.models.RNNClassifier(20, embed_dim=6, hidden_size=5, num_classes=3, cell=kind, num_layers=layers,
                                    bidirectional=bi)
    emb, rnn, fc = torch_twin(model, kind)
    _, h_n = torch_encode(emb, rnn, IDS)
    want = fc(torch.cat([h_n[-2], h_n[-1]], 1) if bi else h_n[-1])
    got = model(IDS)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), atol=ATOL, rtol=RTOL)
    want.square().sum().backward()
    (got * got).sum().backward()
    checked = (("embedding.weight", emb.weight), ("fc.weight", fc.weight), ("rnn.weight_hh_l0", rnn.weight_hh_l0))
    for name, theirs in checked:
        ours = dict(model.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=10 * ATOL, rtol=RTOL, err_msg=name)


def test_tagger_matches_torch():
    sk.manual_seed(1)
    model = sk.models.RNNTagger(20, embed_dim=6, hidden_size=5, num_classes=4, cell="gru")
    emb, rnn, fc = torch_twin(model, "gru")
    out, _ = torch_encode(emb, rnn, IDS)
    want = fc(out)
    got = model(IDS)
    assert got.shape == (4, 6, 4)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), atol=ATOL, rtol=RTOL)


def test_front_padding_equals_end_padding():
    sk.manual_seed(2)
    lengths = (IDS != 0).sum(1)
    front = np.zeros_like(IDS)
    for b, n in enumerate(lengths):
        front[b, IDS.shape[1] - n:] = IDS[b, :n]
    clf = sk.models.RNNClassifier(20, embed_dim=6, hidden_size=5, num_classes=3)
    np.testing.assert_allclose(clf(front).numpy(), clf(IDS).numpy(), atol=1e-6)
    tagger = sk.models.RNNTagger(20, embed_dim=6, hidden_size=5, num_classes=3, num_layers=2)
    end_out, front_out = tagger(IDS).numpy(), tagger(front).numpy()
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(front_out[b, IDS.shape[1] - n:], end_out[b, :n], atol=1e-6)
    tagger.zero_grad()  # gradients flow back through the rotation: equal to those of the end-padded ids
    tagger(front).sum().backward()
    front_grad = tagger.embedding.weight.grad.numpy().copy()
    tagger.zero_grad()
    tagger(IDS).sum().backward()
    np.testing.assert_allclose(front_grad, tagger.embedding.weight.grad.numpy(), atol=1e-5)


def test_all_padding_row_and_errors():
    clf = sk.models.RNNClassifier(10, embed_dim=4, hidden_size=3)
    assert clf(np.zeros((2, 3), np.int64)).shape == (2, 2)
    with pytest.raises(ValueError, match="cell"):
        sk.models.RNNClassifier(10, cell="transformer")
    with pytest.raises(ValueError, match="ids"):
        clf(np.zeros(3, np.int64))
