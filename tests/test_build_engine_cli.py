"""`act-edge build-engine` without TensorRT: non-zero exit, one line saying why; export's hook skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from act_edge.cli import main as cli_main
from act_edge.engine_registry import maybe_build_after_export

ROOT = Path(__file__).resolve().parent.parent


def _trt_importable() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:
        return False
    return True


needs_no_trt = pytest.mark.skipif(_trt_importable(), reason="tensorrt is importable here: the no-TensorRT path can't run")


@pytest.fixture()
def bundle(minimal_bundle):
    return minimal_bundle


@needs_no_trt
def test_main_reports_missing_tensorrt_in_one_line(bundle, monkeypatch, capsys):
    # Only this subcommand: the others are written on other branches.
    rc = cli_main.main(["build-engine", str(bundle), "--fp16", "--max-batch", "2"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1
    assert err.startswith("act-edge build-engine: error: tensorrt is not importable")
    assert "docs/jetson.md" in err
    assert not (bundle / "engines").exists()  # nothing registered or written


def test_bad_bundle_is_reported_before_tensorrt(tmp_path, monkeypatch, capsys):
    rc = cli_main.main(["build-engine", str(tmp_path / "missing.actedge")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "missing.actedge: no such file or directory" in err


def test_weak_typing_with_fp32_is_a_user_error(bundle, monkeypatch, capsys):
    assert cli_main.main(["build-engine", str(bundle), "--fp32", "--weak-typing"]) == 2
    assert "--weak-typing goes with --fp16" in capsys.readouterr().err


@needs_no_trt
def test_console_entry_point_exits_nonzero_with_one_line(bundle):
    cmd = [sys.executable, "-m", "act_edge"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd + ["build-engine", str(bundle)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "tensorrt is not importable" in lines[0]


@needs_no_trt
def test_export_hook_says_plainly_that_it_skipped(bundle):
    logged = []
    status = maybe_build_after_export(bundle, logged.append)
    assert status.startswith("TensorRT engine: skipped, tensorrt is not importable")
    assert "\n" not in status
    assert not (bundle / "engines").exists()


@needs_no_trt
def test_backend_without_tensorrt_is_unavailable_with_reason(bundle):
    from act_edge import load_bundle
    from act_edge.backends.tensorrt import TensorRTBackend
    from act_edge.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="tensorrt is not importable"):
        TensorRTBackend(load_bundle(bundle), max_batch=1)


def test_trt_modules_import_without_heavy_packages():
    code = ("import sys, act_edge.engine_key, act_edge.trt.build, act_edge.engine_registry, act_edge.trt.verify, "
            "act_edge.backends.tensorrt, act_edge.cli.build_engine_cmd; "
            "print(sorted(m for m in ('torch', 'tensorrt', 'pycuda', 'onnxruntime', 'onnx') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
