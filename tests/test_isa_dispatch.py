"""Runtime ISA dispatch: the default build holds an AVX-512, an AVX2 and a baseline copy of the kernels
and picks one at import by CPUID; SEQKERNELS_ISA forces one. Each forced copy must compute what the
default copy computes, and an emulated older CPU (qemu-user, when installed) must get the copy it can
run instead of SIGILL."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqkernels as sk

INFO = sk.build_info()
PYTHON_PATH = os.pathsep.join(p for p in sys.path if p)

# A few kernels of different families on awkward sizes; prints their results as JSON.
PROBE = r"""
import json, numpy as np, seqkernels as sk, seqkernels.functional as F
from seqkernels.ops import quantized as Q
rng = np.random.default_rng(0)
a = rng.standard_normal((37, 53)).astype(np.float32); b = rng.standard_normal((53, 19)).astype(np.float32)
x = sk.tensor(rng.standard_normal((2, 5, 23)).astype(np.float32))
w = sk.tensor(rng.standard_normal((7, 5, 3)).astype(np.float32))
q = sk.tensor(rng.standard_normal((1, 2, 9, 8)).astype(np.float32))
# GGUF Q4_1 blocks (13 rows of 4 blocks: fp16 scale and min, 16 nibble bytes) and Q8_0 blocks; 5 rows of input
w41 = rng.integers(0, 256, (13, 4, 20), dtype=np.uint8)
w41[:, :, :4] = (rng.random((13, 4, 2)) * 0.1).astype(np.float16).view(np.uint8).reshape(13, 4, 4)
w8 = Q.quantize_q8_0(rng.standard_normal((13, 128)).astype(np.float32))
xq = rng.standard_normal((5, 128)).astype(np.float32)
out = {
    "isa": sk.build_info()["isa"],
    "matmul": sk.matmul(a, b).tolist(),
    "conv1d": F.conv1d(x, w, padding=1).numpy().tolist(),
    "gelu": F.gelu(sk.tensor(a)).numpy().tolist(),
    "attention": F.scaled_dot_product_attention(q, q, q, is_causal=True).numpy().tolist(),
    "quant_path": sk._C.quant_kernel_name(),
    "quant_q4_1": Q.quant_matmul(xq, w41.reshape(13, 80), Q.Q4_1).tolist(),
    "quant_q8_0": Q.quant_matmul(xq, w8, Q.Q8_0).tolist(),
}
print(json.dumps(out))
"""


def _run(env_isa=None, prefix=()):
    env = dict(os.environ, PYTHONPATH=PYTHON_PATH)
    env.pop("SEQKERNELS_ISA", None)
    if env_isa is not None:
        env["SEQKERNELS_ISA"] = env_isa
    return subprocess.run([*prefix, sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=600)


def _results(done):
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_build_info_names_the_variant_in_use():
    assert INFO["isa"] in INFO["isa_compiled"]
    assert INFO["isa"] in INFO["isa_supported"]
    assert set(INFO["isa_supported"]) <= set(INFO["isa_compiled"])
    # the best runnable copy is chosen: the compiled list is best first
    assert INFO["isa"] == INFO["isa_supported"][0] or os.environ.get("SEQKERNELS_ISA")
    if INFO["native"]:
        assert INFO["isa_compiled"] == ["native"]
    else:
        assert INFO["isa_compiled"][-1] == "baseline"


@pytest.mark.parametrize("isa", ["avx512", "avx2", "baseline"])
def test_every_forced_variant_computes_what_the_default_computes(isa):
    if isa not in INFO["isa_supported"]:
        pytest.skip(f"{isa} not compiled in or not runnable here ({INFO['isa_compiled']})")
    default, forced = _results(_run()), _results(_run(isa))
    assert forced["isa"] == isa
    # the quantized products' integer path is the one the variant's instruction set has
    assert forced["quant_path"] == {"avx512": "avx512-vnni", "avx2": "avx2", "baseline": "scalar"}[isa]
    for name in ("matmul", "conv1d", "gelu", "attention", "quant_q4_1", "quant_q8_0"):
        # different vector widths sum in different orders: float32 rounding, not different math
        np.testing.assert_allclose(np.array(forced[name]), np.array(default[name]), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_an_unknown_or_unrunnable_variant_fails_the_import_clearly():
    done = _run("sse1")
    assert done.returncode != 0 and "ImportError" in done.stderr and "SEQKERNELS_ISA=sse1" in done.stderr
    missing = [isa for isa in INFO["isa_compiled"] if isa not in INFO["isa_supported"]]
    if missing:
        done = _run(missing[0])
        assert done.returncode != 0 and "this CPU cannot run" in done.stderr


@pytest.mark.parametrize("cpu, expected", [("Haswell", "avx2"), ("Nehalem", "baseline")])
def test_an_older_cpu_gets_the_variant_it_runs(cpu, expected):
    qemu = shutil.which("qemu-x86_64")
    if qemu is None or sys.platform != "linux" or os.uname().machine != "x86_64":
        pytest.skip("needs qemu-user (apt-get install qemu-user) on x86-64 Linux")
    if expected not in INFO["isa_compiled"]:
        pytest.skip(f"this build has no {expected} variant ({INFO['isa_compiled']})")
    emulated = _results(_run(prefix=(qemu, "-cpu", cpu)))
    assert emulated["isa"] == expected
    reference = _results(_run())
    for name in ("matmul", "conv1d", "gelu", "attention", "quant_q4_1", "quant_q8_0"):
        np.testing.assert_allclose(np.array(emulated[name]), np.array(reference[name]), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
