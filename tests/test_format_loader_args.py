"""CLI helpers for the family options, and (when the lead's export subcommand exists) the CLI itself."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # loader_options reads the families' modules, which build torch weights

import fixtures_families as ff  # noqa: E402
import reference_families as rf  # noqa: E402
from act_edge.errors import CheckpointError  # noqa: E402
from act_edge.cli.loader_flags import add_loader_arguments, loader_options  # noqa: E402
from family_parity import TOL, normalized_error, run_bundle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _parser():
    p = argparse.ArgumentParser()
    add_loader_arguments(p)
    return p


def test_options_from_flags():
    args = _parser().parse_args(["--format", "original", "--stats", "s.pkl", "--cameras", "top,left_wrist,right_wrist",
                                 "--image-size", "480x640", "--heads", "8", "--dilation", "--decoder-output", "first"])
    assert args.format == "original"
    assert loader_options(args) == {"stats": "s.pkl", "cameras": ["top", "left_wrist", "right_wrist"],
                                    "image_size": (480, 640), "heads": 8, "dilation": True, "decoder_output": "first"}
    assert loader_options(_parser().parse_args([])) == {}
    per_cam = loader_options(_parser().parse_args(["--image-size", "480x640,240x320"]))
    assert per_cam["image_size"] == [(480, 640), (240, 320)]


def test_format_flag_declared_elsewhere_is_kept():
    p = argparse.ArgumentParser()
    p.add_argument("--format", default=None)
    add_loader_arguments(p)  # no argparse conflict
    assert p.parse_args(["--format", "lerobot"]).format == "lerobot"


@pytest.mark.parametrize("bad", ["480", "480x", "x640", "480*640", "0x640"])
def test_bad_image_size(bad):
    with pytest.raises(CheckpointError) as e:
        loader_options(_parser().parse_args(["--image-size", bad]))
    assert "HxW" in str(e.value)


def test_help_states_the_original_defaults():
    text = " ".join(_parser().format_help().split())
    for fact in ("default 'top'", "480x640", "default 8", "default off", "hs[-1]", "hs[0]", "240x240"):
        assert fact in text, fact


@pytest.mark.skipif(importlib.util.find_spec("act_edge.cli.export_cmd") is None,
                    reason="the export subcommand (lead's act_edge/cli/export_cmd.py) is not on this branch yet")
def test_cli_export_original(tmp_path):
    fx = ff.write_original(tmp_path / "run")
    out = tmp_path / "orig.actedge"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "act_edge", "export", str(fx["dir"]), "--cameras", "top,left_wrist",
           "--image-size", "64x96", "--heads", "4", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    bundle = out if out.is_dir() else next(tmp_path.glob("*.actedge"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["source"]["format"] == "original"
    rng = np.random.default_rng(1)
    images = ff.raw_frames(rng, 2, 2, 64, 96)
    s = fx["stats"]
    qpos = (s["qpos_mean"] + s["qpos_std"] * rng.standard_normal((2, 14))).astype(np.float32)
    got = run_bundle(bundle, {"images": images, "state": qpos})
    ref = rf.original_forward(fx["state_dict"], s, [images[:, 0], images[:, 1]], qpos, heads=4)
    assert normalized_error(got, ref, s["action_std"]) <= TOL


@pytest.mark.skipif(importlib.util.find_spec("act_edge.cli.export_cmd") is None,
                    reason="the export subcommand (lead's act_edge/cli/export_cmd.py) is not on this branch yet")
@pytest.mark.parametrize("family", ["lerobot", "behavior"])
def test_cli_export_other_families(tmp_path, family):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "b.actedge"
    rng = np.random.default_rng(2)
    if family == "lerobot":
        c = ff.LeRobotConfig(cameras={"top": (64, 96)}, legacy=True)
        fx = ff.write_lerobot(tmp_path / "run", c)
        args = [str(fx["dir"].parent)]
    else:
        fx = ff.write_behavior(tmp_path / "run")
        args = [str(fx["dir"]), "--stats", str(fx["stats_path"]), "--decoder-output", "first"]
    proc = subprocess.run([sys.executable, "-m", "act_edge", "export", *args, "-o", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "dropped" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["format"] == family
    if family == "lerobot":
        feeds = {"images": ff.raw_frames(rng, 2, 1, 64, 96), "state": rng.standard_normal((2, c.state)).astype(np.float32)}
        cfg = json.loads((fx["dir"] / "config.json").read_text())
        ref = rf.lerobot_forward(fx["state_dict"], fx["stats"], fx["features"], c.modes, cfg,
                                 {"observation.images.top": feeds["images"][:, 0]}, feeds["state"])
        unit = fx["stats"]["action.std"].astype(np.float64)
    else:
        h, w = fx["config"].size
        r = fx["ranges"]
        feeds = {"images": ff.raw_frames(rng, 1, 3, h, w),
                 "depth": rng.uniform(0.01, 10.0, (1, 3, h, w)).astype(np.float32),
                 "state": (r["state_min"] + (r["state_max"] - r["state_min"]) * rng.uniform(size=(1, 37))).astype(np.float32)}
        ref = rf.behavior_forward(fx["state_dict"], r, fx["hparams"], feeds["images"], feeds["depth"], feeds["state"], "first")
        unit = (r["action_max"] - r["action_min"]) / 2
        assert manifest["runtime"]["post_steps"][0]["op"] == "snap_gripper"
    assert normalized_error(run_bundle(out, feeds), ref, unit) <= TOL
