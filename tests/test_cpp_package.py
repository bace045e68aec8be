"""The C++ package the wheel installs: `seqkernels --cmake-dir` / `--include-dir` point at the CMake config
and the headers (CI then builds examples/cpp against them with find_package). In a development build,
which installs nothing, the commands fail with a message instead of printing a wrong path."""
import subprocess
import sys
from pathlib import Path

import seqkernels


def _ask(option):
    return subprocess.run([sys.executable, "-m", "seqkernels", option], capture_output=True, text=True, timeout=60)


def test_cmake_and_include_dirs_name_the_installed_package():
    installed = (Path(seqkernels.__file__).parent / "lib" / "cmake" / "seqkernels").is_dir()
    cmake, include = _ask("--cmake-dir"), _ask("--include-dir")
    if not installed:
        for done in (cmake, include):
            assert done.returncode == 1 and "pip install" in done.stderr and not done.stdout
        return
    assert cmake.returncode == 0 and include.returncode == 0, cmake.stderr + include.stderr
    config = Path(cmake.stdout.strip())
    assert (config / "seqkernelsConfig.cmake").is_file() and (config / "seqkernelsConfigVersion.cmake").is_file()
    targets = (config / "seqkernelsTargets.cmake").read_text()
    assert "seqkernels::kernels" in targets and "march" not in targets  # no machine-only flag leaks out
    headers = Path(include.stdout.strip()) / "seqkernels"
    assert {"gemm.h", "rnn.h", "attention.h"} <= {p.name for p in headers.glob("*.h")}
