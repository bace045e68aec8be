"""Where the wheel installed the C++ package: headers, the static kernel library and its CMake config.

    cmake -S app -B build -Dseqkernels_ROOT="$(seqkernels --cmake-dir)"
    # CMakeLists.txt: find_package(seqkernels CONFIG REQUIRED)
    #                 target_link_libraries(app PRIVATE seqkernels::kernels)
"""
from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent


def _installed(path: Path, what: str) -> str:
    if not path.is_dir():
        raise FileNotFoundError(f"no {what} at {path}: the C++ package is installed by `pip install` "
                                "(a development build with SEQKERNELS_INPLACE has none)")
    return str(path)


def cmake_dir() -> str:
    """The folder holding ``seqkernelsConfig.cmake``."""
    return _installed(_ROOT / "lib" / "cmake" / "seqkernels", "CMake package")


def include_dir() -> str:
    """The folder to put on the include path (it holds ``seqkernels/*.h``)."""
    return _installed(_ROOT / "include", "C++ headers")
