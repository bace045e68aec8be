"""Property-based fuzzing (hypothesis) of every ``seqkernels._C`` entry point and of ``seqkernels.functional``:
adversarial integers (0, 1, -1, 2**31, 2**63-1, ...), shapes (empty, 1, primes, mismatched), layouts (broadcast,
negative strides, transposed, read-only, unaligned, pickled) and values (NaN, inf, huge). Each case runs in a
forked child (tests/_isolated.py): it must return or raise TypeError / ValueError / IndexError / MemoryError;
a signal, a hang, an exit or any other exception type fails the test and hypothesis shrinks it.

Bounded for CI (SEQKERNELS_FUZZ_EXAMPLES examples per entry point, default 10, derandomized so CI is
reproducible); for a long local run: ``SEQKERNELS_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`` (random
seeds then).

Registering a new entry point: every public name of ``_C`` and every public function of
``seqkernels.functional`` must have an entry in ``C_CASES`` / ``F_CASES`` below (positional and keyword argument
templates: ``Arr("N C")`` a float32 array whose dims are symbols drawn per example, ``Ids("B T", "N")`` ids in
about [0, N), ``Int``/``Float`` typical values besides the adversarial ones, ``Choice``, ``Code``), else
``test_every_entry_point_is_fuzzed`` fails naming it. Entries for names a build lacks (CUDA) are skipped.
"""
import inspect
import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import seqkernels._C as C  # noqa: E402
import seqkernels.functional as F  # noqa: E402
from _isolated import run_isolated  # noqa: E402

EXAMPLES = int(os.environ.get("SEQKERNELS_FUZZ_EXAMPLES", "10"))
LONG = EXAMPLES > 50

ADVERSARIAL_INTS = [0, 1, -1, 2, 3, 7, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 62, 2 ** 63 - 1, -(2 ** 63)]
ADVERSARIAL_FLOATS = [0.0, 0.5, 1.0, -1.0, 1e-7, 1e38, float("nan"), float("inf"), -float("inf")]
SIZES = [0, 1, 2, 3, 5, 8]
LAYOUTS = ["c", "c", "c", "f", "neg", "bcast", "bcast_huge", "ro", "unaligned", "pickled", "strided"]
FILLS = ["normal", "normal", "zeros", "nan", "inf", "huge"]


# ---- argument templates -------------------------------------------------------------------------------
class Arr:
    """A float32 array (usually) whose shape is given by symbols ('N', 'C', '4*H') resolved per example."""

    def __init__(self, dims, dtype="float32", optional=False):
        self.dims, self.dtype, self.optional = dims.split(), dtype, optional


class Ids(Arr):
    """An integer id array (int64 / int32) of symbolic shape; values around [0, bound)."""

    def __init__(self, dims, bound, optional=False):
        super().__init__(dims, "int64", optional)
        self.bound = bound


class Int:
    def __init__(self, *typical):
        self.typical = list(typical)


class Float:
    def __init__(self, *typical):
        self.typical = list(typical)


class Choice:
    def __init__(self, *values):
        self.values = list(values)


class Code:
    """A literal expression, e.g. a PackedB built from an array template."""

    def __init__(self, fmt, *parts):
        self.fmt, self.parts = fmt, parts


BOOL = Choice(True, False)


@st.composite
def _int(draw, typical):
    return draw(st.sampled_from(typical + ADVERSARIAL_INTS) if typical else st.sampled_from(ADVERSARIAL_INTS))


def _render(draw, template, sizes, tensors):
    """The Python source of one argument."""
    if isinstance(template, Arr):
        if template.optional and draw(st.booleans()):
            return "None"
        dims = [eval(d, {}, dict(sizes)) for d in template.dims]
        if draw(st.integers(0, 9)) == 0:  # a mismatched shape now and then
            dims = [draw(st.sampled_from(SIZES)) for _ in range(draw(st.integers(0, 4)))]
        dtype = template.dtype
        if draw(st.integers(0, 11)) == 0:
            dtype = draw(st.sampled_from(["float64", "int32", "bool", "float16", ">f4", "list", "scalar", "None"]))
        if isinstance(template, Ids) and dtype == "int64":
            dtype = draw(st.sampled_from(["int64", "int32"]))
            spec = (tuple(dims), dtype, draw(st.sampled_from(LAYOUTS)), ("ids", eval(template.bound, {}, sizes)))
        else:
            spec = (tuple(dims), dtype, draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(FILLS)))
        src = f"mk({spec!r})"
        if tensors and dtype.startswith("float32") and not isinstance(template, Ids):
            return f"sk.tensor({src}, requires_grad={draw(st.booleans())})"
        return f"sk.tensor({src})" if tensors and isinstance(template, Ids) else src
    if isinstance(template, Int):
        value = draw(st.sampled_from(template.typical + ADVERSARIAL_INTS))
        return repr(value)
    if isinstance(template, Float):
        value = draw(st.sampled_from(template.typical + ADVERSARIAL_FLOATS))
        return repr(value) if value == value and abs(value) != float("inf") else f"float('{value}')"
    if isinstance(template, Choice):
        return repr(draw(st.sampled_from(template.values)))
    if isinstance(template, Code):
        return template.fmt.format(*[_render(draw, p, sizes, tensors) for p in template.parts])
    if isinstance(template, tuple):
        return "(" + ", ".join(_render(draw, t, sizes, tensors) for t in template) + ",)"
    raise TypeError(template)


@st.composite
def calls(draw, target, args, kwargs, tensors):
    sizes = {name: draw(st.sampled_from(SIZES)) for name in ["N", "C", "L", "K", "O", "B", "T", "H", "I", "D", "Q"]}
    sizes["S"] = sizes["Q"]  # attention: key length
    rendered = [_render(draw, a, sizes, tensors) for a in args]
    for name, template in kwargs.items():
        if draw(st.integers(0, 3)) > 0:  # each keyword present three times in four
            rendered.append(f"{name}={_render(draw, template, sizes, tensors)}")
    call = f"result = {target}({', '.join(rendered)})"
    if tensors:  # through the backward too when the result takes part in autograd
        call += ("\nfor r in (result if isinstance(result, tuple) else (result,)):\n"
                 "    if isinstance(r, sk.Tensor) and r.requires_grad:\n"
                 "        r.sum().backward()")
    return call


# ---- the cases: positional templates, keyword templates --------------------------------------------------
A2 = Arr("N C")
C_CASES = {
    "PackedB": ([Arr("K O")], {"trans_b": BOOL}),
    "gemm_packed": ([Arr("N K"), Code("C.PackedB({}, trans_b={})", Arr("K O"), BOOL)],
                    {"trans_a": BOOL, "alpha": Float(1.0), "beta": Float(0.0), "out": Arr("N O", optional=True)}),
    "gemm": ([Arr("B N K"), Arr("B K O")], {"trans_a": BOOL, "trans_b": BOOL, "alpha": Float(1.0),
                                            "beta": Float(0.0), "out": Arr("B N O", optional=True)}),
    "adam_step": ([Arr("N"), Arr("N"), Arr("N"), Arr("N"), Arr("N", optional=True)],
                  {"step": Int(1), "lr": Float(1e-3), "beta1": Float(0.9), "beta2": Float(0.999), "eps": Float(1e-8),
                   "weight_decay": Float(0.0), "decoupled_weight_decay": BOOL}),
    "sgd_step": ([Arr("N"), Arr("N"), Arr("N", optional=True)],
                 {"lr": Float(0.1), "momentum": Float(0.9), "dampening": Float(0.0), "weight_decay": Float(0.0),
                  "nesterov": BOOL, "first_step": BOOL}),
    "attention_forward": ([Arr("B H Q D"), Arr("B H S D"), Arr("B H S D"),
                           Arr("Q S", "bool", optional=True)],
                          {"dropout_p": Float(0.1), "is_causal": BOOL, "scale": Float(0.5), "seed": Int(3)}),
    "attention_backward": ([Arr("B H Q D"), Arr("B H Q D"), Arr("B H S D"), Arr("B H S D"), Arr("B H Q D"),
                            Arr("B H Q"), Arr("Q S", optional=True)],
                           {"dropout_p": Float(0.1), "is_causal": BOOL, "scale": Float(0.5), "seed": Int(3)}),
    "build_info": ([], {}),
    "get_num_threads": ([], {}),
    "set_num_threads": ([Int(1, 2)], {}),
    "measure_fma_peak": ([Int(1)], {"seconds": Choice(1e-3, 0.0, -1.0, 61.0)}),
    "measure_int8_peak": ([Int(1)], {"seconds": Choice(1e-3, 0.0, -1.0, 61.0)}),
    "conv1d_forward": ([Arr("N C L"), Arr("O C K"), Arr("O", optional=True)],
                       {"stride": Int(1, 2), "padding": (Int(0, 1), Int(0, 2)), "dilation": Int(1, 2),
                        "groups": Int(1)}),
    "conv1d_backward": ([Arr("N C L"), Arr("O C K"), Arr("N O L")],
                        {"stride": Int(1, 2), "padding": (Int(0, 1), Int(0, 2)), "dilation": Int(1, 2),
                         "groups": Int(1), "input_grad": BOOL, "weight_grad": BOOL, "bias_grad": BOOL}),
    "cross_entropy_forward": ([A2, Ids("N", "C"), Arr("C", optional=True), Int(-100), Float(0.1)], {}),
    "cross_entropy_backward": ([A2, Ids("N", "C"), Arr("C", optional=True), Arr("N"), Arr("N"), Int(-100),
                                Float(0.1)], {}),
    "dropout_forward": ([Arr("N C"), Float(0.5), Int(1)], {}),
    "dropout_backward": ([Arr("N C"), Float(0.5), Int(1)], {}),
    "embedding_forward": ([Arr("N D"), Ids("B T", "N")], {}),
    "embedding_backward": ([Arr("B T D"), Ids("B T", "N"), Int(3)],
                           {"padding_idx": Int(0), "scale_grad_by_freq": BOOL, "sparse": BOOL}),
    "gelu_forward": ([Arr("N C L")], {"approximate": Choice("none", "tanh", "bogus")}),
    "gelu_backward": ([Arr("N C"), Arr("N C")], {"approximate": Choice("none", "tanh")}),
    "softmax_forward": ([A2], {"log": BOOL}),
    "softmax_backward": ([A2, A2], {"log": BOOL}),
    "layer_norm_forward": ([A2, Arr("C", optional=True), Arr("C", optional=True), Float(1e-5)], {}),
    "layer_norm_backward": ([A2, A2, Arr("C", optional=True), Arr("N"), Arr("N"), BOOL, BOOL], {}),
    "linear_forward": ([Arr("N K"), Arr("O K"), Arr("O", optional=True)], {}),
    "linear_backward": ([Arr("N O"), Arr("N K"), Arr("O K"), BOOL, BOOL, BOOL], {}),
    "rnn_forward": ([Choice("RNN_TANH", "RNN_RELU", "LSTM", "GRU", "bogus"), Arr("T B I"), Arr("3*H I"),
                     Arr("3*H H"), Arr("3*H", optional=True), Arr("3*H", optional=True), Arr("B H", optional=True),
                     Arr("B H", optional=True), Ids("B", "T+1", optional=True)],
                    {"batch_first": BOOL, "reverse": BOOL, "training": BOOL, "out": Arr("T B 2*H", optional=True),
                     "out_column": Int(0, 3)}),
    "rnn_backward": ([Choice("GRU", "LSTM"), Arr("T B I"), Arr("3*H I"), Arr("3*H H"), Arr("T*B 4*H"),
                      Arr("T B H")],
                     {"dy_column": Int(0), "dh_n": Arr("B H", optional=True), "dc_n": Arr("B H", optional=True),
                      "lengths": Ids("B", "T+1", optional=True), "batch_first": BOOL, "reverse": BOOL,
                      "bias": BOOL, "need_dx": BOOL, "dx_accumulate": Arr("T B I", optional=True)}),
    # elementwise, reductions, pooling and the BCE / MSE losses (the op layer's kernels)
    "unary_forward": ([A2, Choice("relu", "tanh", "sigmoid", "silu", "softplus", "leaky_relu", "elu", "exp", "log",
                                  "bogus")], {"alpha": Float(0.01), "beta": Float(1.0), "threshold": Float(20.0)}),
    "unary_backward": ([A2], {"input": Arr("N C", optional=True), "output": Arr("N C", optional=True),
                              "op": Choice("relu", "tanh", "sigmoid", "silu", "softplus", "leaky_relu", "elu", "exp",
                                           "log", "bogus"), "alpha": Float(0.01), "beta": Float(1.0),
                              "threshold": Float(20.0)}),
    "binary_forward": ([Arr("N C"), Arr("C"), Choice("add", "sub", "mul", "div", "bogus")], {}),
    "binary_backward": ([Arr("N C"), Arr("N C"), Arr("C"), Choice("add", "sub", "mul", "div", "bogus")],
                        {"need_a": BOOL, "need_b": BOOL}),
    "sum_forward": ([Arr("N C L"), Int(1, -1)], {"mean": BOOL}),
    "sum_backward": ([Arr("N L"), (Int(2), Int(3), Int(4)), Int(1, -1)], {"mean": BOOL}),
    "max_forward": ([Arr("N C L"), Int(1, -1)], {"indices": BOOL}),
    "max_backward": ([Arr("N L"), Ids("N L", "C"), (Int(2), Int(3), Int(4)), Int(1)], {}),
    "amax_backward": ([Arr("N L"), Arr("N C L"), Arr("N L"), Int(1)], {}),
    "max_pool1d_forward": ([Arr("N C L"), Int(2), Int(1, 2), Int(0, 1), Int(1, 2), Int(1, 3)], {}),
    "max_pool1d_backward": ([Arr("N C K"), Ids("N C K", "L"), Int(5)], {}),
    "avg_pool1d_forward": ([Arr("N C L"), Int(2), Int(1, 2), Int(0, 1), Int(1, 3)],
                           {"count_include_pad": BOOL, "divisor_override": Int(0, 2)}),
    "avg_pool1d_backward": ([Arr("N C K"), Int(5), Int(2), Int(1, 2), Int(0, 1)],
                            {"count_include_pad": BOOL, "divisor_override": Int(0, 2)}),
    "mse_forward": ([A2, A2], {"reduction": Choice("mean", "sum", "none", "bogus")}),
    "mse_backward": ([Arr("N C", optional=True), A2, A2],
                     {"reduction": Choice("mean", "sum", "none"), "need_input": BOOL, "need_target": BOOL}),
    "bce_with_logits_forward": ([A2, A2], {"weight": Arr("C", optional=True), "pos_weight": Arr("C", optional=True),
                                           "reduction": Choice("mean", "sum", "none", "bogus")}),
    "bce_with_logits_backward": ([Arr("N C", optional=True), A2, A2],
                                 {"weight": Arr("C", optional=True), "pos_weight": Arr("C", optional=True),
                                  "reduction": Choice("mean", "sum", "none"), "need_input": BOOL,
                                  "need_target": BOOL}),
    # linear-chain CRF: emissions (B, T, K), tags (B, T), lengths (B)
    "crf_forward": ([Arr("B T K"), Ids("B T", "K"), Ids("B", "T+1"), Arr("K K"), Arr("K"), Arr("K")], {}),
    "crf_backward": ([Arr("B"), Arr("B T K"), Ids("B T", "K"), Ids("B", "T+1"), Arr("B T K"), Arr("B"), Arr("K K"),
                      Arr("K"), Arr("K")], {"need_emissions": BOOL, "need_weights": BOOL}),
    "crf_viterbi": ([Arr("B T K"), Ids("B", "T+1"), Arr("K K"), Arr("K"), Arr("K")], {}),
    # LLM kernels: RMS norm, SiLU / SwiGLU, rotary embedding (in place), GGUF-quantized weights (uint8 blocks)
    "rms_norm_forward": ([A2, Arr("C", optional=True), Float(1e-6)], {}),
    "rms_norm_backward": ([A2, A2, Arr("N"), Arr("C", optional=True), BOOL], {}),
    "swiglu_forward": ([A2, A2], {}),
    "swiglu_backward": ([A2, A2, A2], {}),
    "rotary_embedding_": ([Arr("T H*D"), Ids("T", "L"), Int(2, 4), Float(10000.0)],
                          {"rotary_dim": Int(-1, 2), "interleaved": BOOL, "inverse": BOOL}),
    "quant_matmul": ([Arr("N K"), Arr("O 18*K", "uint8"), Int(2, 3, 8), Arr("O", optional=True)], {}),
    "quant_dequantize": ([Arr("O 34*K", "uint8"), Int(2, 3, 8)], {"ids": Ids("T", "O", optional=True)}),
    "quant_quantize_q8_0": ([Arr("N 32*K")], {}),
    "quant_kernel_name": ([], {}),
    "cuda_axpy": ([Float(1.0), Arr("N"), Arr("N")], {}),  # CUDA builds only
}

F_CASES = {
    "adaptive_max_pool1d": ([Arr("N C L"), Int(1, 2)], {"return_indices": BOOL}),
    "avg_pool1d": ([Arr("N C L"), Int(2, 3)], {"stride": Int(1, 2), "padding": Int(0, 1), "ceil_mode": BOOL,
                                               "count_include_pad": BOOL}),
    "max_pool1d": ([Arr("N C L"), Int(2, 3)], {"stride": Int(1, 2), "padding": Int(0, 1), "dilation": Int(1, 2),
                                               "ceil_mode": BOOL, "return_indices": BOOL}),
    "binary_cross_entropy_with_logits": ([A2, A2], {"weight": Arr("C", optional=True),
                                                    "reduction": Choice("mean", "sum", "none", "bogus"),
                                                    "pos_weight": Arr("C", optional=True)}),
    "conv1d": ([Arr("N C L"), Arr("O C K"), Arr("O", optional=True)],
               {"stride": Int(1, 2), "padding": Choice(0, 1, "same", "valid", 2 ** 62, -1), "dilation": Int(1, 2),
                "groups": Int(1)}),
    "cross_entropy": ([A2, Ids("N", "C")], {"weight": Arr("C", optional=True), "ignore_index": Int(-100),
                                            "reduction": Choice("mean", "sum", "none"),
                                            "label_smoothing": Float(0.1)}),
    "dropout": ([A2], {"p": Float(0.5), "training": BOOL}),
    "embedding": ([Ids("B T", "N"), Arr("N D")], {"padding_idx": Int(0), "max_norm": Float(1.0),
                                                  "scale_grad_by_freq": BOOL, "sparse": BOOL}),
    "gelu": ([Arr("N C")], {"approximate": Choice("none", "tanh", "bogus")}),
    "relu": ([Arr("N C")], {"inplace": BOOL}),
    "tanh": ([Arr("N C")], {}),
    "sigmoid": ([Arr("N C")], {}),
    "silu": ([Arr("N C")], {"inplace": BOOL}),
    "softplus": ([Arr("N C")], {"beta": Float(1.0), "threshold": Float(20.0)}),
    "leaky_relu": ([Arr("N C")], {"negative_slope": Float(0.01), "inplace": BOOL}),
    "elu": ([Arr("N C")], {"alpha": Float(1.0), "inplace": BOOL}),
    "normalize": ([Arr("N C L")], {"p": Float(2.0, 1.0), "dim": Int(1, -1), "eps": Float(1e-12)}),
    "one_hot": ([Ids("N L", "C")], {"num_classes": Int(-1, 3)}),
    "pad": ([Arr("N C L"), Choice((1, 2), (0, 0), (-1, 1), (2 ** 62, 0), (1, 1, 1, 1), (1,), ())],
            {"mode": Choice("constant", "reflect", "replicate", "circular", "bogus"), "value": Float(0.0)}),
    "layer_norm": ([Arr("N C"), Choice((3,), (0,), 3, (-1,), (2 ** 63 - 1,))],
                   {"weight": Arr("C", optional=True), "bias": Arr("C", optional=True), "eps": Float(1e-5)}),
    "linear": ([Arr("N K"), Arr("O K"), Arr("O", optional=True)], {}),
    "log_softmax": ([Arr("N C")], {"dim": Int(-1, 0, 1)}),
    "softmax": ([Arr("N C")], {"dim": Int(-1, 0, 1)}),
    "mse_loss": ([A2, A2], {"reduction": Choice("mean", "sum", "none", "bogus")}),
    "scaled_dot_product_attention": ([Arr("B H Q D"), Arr("B H S D"), Arr("B H S D")],
                                     {"attn_mask": Arr("Q S", optional=True), "dropout_p": Float(0.0),
                                      "is_causal": BOOL, "scale": Float(0.5), "enable_gqa": BOOL}),
}


def _public_C():
    return sorted(n for n in dir(C) if not n.startswith("_"))


def _public_F():
    """The ops seqkernels.functional defines (not the classes and helpers it imports)."""
    return sorted(n for n, f in vars(F).items() if inspect.isfunction(f) and not n.startswith("_")
                  and f.__module__ == F.__name__)


def test_every_entry_point_is_fuzzed():
    missing = [f"_C.{n}" for n in _public_C() if n not in C_CASES] + \
              [f"functional.{n}" for n in _public_F() if n not in F_CASES]
    assert not missing, (f"not fuzzed: {missing}; add argument templates for them to C_CASES / F_CASES in "
                         f"tests/test_fuzz.py")


_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not LONG,
                     suppress_health_check=list(HealthCheck), print_blob=LONG)


# A device failure is no bad input: cuda_axpy raises RuntimeError when the build has CUDA but no GPU is there.
DEVICE_ERRORS = {"cuda_axpy": ("RuntimeError", "CUDA")}


def _check(call, name=""):
    outcome = run_isolated(call, timeout=60)
    kind, fragment = DEVICE_ERRORS.get(name, (None, None))
    device_failure = kind is not None and outcome.error == kind and fragment in outcome.message
    assert outcome.ok or device_failure, f"\n{call}\n-> {outcome.describe()}"


def _fuzz(prefix, cases, name, tensors):
    """Hypothesis over ``prefix.name`` called with the templates ``cases[name]``, each call in a forked child."""
    args, kwargs = cases[name]

    @_SETTINGS
    @given(calls(f"{prefix}.{name}", args, kwargs, tensors=tensors))
    def run(call):
        _check(call, name if prefix == "C" else "")

    run()


@pytest.mark.parametrize("name", sorted(C_CASES))
def test_fuzz_C(name):
    if not hasattr(C, name):
        pytest.skip(f"_C.{name} is not in this build")
    _fuzz("C", C_CASES, name, tensors=False)


@pytest.mark.parametrize("name", sorted(F_CASES))
def test_fuzz_functional(name):
    if not hasattr(F, name):
        pytest.skip(f"functional.{name} does not exist")
    _fuzz("F", F_CASES, name, tensors=True)
