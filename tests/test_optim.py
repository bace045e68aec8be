"""Optimizers, clip_grad_norm_ and schedulers against torch.optim on identical gradients.

Trajectories: the fused kernels perform torch's single-tensor update operation by operation in float32, so
after 10 steps the parameters agree to a few float32 ulps. The remaining differences come from torch's
vectorised kernels contracting some a*b + c into FMAs where we may not (or vice versa): each such step
differs by at most 1 ulp (6e-8 relative), so rtol 1e-6 over 10 steps holds with margin. A parameter that
passes near zero (p - lr*g cancelling) keeps the absolute rounding of its operands, |p| <= ~4 here, i.e.
ulps of 2.4e-7 to 4.8e-7: atol 1e-6 allows a few of them.
"""
import math

import numpy as np
import pytest


import seqkernels as sk
from seqkernels import optim

SHAPES = [(1,), (3, 7), (17,), (64, 33)]


def make_params(rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [sk.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    return ours, theirs


def run_both(rng, make_ours, make_theirs, steps=10, schedule=None):
    torch = pytest.importorskip("torch")
    ours, theirs = make_params(rng)
    opt, opt_t = make_ours(ours), make_theirs(theirs)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad = sk.tensor(g)
            q.grad = torch.tensor(g)
        opt.step()
        opt_t.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-6)
    return opt, opt_t, ours, theirs


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
])
def test_sgd_matches_torch(rng, threads, kwargs):
    torch = pytest.importorskip("torch")
    run_both(rng, lambda ps: optim.SGD(ps, **kwargs), lambda ps: torch.optim.SGD(ps, **kwargs))


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    dict(lr=3e-3, amsgrad=True, weight_decay=0.05),
    dict(lr=1e-2, betas=(0.3, 0.9)),  # 1 - beta1 >= 0.5: torch's other lerp branch
])
def test_adam_family_matches_torch(rng, threads, cls, kwargs):
    torch = pytest.importorskip("torch")
    run_both(rng, lambda ps: getattr(optim, cls)(ps, **kwargs), lambda ps: getattr(torch.optim, cls)(ps, **kwargs))


def test_param_groups_skip_missing_grads_and_zero_grad(rng):
    a = sk.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = sk.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    a.grad = sk.tensor(np.ones(3, dtype=np.float32))
    opt.step()  # b has no gradient: untouched
    np.testing.assert_allclose(a.numpy(), 0.9)
    np.testing.assert_array_equal(b.numpy(), 1.0)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), 0.0)
    opt.zero_grad()
    assert a.grad is None


def test_state_dict_round_trip_continues_identically(rng):
    ours, theirs = make_params(rng)
    opt = optim.AdamW(ours, lr=1e-2, amsgrad=True)
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in ours] for _ in range(6)]

    def steps(o, params, gs):
        for g_list in gs:
            for p, g in zip(params, g_list):
                p.grad = sk.tensor(g)
            o.step()

    steps(opt, ours, grads[:3])
    saved = opt.state_dict()
    snapshot = [p.numpy().copy() for p in ours]
    assert set(saved["state"]) == {0, 1, 2, 3} and saved["state"][0]["step"] == 3
    steps(opt, ours, grads[3:])
    fresh = [sk.tensor(s.copy(), requires_grad=True) for s in snapshot]
    opt2 = optim.AdamW(fresh, lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 1e-2
    steps(opt2, fresh, grads[3:])
    for p, q in zip(ours, fresh):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_mismatch(rng):
    ours, _ = make_params(rng)
    opt = optim.Adam(ours)
    with pytest.raises(ValueError, match="parameter group 0"):
        optim.Adam(ours[:2]).load_state_dict(opt.state_dict())


def test_optimizer_errors():
    p = sk.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="float32"):
        optim.Adam([sk.tensor(np.ones(2), dtype=np.float64)])
    with pytest.raises(ValueError, match="more than one"):
        optim.Adam([p, p])
    p.grad = sk.tensor(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="gradient of shape"):
        optim.Adam([p]).step()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(rng, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = make_params(rng)
    for p, q in zip(ours, theirs):
        g = rng.standard_normal(p.shape).astype(np.float32)
        p.grad, q.grad = sk.tensor(g), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    # our norms accumulate in float64 and round once; torch accumulates in float32: ~1e-6 relative apart.
    np.testing.assert_allclose(total.item(), total_t.item(), rtol=2e-6)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=2e-6, atol=1e-8)
    assert sk.nn.utils.clip_grad_norm_ is optim.clip_grad_norm_


def lr_sequences(make_ours, make_theirs, steps=25, groups=(0.1, 0.02)):
    torch = pytest.importorskip("torch")
    ours = optim.SGD([{"params": [sk.tensor(np.ones(1, dtype=np.float32), requires_grad=True)], "lr": lr}
                      for lr in groups])
    theirs = torch.optim.SGD([{"params": [torch.ones(1, requires_grad=True)], "lr": lr} for lr in groups])
    s, s_t = make_ours(ours), make_theirs(theirs)
    got, want = [s.get_last_lr()], [s_t.get_last_lr()]
    for _ in range(steps):
        ours.step()
        theirs.step()
        s.step()
        s_t.step()
        got.append(s.get_last_lr())
        want.append(s_t.get_last_lr())
        assert [g["lr"] for g in ours.param_groups] == got[-1]
    return got, want


def test_step_lr_matches_torch():
    torch = pytest.importorskip("torch")
    got, want = lr_sequences(lambda o: optim.StepLR(o, 4, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 4, 0.5))
    assert got == want


def test_lambda_lr_matches_torch():
    torch = pytest.importorskip("torch")
    fns = [lambda e: 0.95 ** e, lambda e: 1.0 / (1 + e)]
    got, want = lr_sequences(lambda o: optim.LambdaLR(o, fns), lambda o: torch.optim.lr_scheduler.LambdaLR(o, fns))
    assert got == want


@pytest.mark.parametrize("eta_min", [0.0, 1e-3])
def test_cosine_matches_torch(eta_min):
    # 25 steps over T_max = 10 also crosses the restart branch of torch's recursive form.
    torch = pytest.importorskip("torch")
    got, want = lr_sequences(lambda o: optim.CosineAnnealingLR(o, 10, eta_min),
                             lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, eta_min))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_linear_warmup_matches_transformers():
    transformers = pytest.importorskip("transformers")
    got, want = lr_sequences(lambda o: optim.get_linear_schedule_with_warmup(o, 5, 20),
                             lambda o: transformers.get_linear_schedule_with_warmup(o, 5, 20))
    assert got == want
    assert got[0] == [0.0, 0.0] and got[5] == [0.1, 0.02] and got[20] == [0.0, 0.0]


def test_keras_style_optimizer_is_bound_by_compile():
    # DESIGN.md's seed example: model.compile(optimizer=Adam(lr), ...) with no parameters given
    from seqkernels import losses
    sk.manual_seed(0)
    model = sk.nn.Linear(3, 2)
    opt = sk.optim.Adam(0.05)
    assert opt.param_groups == [] and opt.defaults["lr"] == 0.05
    with pytest.raises(RuntimeError, match="no parameters to update"):
        opt.step()
    model.compile(optimizer=opt, loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    assert [p for g in opt.param_groups for p in g["params"]] == list(model.parameters())
    before = model.weight.data.copy()
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    model.fit(x, np.arange(8) % 2, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(model.weight.data, before)
    with pytest.raises(RuntimeError, match="already has parameters"):
        opt.bind(model.parameters())
