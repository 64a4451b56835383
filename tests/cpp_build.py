"""Build cpp_bindings (and its Python module) into build/cpp with CMake; shared by tests and benchmarks.

Missing tools or Debian packages FAIL (CI installs them), naming what to install.
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
BUILD = ROOT / "build" / "cpp"
APT_LINE = "apt-get install -y cmake g++ nlohmann-json3-dev pybind11-dev catch2 libbenchmark-dev"


def _run(cmd: list[str], what: str, timeout: int = 1200) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
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
        _run(["cmake", "-S", str(SRC), "-B", str(BUILD), f"-DPython_EXECUTABLE={sys.executable}",
              "-DACT_EDGE_BUILD_PYTHON=ON", "-DCMAKE_BUILD_TYPE=Release"], "configuring cpp_bindings")
    _run(["cmake", "--build", str(BUILD), "-j", str(max(1, os.cpu_count() or 1))], "building cpp_bindings")
    return BUILD


def import_cpp(build: Path):
    import importlib

    sys.path.insert(0, str(build))
    try:
        return importlib.import_module("act_edge_cpp")
    finally:
        sys.path.remove(str(build))
