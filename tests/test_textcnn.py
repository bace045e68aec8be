"""TextCNN: its forward against the same network written with torch.nn.functional (same weights), sequences
shorter than the largest kernel, and training to a stated accuracy on a task that needs n-gram features."""
import numpy as np
import pytest

import seqkernels as sk
import seqkernels.functional as F
from seqkernels.models import TextCNN



def torch_textcnn(state, ids, kernel_sizes):
    """Kim (2014) in torch.nn.functional, eval mode, with the weights of `state` (numpy arrays)."""
    torch = pytest.importorskip("torch")
    w = {k: torch.tensor(v) for k, v in state.items()}
    x = torch.nn.functional.embedding(torch.tensor(ids).long(), w["embedding.weight"]).transpose(1, 2)
    short = max(kernel_sizes) - ids.shape[1]
    if short > 0:
        x = torch.nn.functional.pad(x, (0, short))
    pooled = [torch.relu(torch.nn.functional.conv1d(x, w[f"convs.{i}.weight"], w[f"convs.{i}.bias"])).amax(dim=2)
              for i in range(len(kernel_sizes))]
    return torch.nn.functional.linear(torch.cat(pooled, dim=1), w["fc.weight"], w["fc.bias"]).numpy()


@pytest.mark.parametrize("length", [1, 4, 37])  # 1 and 4: shorter than the largest kernel (5), zero-padded
def test_forward_matches_torch(rng, length):
    sk.manual_seed(0)
    model = TextCNN(50, embed_dim=12, num_classes=3, kernel_sizes=(3, 4, 5), num_filters=7).eval()
    ids = rng.integers(0, 50, (4, length))
    logits = model(ids)
    assert logits.shape == (4, 3)
    want = torch_textcnn(model.state_dict(), ids, (3, 4, 5))
    np.testing.assert_allclose(logits.numpy(), want, rtol=1e-4, atol=1e-5)  # float32 sums of <= 60 products


def test_backward_reaches_every_parameter_and_skips_padding_row(rng):
    model = TextCNN(30, embed_dim=8, kernel_sizes=(2, 3), num_filters=5, padding_idx=0)
    ids = rng.integers(0, 30, (3, 9))
    ids[:, -2:] = 0
    F.cross_entropy(model(ids), sk.tensor(np.array([0, 1, 1]))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.any(p.grad.numpy() != 0), name
    np.testing.assert_array_equal(model.embedding.weight.grad.numpy()[0], 0)


def make_order_task(rng, n, length=20, vocab=40):
    """Class 1 iff the bigram (1, 2) occurs; class 0 sequences hold (2, 1) instead, so both classes contain the
    same tokens and only their order (an n-gram feature, invisible to a bag of words) tells them apart. Sequences
    have random lengths, right-padded with id 0."""
    ids = rng.integers(3, vocab, (n, length))
    labels = rng.integers(0, 2, n)
    lengths = rng.integers(6, length + 1, n)
    pos = (rng.random(n) * (lengths - 1)).astype(int)
    rows = np.arange(n)
    ids[rows, pos] = np.where(labels == 1, 1, 2)
    ids[rows, pos + 1] = np.where(labels == 1, 2, 1)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids, labels


def test_trains_to_high_accuracy_on_an_ngram_task(rng):
    sk.manual_seed(0)
    train_ids, train_labels = make_order_task(rng, 256, length=16)
    test_ids, test_labels = make_order_task(rng, 256, length=16)
    model = TextCNN(40, embed_dim=16, num_classes=2, kernel_sizes=(2, 3), num_filters=16, dropout=0.2)
    optimizer = sk.optim.Adam(model.parameters(), lr=1e-2)
    order = np.arange(len(train_ids))
    for _ in range(6):  # 48 Adam steps; five seeds all reached >= 0.996
        sk.random.generator().shuffle(order)
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            optimizer.zero_grad()
            F.cross_entropy(model(train_ids[batch]), sk.tensor(train_labels[batch])).backward()
            optimizer.step()
    model.eval()
    accuracy = (model(test_ids).numpy().argmax(1) == test_labels).mean()
    assert accuracy >= 0.97, accuracy  # chance is 0.5; a bag-of-words model cannot beat it on this task
