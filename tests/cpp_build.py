"""Build cpp_bindings (and its Python module) into build/cpp-pyXY with CMake; shared by tests and benchmarks.

One build folder per Python version (the module is built for one interpreter); a folder configured
for another interpreter of the same version is reconfigured from a clean cache. Missing tools or
Debian packages FAIL (tools/setup.sh installs them), naming what to install.
ACT_EDGE_CPP_SANITIZE=1 builds into build/cpp-asan with AddressSanitizer + UBSan instead
(tools/cpp_sanitize.sh: python must then run with the ASan runtime in LD_PRELOAD).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "cpp_bindings"
SANITIZE = os.environ.get("ACT_EDGE_CPP_SANITIZE", "") not in ("", "0")
BUILD = ROOT / "build" / ("cpp-asan" if SANITIZE else f"cpp-py{sys.version_info[0]}{sys.version_info[1]}")
BUILD_MODE = (["-DACT_EDGE_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"] if SANITIZE
              else ["-DCMAKE_BUILD_TYPE=Release"])
APT_LINE = "bash tools/setup.sh (or: apt-get install -y cmake make g++ python3-dev nlohmann-json3-dev pybind11-dev catch2)"


def _run(cmd: list[str], what: str, timeout: int = 1200) -> str:
    # cmake/make/compilers/ctest run without the ASan runtime a sanitized pytest preloads (the test
    # binaries carry their own).
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-40:])
        cause = configure_error(out)
        head = f"{what} failed: {cause}" if cause else f"{what} failed ({' '.join(cmd)}); packages: {APT_LINE}"
        pytest.fail(f"{head}\n{tail}", pytrace=False)
    return out


def configure_error(output: str) -> str | None:
    """The text of the first `CMake Error` block (cpp_bindings' messages name the missing package), one line."""
    m = re.search(r"CMake Error[^\n]*:\n((?:  [^\n]*\n?)+)", output)
    return " ".join(m.group(1).split()) if m else None


def configure(build: Path, python: str) -> str:
    """Configure `build` for `python`; a cache made for another interpreter is dropped first (CMake would
    keep that Python's include and library paths and fail with a misleading message)."""
    cache = build / "CMakeCache.txt"
    if cache.is_file() and configured_python(build) != python:
        cache.unlink()  # the objects stay: what the new configuration changes is rebuilt
    return _run(["cmake", "-S", str(SRC), "-B", str(build), f"-DPython_EXECUTABLE={python}",
                 "-DACT_EDGE_BUILD_PYTHON=ON", *BUILD_MODE], "configuring cpp_bindings")


def configured_python(build: Path) -> str | None:
    """The interpreter `build`'s CMake cache was configured for (None: no cache)."""
    cache = build / "CMakeCache.txt"
    if not cache.is_file():
        return None
    m = re.search(r"^Python_EXECUTABLE:[A-Z]+=(.*)$", cache.read_text(), re.M)
    return m.group(1) if m else None


def build_cpp() -> Path:
    """Configure (once per build dir / Python) and build cpp_bindings into build/cpp-pyXY; incremental."""
    for tool, pkg in (("cmake", "cmake"), ("make", "make"), ("c++", "g++")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: install the Debian package {pkg} ({APT_LINE})", pytrace=False)
    if configured_python(BUILD) != sys.executable:
        configure(BUILD, sys.executable)
    _run(["cmake", "--build", str(BUILD), "-j", str(max(1, os.cpu_count() or 1))], "building cpp_bindings")
    return BUILD


def import_cpp(build: Path):
    import importlib

    sys.path.insert(0, str(build))
    try:
        return importlib.import_module("act_edge_cpp")
    finally:
        sys.path.remove(str(build))
