"""nn.Module semantics against torch.nn (names, traversal, state dicts, repr), the layers' init, and
an MLP trained end to end."""
import math
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import nn



def build(lib):
    """The same model in seqkernels and torch: nesting, containers, a buffer, a bias-free layer."""
    torch = pytest.importorskip("torch")

    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = lib.nn.Linear(4, 6)
            self.norm = lib.nn.LayerNorm(6)
            self.layers = lib.nn.ModuleList([lib.nn.Linear(6, 6, bias=False), lib.nn.GELU()])
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(6, 2), "b": lib.nn.Linear(6, 3)})
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.register_buffer("steps", lib.zeros(2))
            self.register_buffer("cache", lib.zeros(3), persistent=False)

        def forward(self, x):
            h = self.norm(self.proj(x))
            for layer in self.layers:
                h = layer(h)
            return self.heads["a"](h) * self.scale

    return lib.nn.Sequential(Block(), lib.nn.Dropout(0.1))


def test_state_dict_names_shapes_and_parameter_order_match_torch():
    torch = pytest.importorskip("torch")
    ours, ref = build(sk), build(torch)
    ours_sd, ref_sd = ours.state_dict(), ref.state_dict()
    assert isinstance(ours_sd, OrderedDict)
    assert list(ours_sd) == list(ref_sd)
    assert all(isinstance(v, np.ndarray) and v.shape == tuple(ref_sd[k].shape) for k, v in ours_sd.items())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in ref.named_children()]
    assert [n for n, _ in ours[0].named_parameters(recurse=False)] == ["scale"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    layers = lambda lib: lib.nn.Sequential(  # noqa: E731
        lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Dropout(0.1), lib.nn.LayerNorm(4), lib.nn.GELU("tanh"),
        lib.nn.Tanh(), lib.nn.Sigmoid(), lib.nn.Softmax(dim=-1), lib.nn.Identity(),
        lib.nn.ModuleList([lib.nn.Linear(4, 2, bias=False)]))
    assert repr(layers(sk)) == repr(layers(torch))
    assert repr(build(sk)) == repr(build(torch))


def test_shared_parameters_are_listed_once_and_state_dict_shares_memory():
    torch = pytest.importorskip("torch")
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch
    assert np.shares_memory(model.state_dict()["0.weight"], lin.weight.numpy())


def test_deepcopy_gives_an_independent_model():
    import copy
    model = build(sk)
    clone = copy.deepcopy(model)
    assert list(clone.state_dict()) == list(model.state_dict())
    clone[0].proj.weight.data[...] = 0
    assert np.abs(model[0].proj.weight.numpy()).sum() > 0
    snapshot = copy.deepcopy(model.state_dict())
    model[0].scale.data[...] = 5
    assert snapshot["0.scale"][0] == 1


def test_train_eval_zero_grad_apply_and_requires_grad_():
    model = build(sk)
    assert model.training and model[1].training
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    for p in model.parameters():
        p.grad = sk.ones(*p.shape)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Sequential" and visited.index("Linear") < visited.index("Block")
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_attribute_registration_rules():
    torch = pytest.importorskip("torch")
    m = nn.Module()
    m.w = nn.Parameter(sk.zeros(2))
    m.w = None  # a registered parameter may be cleared, as torch
    assert "w" not in m.state_dict() and m.w is None
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = sk.zeros(2)
    m.child = nn.Linear(2, 2)
    m.other = nn.Tanh()
    m.child = nn.ReLU()  # replaced in place: the order of children is kept, as torch
    assert [type(c).__name__ for c in m.children()] == ["ReLU", "Tanh"]
    del m.child
    assert list(dict(m.named_children())) == ["other"]

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sk.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("a.b", sk.zeros(1))


def test_load_state_dict_from_torch_reproduces_parameters():
    torch = pytest.importorskip("torch")
    ours, ref = build(sk), build(torch)
    result = ours.load_state_dict(ref.state_dict())  # torch tensors are accepted as they come
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k], v.numpy())


def test_load_state_dict_reports_every_mismatch_at_once_and_copies_nothing():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    bad = {k: np.full(v.shape, 7, np.float32) for k, v in before.items()}
    del bad["1.bias"]
    bad["0.weight"] = np.zeros((3, 2), np.float32)
    bad["extra.weight"] = np.zeros(1, np.float32)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "missing keys: 1.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "0.weight: expected shape (2, 3), got (3, 2)" in message
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # strict=False still refuses wrong shapes (as torch) ...
    with pytest.raises(RuntimeError, match="0.weight"):
        model.load_state_dict(bad, strict=False)
    # ... and otherwise loads what matches, returning what did not
    bad["0.weight"] = np.ones((2, 3), np.float32)
    missing, unexpected = model.load_state_dict(bad, strict=False)
    assert missing == ["1.bias"] and unexpected == ["extra.weight"]
    np.testing.assert_array_equal(model[0].weight.numpy(), np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="wrong dtypes: 0.bias: a bool array"):
        model.load_state_dict({**before, "0.bias": np.ones(2, bool)})
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([1, 2])


def test_fan_and_gain_match_torch():
    torch = pytest.importorskip("torch")
    from seqkernels.nn import init
    for shape in [(5, 3), (4, 3, 7), (2, 6, 1, 3)]:
        assert init._calculate_fan_in_and_fan_out(sk.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    for nl, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                      ("leaky_relu", math.sqrt(5)), ("selu", None), ("sigmoid", None), ("conv1d", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(sk.zeros(3))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(sk.zeros(2, 2), mode="fan")


def _uniform_std(bound):
    return bound / math.sqrt(3)


@pytest.mark.parametrize("name,kwargs,bound,std", [
    # (shape (200, 300): fan_in 300, fan_out 200)
    ("xavier_uniform_", {"gain": 2.0}, 2.0 * math.sqrt(6 / 500), 2.0 * math.sqrt(2 / 500)),
    ("xavier_normal_", {}, None, math.sqrt(2 / 500)),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, 1 / math.sqrt(300), _uniform_std(1 / math.sqrt(300))),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, None, math.sqrt(2 / 200)),
    ("uniform_", {"a": -0.5, "b": 0.25}, None, _uniform_std(0.375)),
    ("normal_", {"mean": 1.0, "std": 0.02}, None, 0.02),
])
def test_initialisers_follow_torchs_formulas(name, kwargs, bound, std):
    sk.manual_seed(0)
    w = getattr(nn.init, name)(sk.zeros(200, 300), **kwargs)
    values = w.numpy()
    assert values.dtype == np.float32
    if bound is not None:
        assert np.abs(values).max() <= bound
    assert values.std() == pytest.approx(std, rel=0.02)  # 60,000 draws: the sample std is within ~0.5 %
    sk.manual_seed(0)
    np.testing.assert_array_equal(getattr(nn.init, name)(sk.zeros(200, 300), **kwargs).numpy(), values)
    np.testing.assert_array_equal(nn.init.constant_(sk.zeros(2), 0.5).numpy(), [0.5, 0.5])
    assert nn.init.ones_(sk.zeros(2)).numpy().sum() == 2 and nn.init.zeros_(sk.ones(2)).numpy().sum() == 0


def test_layers_initialise_as_torch():
    sk.manual_seed(1)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        assert np.abs(p.numpy()).max() <= bound
        assert p.numpy().std() == pytest.approx(_uniform_std(bound), rel=0.1)  # ≥ 300 draws
    assert lin.weight.shape == (300, 400) and lin.bias.shape == (300,)
    ln = nn.LayerNorm((2, 3))
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(ln.bias.numpy(), np.zeros((2, 3)))
    assert nn.LayerNorm(3, elementwise_affine=False).state_dict() == OrderedDict()
    assert nn.Linear(2, 3, bias=False).bias is None


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="'in_features' must be positive"):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match="'out_features' must be an int"):
        nn.Linear(3, 2.0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)
    with pytest.raises(IndexError, match="out of range"):
        nn.Sequential(nn.ReLU())[1]
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_containers():
    seq = nn.Sequential(OrderedDict(first=nn.Linear(2, 3), act=nn.ReLU()))
    assert list(dict(seq.named_children())) == ["first", "act"] and isinstance(seq[-1], nn.ReLU)
    assert len(seq[:1]) == 1 and isinstance(seq[0], nn.Linear)
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.insert(1, nn.Sigmoid())
    ml.append(nn.Identity())
    assert [type(m).__name__ for m in ml] == ["ReLU", "Sigmoid", "Tanh", "Identity"]
    ml[0] = nn.GELU()
    assert isinstance(ml[0], nn.GELU) and len(ml[1:]) == 3
    md = nn.ModuleDict({"x": nn.ReLU()})
    md["y"] = nn.Linear(1, 1)
    assert list(md) == ["x", "y"] and "y" in md and list(md.state_dict()) == ["y.weight", "y.bias"]


def test_keras_methods_forward_to_training(monkeypatch):
    calls = []
    fake = types.ModuleType("seqkernels.training")
    for name in ("compile", "fit", "evaluate", "predict"):
        fake.__dict__[name] = (lambda n: lambda model, *a, **k: calls.append((n, model, a, k)) or n)(name)
    monkeypatch.setitem(sys.modules, "seqkernels.training", fake)
    monkeypatch.setattr(sk, "training", fake, raising=False)
    model = nn.Linear(2, 2)
    assert model.compile(optimizer="adam", loss="mse") == "compile"
    assert model.fit([1], [2], epochs=3) == "fit"
    model.evaluate([1], [2])
    model.predict([1], batch_size=4)
    assert [c[0] for c in calls] == ["compile", "fit", "evaluate", "predict"]
    assert all(c[1] is model for c in calls)
    assert calls[1][2:] == (([1], [2]), {"epochs": 3}) and calls[0][3] == {"optimizer": "adam", "loss": "mse"}


# ---- layers through seqkernels.functional ----------------------------------------------------------------

def test_layers_compute_what_torch_computes():
    torch = pytest.importorskip("torch")
    sk.manual_seed(2)
    ours, ref = build(sk), build(torch)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ours.eval(), ref.eval()
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    xs, xt = sk.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref_out = ours(xs), ref(xt)
    # a Linear -> LayerNorm -> Linear -> GELU -> Linear chain: K <= 6 products, rtol 1e-4 (see test_tensor)
    np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    ref_out.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    ref_grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        ref_grad = ref_grads[name].grad
        if ref_grad is None:  # head "b" is unused in forward
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), ref_grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss_name,target_kind", [("CrossEntropyLoss", "class"), ("BCEWithLogitsLoss", "binary"),
                                                   ("MSELoss", "real")])
def test_loss_modules_match_torch(loss_name, target_kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    target = {"class": rng.integers(0, 4, 6), "binary": (rng.random((6, 4)) > 0.5).astype(np.float32),
              "real": rng.standard_normal((6, 4)).astype(np.float32)}[target_kind]
    for reduction in ("mean", "sum", "none"):
        ours = getattr(nn, loss_name)(reduction=reduction)(sk.tensor(logits), sk.tensor(target))
        ref = getattr(torch.nn, loss_name)(reduction=reduction)(torch.tensor(logits), torch.tensor(target))
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_weighted_loss_modules_keep_their_weights_as_buffers():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    classes = rng.integers(0, 4, 6)
    flags = (rng.random((6, 4)) > 0.5).astype(np.float32)
    class_weight = np.arange(1, 5, dtype=np.float32)
    pos_weight = np.array([0.5, 1.0, 2.0, 3.0], np.float32)
    ce = nn.CrossEntropyLoss(weight=class_weight, label_smoothing=0.1)
    bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    assert list(ce.state_dict()) == ["weight"] and list(bce.state_dict()) == ["pos_weight"]
    ref_ce = torch.nn.CrossEntropyLoss(weight=torch.tensor(class_weight), label_smoothing=0.1)
    ref_bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    np.testing.assert_allclose(ce(sk.tensor(logits), sk.tensor(classes)).numpy(),
                               ref_ce(torch.tensor(logits), torch.tensor(classes)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(bce(sk.tensor(logits), sk.tensor(flags)).numpy(),
                               ref_bce(torch.tensor(logits), torch.tensor(flags)).numpy(), rtol=1e-5)


def _two_spirals(n_per_class, rng):
    """Two interleaved spirals in 2-D, a classic task a linear model cannot solve (~50 %)."""
    t = np.sqrt(rng.random(n_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.int64)
    return x.astype(np.float32), y


def test_mlp_learns_two_spirals():
    rng = np.random.default_rng(0)
    sk.manual_seed(0)
    x, y = _two_spirals(300, rng)
    x_test, y_test = _two_spirals(300, rng)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 2))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = sk.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    for _ in range(200):  # full-batch SGD with momentum (reaches 0.97)
        loss = loss_fn(model(sk.tensor(x)), sk.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with sk.no_grad():
        accuracy = (model(sk.tensor(x_test)).argmax(-1).numpy() == y_test).mean()
    assert accuracy >= 0.95, accuracy
