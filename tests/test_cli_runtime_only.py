"""The CLI in a runtime-only install (torch blocked, as on a robot): what needs torch says so in one line
(exit 2, the install command) and writes nothing; `bench --compare` checks it can compare before it
measures; a bench phase that fails late still leaves the table and the JSON of what was measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bundles import build_synthetic_bundle, synthetic_spec

ROOT = Path(__file__).resolve().parents[1]
TORCH_LINE = "pip install torch --index-url https://download.pytorch.org/whl/cpu"

# Import torch (and what only the export side uses) fails as it does where it is not installed.
BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _NoTorch())
    from act_edge.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


def run_no_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def one_line_error(res: subprocess.CompletedProcess, command: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"act-edge {command}: error: "), err
    return err


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    return build_synthetic_bundle(tmp_path_factory.mktemp("rt") / "rt.actedge", synthetic_spec(chunk=8), fp16=False)


def test_init_without_torch_says_how_to_install_it(tmp_path):
    err = one_line_error(run_no_torch("init", "--preset", "tiny", "-o", "ckpt.pt", cwd=tmp_path), "init")
    assert "needs torch" in err and TORCH_LINE in err
    assert list(tmp_path.iterdir()) == []


def test_export_without_torch_says_how_to_install_it(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(np.random.default_rng(0).bytes(256))
    err = one_line_error(run_no_torch("export", str(ckpt), "--fp16", cwd=tmp_path), "export")
    assert "needs torch" in err and TORCH_LINE in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_inspect_checkpoint_without_torch_says_how_to_install_it(tmp_path, bundle):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(np.random.default_rng(1).bytes(256))
    err = one_line_error(run_no_torch("inspect", str(ckpt), cwd=tmp_path), "inspect")
    assert "needs torch" in err and TORCH_LINE in err
    # a bundle needs no torch
    res = run_no_torch("inspect", str(bundle.path), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"bundle {bundle.path}" in res.stdout


def test_bench_compare_without_torch_fails_before_measuring(tmp_path, bundle):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(np.random.default_rng(2).bytes(256))
    t0 = time.perf_counter()
    res = run_no_torch("bench", str(bundle.path), "--backend", "onnxruntime", "--iters", "50", "--duration", "60",
                       "--compare", str(ckpt), "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    seconds = time.perf_counter() - t0
    err = one_line_error(res, "bench")
    assert f"--compare {ckpt} needs torch" in err and TORCH_LINE in err
    assert "latency" not in res.stdout and not (tmp_path / "r.json").exists()
    assert seconds < 45  # the 60 s control loop never ran


def test_bench_compare_with_unreadable_checkpoint_fails_before_measuring(tmp_path, bundle):
    pytest.importorskip("torch")
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(np.random.default_rng(3).bytes(256))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "act_edge", "bench", str(bundle.path), "--backend", "onnxruntime",
                          "--duration", "60", "--compare", str(ckpt), "--json", str(tmp_path / "r.json")],
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                         timeout=300)
    seconds = time.perf_counter() - t0
    err = one_line_error(res, "bench")
    assert str(ckpt) in err
    assert "latency" not in res.stdout and not (tmp_path / "r.json").exists()
    assert seconds < 45  # the 60 s control loop never ran


def test_bench_late_failure_still_writes_table_and_json(tmp_path, bundle, monkeypatch, capsys):
    from act_edge.bench import control_loop
    from act_edge.bench.report import REQUIRED
    from act_edge.cli.main import main

    def broken_loop(*args, **kwargs):
        raise RuntimeError("camera driver hung\nsecond line")

    monkeypatch.setattr(control_loop, "run_loop", broken_loop)
    out = tmp_path / "r.json"
    rc = main(["bench", str(bundle.path), "--backend", "onnxruntime", "--iters", "7", "--warmup", "1",
               "--duration", "1", "-q", "--json", str(out)])
    cap = capsys.readouterr()
    assert rc == 2
    err = cap.err.strip()
    assert err == ("act-edge bench: error: the control loop phase failed (RuntimeError: camera driver hung); "
                   "the phases before it were measured")
    r = json.loads(out.read_text())
    assert set(REQUIRED) <= set(r)
    assert r["incomplete"] == {"phase": "control loop", "error": "RuntimeError: camera driver hung"}
    assert r["latency"]["stages"]["total"]["count"] == 7 and r["throughput"]["inferences_per_s"] > 0
    assert r["control_loop"] is None and r["compare"] is None
    assert "latency (ms;" in cap.out and "throughput   batch 1" in cap.out
    assert "incomplete   the control loop phase failed" in cap.out and f"{out} (incomplete)" in cap.out
