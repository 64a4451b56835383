"""Every entry point goes through the one manifest validator (act_edge.manifest_schema): a malformed
manifest gives ONE line naming the key path from Policy.load, and exit 2 with one stderr line (no
traceback) from `act-edge inspect`, `bench` and `build-engine`. Writers run the same validator: a
manifest the reader would refuse is never written (issue 10, defects 3a, 5, 6, 7)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from act_edge import BundleError, Policy
from act_edge.bundle import MANIFEST, load_bundle, write_bundle_atomic
from act_edge.post_steps import PostSteps
from conftest import run_cli
from bundles import build_synthetic_bundle, random_obs, synthetic_spec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

SNAP = {"op": "snap_gripper", "indices": [1], "threshold": [0.0], "low": [-1.0], "high": [1.0]}


def _rt(**kw):
    return {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1, "post_steps": [dict(SNAP, **kw)]}


# (id, edit of the manifest dict, raw JSON text replacing "@RAW@" or None, expected fragment)
BAD = [
    ("runtime_null", lambda m: m.update(runtime=None), None, "runtime: expected an object, got null"),
    ("io_missing", lambda m: m.pop("io"), None, "io: missing (required)"),
    ("io_inputs_missing", lambda m: m["io"].pop("inputs"), None, "io.inputs: missing (required)"),
    ("artifact_sha256_missing", lambda m: m["artifacts"]["onnx_fp32"].pop("sha256"), None,
     "artifacts.onnx_fp32.sha256: missing (required)"),
    ("shape_negative", lambda m: m["io"]["inputs"][0]["shape"].__setitem__(2, -5), None,
     "io.inputs[0].shape[2]: expected an int in 1..16384, got -5"),
    ("shape_huge", lambda m: m["io"]["inputs"][0]["shape"].__setitem__(3, 10 ** 12), None,
     "io.inputs[0].shape[3]: expected an int in 1..16384, got 1000000000000"),
    ("shape_string", lambda m: m["io"]["inputs"][1]["shape"].__setitem__(1, "4"), None,
     "io.inputs[1].shape[1]: expected an int in 1..16384, got \"4\""),
    ("camera_unknown", lambda m: m["io"]["inputs"][0]["cameras"].__setitem__(1, "side"), None,
     "io.inputs[0].cameras: [\"top\",\"side\"] does not match the spec"),
    ("io_contradicts_spec", lambda m: m["io"]["inputs"][1]["shape"].__setitem__(1, 7), None,
     "io.inputs[1].shape: [\"batch\",7] does not match the spec, which gives [\"batch\",4]"),
    ("post_step_threshold_nan", lambda m: m["runtime"]["post_steps"][0].update(threshold=["@RAW@"]), "NaN",
     "runtime.post_steps[0].threshold[0]: expected a finite number, got NaN"),
    ("post_step_high_inf", lambda m: m["runtime"]["post_steps"][0].update(high=["@RAW@"]), "Infinity",
     "runtime.post_steps[0].high[0]: expected a finite number, got Infinity"),
    ("coeff_string", lambda m: m["runtime"].update(temporal_ensemble_coeff="0.01"), None,
     "runtime.temporal_ensemble_coeff: expected a finite number or null, got \"0.01\""),
    ("n_action_steps_negative", lambda m: m["runtime"].update(n_action_steps=-3), None,
     "runtime.n_action_steps: expected an int in 1..6, got -3"),
    ("path_etc_passwd", lambda m: m["artifacts"]["onnx_fp32"].update(path="/etc/passwd"), None,
     "artifacts.onnx_fp32.path: \"/etc/passwd\" is an absolute path"),
]
CLI_ROWS = ("runtime_null", "io_inputs_missing", "shape_negative", "camera_unknown", "post_step_threshold_nan",
            "path_etc_passwd")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return build_synthetic_bundle(tmp_path_factory.mktemp("good") / "g.actedge", spec=synthetic_spec(chunk=6, dof=4),
                                  runtime=_rt(), fp16=False)


def _bad_copy(good, dest: Path, row) -> Path:
    _, edit, raw, _ = row
    shutil.copytree(good.path, dest)
    m = json.loads((dest / MANIFEST).read_text())
    edit(m)
    text = json.dumps(m)
    if raw is not None:
        text = text.replace('"@RAW@"', raw)
    (dest / MANIFEST).write_text(text)
    return dest


def test_good_bundle_runs_with_its_post_step(good):
    p = Policy.load(good.path, backend="onnxruntime")
    rng = np.random.default_rng(3)
    acts = np.array([p.step(random_obs(good.spec, rng)).copy() for _ in range(10)])
    assert np.isfinite(acts).all() and set(np.unique(acts[:, 1])) <= {-1.0, 1.0}


@pytest.mark.parametrize("row", BAD, ids=[r[0] for r in BAD])
def test_policy_load_refuses_in_one_line(good, tmp_path, row):
    bundle = _bad_copy(good, tmp_path / "bad.actedge", row)
    with pytest.raises(BundleError) as info:
        Policy.load(bundle, backend="onnxruntime")
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and msg == f"{bundle / MANIFEST}: " + msg.split(": ", 1)[1], msg
    assert row[3] in msg, msg


@pytest.mark.parametrize("command", ["inspect", "bench", "build-engine"])
def test_cli_refuses_with_exit_2_and_one_line(good, tmp_path, command):
    rows = [r for r in BAD if r[0] in CLI_ROWS]
    for row in rows:
        bundle = _bad_copy(good, tmp_path / f"{row[0]}.actedge", row)
        args = [command, str(bundle)] + (["--duration", "0", "--iters", "1", "-q"] if command == "bench" else [])
        r = run_cli(*args)
        assert r.returncode == 2, (row[0], r.returncode, r.stderr[-2000:])
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, (row[0], r.stderr[-2000:])
        assert r.stderr.startswith(f"act-edge {command}: error: ") and row[3] in r.stderr, (row[0], r.stderr)


# --- writers ---------------------------------------------------------------------------------------
def _writer_manifest(good, tmp: Path, edit) -> dict:
    shutil.copyfile(good.path / "model.onnx", tmp / "model.onnx")
    m = json.loads((good.path / MANIFEST).read_text())
    m["artifacts"].pop("onnx_fp16", None)
    edit(m)
    return m


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["runtime"]["post_steps"][0].update(threshold=[float("nan")]),
     r"runtime\.post_steps\[0\]\.threshold\[0\]: expected a finite number, got NaN"),
    (lambda m: m["runtime"].update(temporal_ensemble_coeff="0.01"),
     r"runtime\.temporal_ensemble_coeff: expected a finite number or null"),
    (lambda m: m["runtime"].update(temporal_ensemble_coeff=1e9), r"runtime\.temporal_ensemble_coeff: .*beyond float64"),
    (lambda m: m["runtime"].update(n_action_steps=-3), r"runtime\.n_action_steps: expected an int in 1\.\.6, got -3"),
    (lambda m: m.update(parity={"onnx_fp32": {"max_abs_normalized": float("nan"), "tolerance": 5e-5}}),
     r"parity\.onnx_fp32\.max_abs_normalized: expected a finite number, got NaN"),
    (lambda m: m["artifacts"]["onnx_fp32"].update(path="../model.onnx"), r"artifacts\.onnx_fp32\.path: .*has a '\.\.'"),
])
def test_writer_never_writes_a_manifest_the_reader_refuses(good, tmp_path, edit, match):
    dest = tmp_path / "out" / "w.actedge"
    with pytest.raises(BundleError, match=match) as info:
        write_bundle_atomic(dest, lambda tmp: _writer_manifest(good, tmp, edit))
    assert str(info.value).startswith(f"{dest / MANIFEST} (not written): ")
    assert len(str(info.value).splitlines()) == 1
    assert list((tmp_path / "out").iterdir()) == []  # no bundle, no temp folder


def test_writer_refusal_keeps_the_previous_bundle(good, tmp_path):
    dest = tmp_path / "w.actedge"
    write_bundle_atomic(dest, lambda tmp: _writer_manifest(good, tmp, lambda m: None))
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    with pytest.raises(BundleError):
        write_bundle_atomic(dest, lambda tmp: _writer_manifest(
            good, tmp, lambda m: m["runtime"]["post_steps"][0].update(high=[float("inf")])))
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.actedge"]
    load_bundle(dest)


# --- post-step parser (defect 3a) --------------------------------------------------------------------
@pytest.mark.parametrize("edit, match", [
    (dict(threshold=[float("nan")]), r"threshold\[0\] nan is not a finite number"),
    (dict(low=[float("nan")]), r"low\[0\] nan is not a finite number"),
    (dict(high=[float("inf")]), r"high\[0\] inf is not a finite number"),
    (dict(high=[1e39]), r"high\[0\] 1e\+39 is outside the float32 range"),
    (dict(low=[10 ** 400]), r"low\[0\] 1000.* is outside the float32 range"),
    (dict(low=[1.0], high=[1.0]), r"low\[0\] 1\.0 is not below high\[0\] 1\.0"),
    (dict(low=[2.0], high=[-2.0]), r"low\[0\] 2\.0 is not below high\[0\] -2\.0"),
    (dict(indices=[1.5]), r"index 1\.5 is not an integer"),
    (dict(indices=[4.0]), r"index 4\.0 is outside the action's 0\.\.3"),
    (dict(indices=[3.7]), r"index 3\.7 is not an integer"),
    (dict(indices=[True]), r"index True is not an integer"),
    (dict(threshold=[False]), r"threshold\[0\] False is not a number"),
])
def test_post_steps_refuse_values_that_could_reach_the_robot_non_finite(edit, match):
    with pytest.raises(BundleError, match=r"^manifest runtime\.post_steps\[0\]: " + match) as info:
        PostSteps([dict(SNAP, **edit)], action_dim=4)
    assert len(str(info.value).splitlines()) == 1


def test_post_steps_accept_finite_values_and_snap():
    steps = PostSteps([{"op": "snap_gripper", "indices": [0, 3.0], "threshold": [0.5, -1e30], "low": [-3.0, -3e38],
                        "high": [2.0, 3e38]}], action_dim=4)
    a = np.random.default_rng(0).uniform(-1, 2, (50, 4)).astype(np.float32)
    out = steps.apply(a.copy())
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, 0], np.where(a[:, 0] > 0.5, 2.0, -3.0).astype(np.float32))
    np.testing.assert_array_equal(out[:, 1:3], a[:, 1:3])


# --- io that agrees with the spec but not with the model (defect 6) ----------------------------------
def _contradicting(good, dest: Path, edit) -> Path:
    shutil.copytree(good.path, dest)
    m = json.loads((dest / MANIFEST).read_text())
    edit(m)
    (dest / MANIFEST).write_text(json.dumps(m))
    load_bundle(dest)  # the manifest alone is consistent
    return dest


def _state_6(m):
    m["spec"]["state_dim"] = 6
    m["io"]["inputs"][1]["shape"][1] = 6


def _chunk_7(m):
    m["spec"]["chunk_size"] = 7
    m["io"]["outputs"][0]["shape"][1] = 7


@pytest.mark.parametrize("edit, match", [
    (_state_6, r"model\.onnx: the model's input \"state\" is float32 \[\"batch\",4\], io\.inputs\[1\] says float32 "
               r"\[\"batch\",6\] \(io contradicts the model\)$"),
    (_chunk_7, r"model\.onnx: the model's output \"actions\" is float32 \[\"batch\",6,4\], io\.outputs\[0\] says "
               r"float32 \[\"batch\",7,4\]"),
])
def test_io_contradicting_the_model_is_one_line(good, tmp_path, edit, match):
    bundle = _contradicting(good, tmp_path / "c.actedge", edit)
    with pytest.raises(BundleError, match=match) as info:
        Policy.load(bundle, backend="onnxruntime")
    assert len(str(info.value).splitlines()) == 1


def test_bench_on_io_contradicting_the_model_exits_2_in_one_line(good, tmp_path):
    bundle = _contradicting(good, tmp_path / "c.actedge", _state_6)
    r = run_cli("bench", str(bundle), "--backend", "onnxruntime", "--duration", "0", "--iters", "1", "-q")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert len(r.stderr.strip().splitlines()) == 1 and "(io contradicts the model)" in r.stderr, r.stderr
