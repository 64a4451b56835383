"""tools/gpu_check.sh plumbing (its summary, an end-to-end CPU dry run) and `act-edge bench --device`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from act_edge.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import gpu_check_summary  # noqa: E402

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_gpu" name="test_a[fp16]" time="1.5"/>
<testcase classname="tests.test_gpu" name="test_b" time="0.2"><failure message="AssertionError: 3.1 &gt; 2.0">tb</failure></testcase>
<testcase classname="tests.test_gpu" name="test_c" time="0"><skipped message="no CUDA device"/></testcase>
</testsuite></testsuites>"""


def test_summary_from_a_run_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    infer, total, eager = (float(x) for x in rng.uniform(1000, 9000, 3))
    (tmp_path / "phases.tsv").write_text("preflight\tok\t3\t\ngpu-tests\tfailed\t41\texit 1: 1 failed\n")
    (tmp_path / "gpu-tests.xml").write_text(JUNIT)
    (tmp_path / "preflight.json").write_text(json.dumps({"torch": "2.5.1", "cuda": {"device": "NVIDIA H200",
                                                                                    "build": "12.4"}}))
    (tmp_path / "bench-aloha-sim.json").write_text(json.dumps({
        "policy": {"backend": "torch", "device": "cuda:0", "precision": "fp16"},
        "latency": {"stages": {"infer": {"p50_us": infer, "p99_us": 2 * infer}, "total": {"p50_us": total, "p99_us": 3 * total}}},
        "control_loop": {"verdict": "HOLDS 50 Hz"}, "compare": {"torch_median_ms": eager, "speedup": 4.25,
                                                               "max_abs_action_diff_normalized": 0.0123}}))
    assert gpu_check_summary.main([str(tmp_path), "--dry-run", "0"]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["all_phases_ok"] is False and [p["status"] for p in s["phases"]] == ["ok", "failed"]
    assert s["gpu_tests"]["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 1}
    assert s["gpu_tests"]["cases"][1] == {"test": "tests.test_gpu::test_b", "outcome": "failed", "seconds": 0.2,
                                          "reason": "AssertionError: 3.1 > 2.0"}
    b = s["bench"][0]
    assert b["preset"] == "aloha-sim" and b["infer_p50_ms"] == pytest.approx(infer / 1000)
    assert b["step_p99_ms"] == pytest.approx(3 * total / 1000) and b["speedup_vs_eager_fp32"] == 4.25
    md = (tmp_path / "summary.md").read_text()
    assert md.startswith("# GPU check\n\nDevice: NVIDIA H200; torch 2.5.1 (CUDA 12.4)")
    assert "| gpu-tests | failed | 41 | exit 1: 1 failed |" in md
    assert f"| aloha-sim | torch cuda:0 fp16 | {infer / 1000:.3g} / {2 * infer / 1000:.3g} |" in md
    assert "| 4.25x | 0.0123 | HOLDS 50 Hz |" in md


def test_bench_device_is_checked_before_loading(tmp_path: Path, capsys) -> None:
    assert main(["bench", str(tmp_path), "--device", "gpu0"]) == 2
    assert capsys.readouterr().err == "act-edge bench: error: argument --device: 'gpu0': expected cpu, cuda or cuda:N\n"


def test_bench_device_reaches_the_policy(minimal_bundle: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    b = minimal_bundle
    out = tmp_path / "r.json"
    assert main(["bench", str(b), "--backend", "onnxruntime", "--device", "cpu", "--iters", "3", "--warmup", "1",
                 "--duration", "0", "-q", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["config"]["device"] == "cpu" and r["policy"]["device"] == "cpu"


@pytest.mark.slow
def test_cpu_dry_run_end_to_end(tmp_path: Path) -> None:
    """The whole script on CPU (tiny preset, torch backend on cpu): every phase ok, both summaries."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    env = dict(os.environ, PYTHON=sys.executable)
    res = subprocess.run(["bash", str(ROOT / "tools" / "gpu_check.sh"), str(tmp_path / "out"), "--cpu-dry-run"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["dry_run"] is True and s["all_phases_ok"] is True
    assert [p["name"] for p in s["phases"]] == ["preflight", "doctor", "gpu-tests", "export-tiny", "bench-tiny"]
    cases = s["gpu_tests"]["cases"]
    assert len(cases) == 8 and {(c["outcome"], c["reason"]) for c in cases} == {("skipped", "no CUDA device")}
    assert s["bench"][0]["policy"]["device"] == "cpu" and s["bench"][0]["speedup_vs_eager_fp32"] > 0
    assert s["doctor"][0].startswith("ok platform:")
    assert not (tmp_path / "tiny.actedge").exists()  # the bundle went into the script's temp folder
