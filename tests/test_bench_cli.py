"""`act-edge bench` end to end on the tiny bundle with onnxruntime: JSON schema and fields, --compare
ratio from the same run, --plot, argument errors, and a run with torch unimportable."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from act_edge.bench.report import REQUIRED, check_schema
from act_edge.bench.policy_adapter import STAGES

from conftest import ROOT, run_cli

HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def bench_run(exported_bundle, tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    args = [str(exported_bundle), "--backend", "onnxruntime", "--precision", "fp32", "--iters", "20", "--warmup", "2",
            "--duration", "1", "--compare", str(tiny_checkpoint), "--seed", "7", "--json", str(out / "out.json")]
    if HAVE_MPL:
        args += ["--plot", str(out / "out.png")]
    res = run_cli("bench", *args)
    assert res.returncode == 0, res.stderr
    return res, json.loads((out / "out.json").read_text()), out


def test_schema_and_fields(bench_run):
    res, r, _ = bench_run
    assert check_schema(r) == [] and set(REQUIRED) <= set(r)
    assert r["schema"] == "act-edge-bench/1"
    assert r["policy"]["backend"] == "onnxruntime" and r["policy"]["precision"] == "fp32"
    assert r["synthetic"]["seed"] == 7 and r["config"]["seed"] == 7
    dev = r["device"]
    assert dev["cpu"]["cores"] >= 1 and "numpy" in dev["libraries"] and "onnxruntime" in dev["libraries"]
    assert len(r["bundle"]["manifest_sha256"]) == 64 and len(r["bundle"]["artifact"]["sha256"]) == 64
    st = r["startup"]
    assert st["load_to_first_action_ms"] == pytest.approx(st["load_ms"] + st["first_action_ms"])
    assert st["peak_rss_mib"] > 0 and "gpu_memory_delta_mib" in st
    stages = r["latency"]["stages"]
    assert {"validate", "stage_inputs", "infer", "ensemble", "total"} <= set(stages) <= set(STAGES)
    for s in stages.values():
        assert s["p50_us"] <= s["p90_us"] <= s["p99_us"] <= s["max_us"] and s["count"] > 0
    assert stages["total"]["count"] == 20
    assert r["throughput"]["batch"] == 1 and r["throughput"]["inferences_per_s"] > 0
    assert r["power"]["available"] is False or r["power"]["mean_w"] > 0
    loop = r["control_loop"]
    assert loop["ticks_scheduled"] == 50 and loop["hz"] == 50
    assert loop["verdict"].startswith(("HOLDS 50 Hz", "DOES NOT HOLD 50 Hz"))
    assert len(loop["timeline"]["duration_us"]) == loop["steps_run"]
    assert "verdict" in res.stdout and "latency" in res.stdout and loop["verdict"] in res.stdout


def test_compare_ratio_is_from_the_same_run(bench_run):
    _, r, _ = bench_run
    c = r["compare"]
    assert c["iters"] == 20
    assert c["speedup"] == pytest.approx(c["torch_median_ms"] / c["bundle_median_ms"], rel=1e-12)
    assert c["max_abs_action_diff"] < 1e-3  # fp32 ONNX vs torch fp32, robot units
    # the manifest's vocabulary and definition (act_edge.metrics.action_errors), not one of bench's own
    assert 0 <= c["rmse_pct_range"] <= c["max_abs_pct_range"] < 0.01 and c["range_definition"]
    assert c["checkpoint_matches_bundle_source"] is True


@pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed (the `plot` extra)")
def test_plot_written(bench_run):
    _, _, out = bench_run
    assert (out / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(HAVE_MPL, reason="matplotlib installed")
def test_plot_without_matplotlib_fails_before_running(synthetic_bundle, tmp_path):
    res = run_cli("bench", str(synthetic_bundle.path), "--plot", str(tmp_path / "x.png"))
    assert res.returncode == 2
    assert "--plot needs matplotlib: pip install 'act-edge[plot]'" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--iters", "0"], "argument --iters: 0 is out of range: must be 1..10000000"),
    (["--hz", "0"], "argument --hz: 0 is out of range: must be > 0 and <= 10000"),
    (["--batch", "5"], "--batch 5: the bundle is exported for batch <= 4 (re-export with --max-batch)"),
    (["--json", "/nonexistent/dir/x.json"],
     "argument --json: /nonexistent/dir/x.json: directory /nonexistent/dir does not exist"),
])
def test_argument_errors(synthetic_bundle, args, message):
    res = run_cli("bench", str(synthetic_bundle.path), *args)
    assert res.returncode == 2
    assert res.stderr.strip() == f"act-edge bench: error: {message}"


def test_runs_without_torch(synthetic_bundle, tmp_path):
    """Without --compare / --backend torch the bench never imports torch."""
    import subprocess

    code = ("import sys; sys.modules['torch'] = None; from act_edge.cli.main import main; "
            f"sys.exit(main(['bench', {str(synthetic_bundle.path)!r}, '--backend', 'onnxruntime', '--iters', '3', "
            f"'--warmup', '1', '--duration', '0.2', '--batch', '2', '--json', {str(tmp_path / 'r.json')!r}]))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["compare"] is None and r["throughput"]["batch"] == 2
