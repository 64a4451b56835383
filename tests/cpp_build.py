"""Build cpp_bindings (and its Python module) into build/cpp with CMake; shared by tests and benchmarks.

Missing tools or Debian packages FAIL (CI installs them), naming what to install.
ACT_EDGE_CPP_SANITIZE=1 builds into build/cpp-asan with AddressSanitizer + UBSan instead
(tools/cpp_sanitize.sh: python must then run with the ASan runtime in LD_PRELOAD).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "cpp_bindings"
SANITIZE = os.environ.get("ACT_EDGE_CPP_SANITIZE", "") not in ("", "0")
BUILD = ROOT / "build" / ("cpp-asan" if SANITIZE else "cpp")
APT_LINE = "apt-get install -y cmake g++ nlohmann-json3-dev pybind11-dev catch2 libbenchmark-dev"


def _run(cmd: list[str], what: str, timeout: int = 1200) -> str:
    # cmake/make/compilers/ctest run without the ASan runtime a sanitized pytest preloads (the test
    # binaries carry their own).
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-40:])
        pytest.fail(f"{what} failed ({' '.join(cmd)}); the Debian packages come from: {APT_LINE}\n{tail}",
                    pytrace=False)
    return out


def build_cpp() -> Path:
    """Configure (once per build dir / Python) and build cpp_bindings into build/cpp; incremental."""
    for tool, pkg in (("cmake", "cmake"), ("c++", "g++")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: install the Debian package {pkg} ({APT_LINE})", pytrace=False)
    cache = BUILD / "CMakeCache.txt"
    want_py = f"Python_EXECUTABLE:FILEPATH={sys.executable}"
    if not cache.is_file() or want_py not in cache.read_text():
        mode = ["-DACT_EDGE_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"] if SANITIZE else ["-DCMAKE_BUILD_TYPE=Release"]
        _run(["cmake", "-S", str(SRC), "-B", str(BUILD), f"-DPython_EXECUTABLE={sys.executable}",
              "-DACT_EDGE_BUILD_PYTHON=ON", *mode], "configuring cpp_bindings")
    _run(["cmake", "--build", str(BUILD), "-j", str(max(1, os.cpu_count() or 1))], "building cpp_bindings")
    return BUILD


def import_cpp(build: Path):
    import importlib

    sys.path.insert(0, str(build))
    try:
        return importlib.import_module("act_edge_cpp")
    finally:
        sys.path.remove(str(build))
