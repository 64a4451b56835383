"""The C++ build folder the tests use: one per Python version, a clean reconfigure when the interpreter
changes, and a configure failure reported by its cause (the package to install), not a blanket line."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cpp_build import BUILD, configure, configured_python

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed (tools/setup.sh)")

PROBE = ("import os, sys, sysconfig; print(sys.executable); print('%d.%d' % sys.version_info[:2]); "
         "print(os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))")


def other_python() -> str | None:
    """An interpreter of another Python version that has its development headers, if this machine has one."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [shutil.which(f"python3.{m}") for m in range(8, 15)] + ["/usr/bin/python3"]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
    for exe in filter(None, candidates):
        try:
            out = subprocess.run([exe, "-c", PROBE], capture_output=True, text=True, timeout=30).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if len(out) == 3 and out[1] != here and out[2] == "True":
            return out[0]
    return None


def test_build_folder_is_per_python_version() -> None:
    assert BUILD.name == f"cpp-py{sys.version_info[0]}{sys.version_info[1]}"


def test_switching_python_reconfigures_cleanly(tmp_path: Path) -> None:
    other = other_python()
    if other is None:
        pytest.skip("no second Python version with development headers on this machine")
    build = tmp_path / "cpp"
    configure(build, sys.executable)
    assert configured_python(build) == sys.executable
    out = configure(build, other)  # in place, CMake kept the first Python's paths and failed
    assert configured_python(build) == other
    assert f"act_edge: Python module act_edge_cpp for {other}" in out


def test_configure_failure_names_the_missing_package(tmp_path: Path, monkeypatch) -> None:
    import cpp_build

    real_run = cpp_build._run
    # nlohmann_json made unfindable, as on a machine without nlohmann-json3-dev
    monkeypatch.setattr(cpp_build, "_run", lambda cmd, what, timeout=1200: real_run(
        [*cmd, "-DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON"], what, timeout))
    with pytest.raises(pytest.fail.Exception) as e:
        configure(tmp_path / "cpp", sys.executable)
    first = str(e.value).splitlines()[0]
    assert first.startswith("configuring cpp_bindings failed: act_edge: nlohmann_json >= 3.2 not found: "
                            "install the Debian/Ubuntu package nlohmann-json3-dev"), first
