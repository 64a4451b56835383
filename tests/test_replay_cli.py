"""`act-edge replay` from the command line: the summary, JSON and plots; one-line exit 2 for bad
episode files, mappings and flags; `--against` refused without torch while the rest still runs;
the eager source from the bundle's checkpoint (torch) checked against a reference computed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from replay_files import h5, smooth_frames, smooth_vectors, write_aloha, write_course
from bundles import build_synthetic_bundle, synthetic_spec

ROOT = Path(__file__).resolve().parents[1]
H, W = 24, 32

BLOCK = textwrap.dedent("""
    import sys
    BLOCKED = tuple(sys.argv[1].split(","))
    class _Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _Blocked())
    from act_edge.cli.main import main
    rc = main(sys.argv[2:])
    assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
    sys.exit(rc)
""")


def run_blocked(blocked: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", BLOCK, blocked, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def one_line_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("act-edge replay: error: "), err
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    h5()
    d = tmp_path_factory.mktemp("replay_cli")
    sb = build_synthetic_bundle(d / "syn.actedge", synthetic_spec(chunk=8, dof=4), fp16=False)
    T = 20
    imgs = {"top": smooth_frames(T, H, W), "wrist": smooth_frames(T, H, W, 1.5)}
    ep = write_aloha(d / "episode_0.hdf5", imgs, smooth_vectors(T, 4, 1), smooth_vectors(T, 4, 2))
    course = write_course(d / "demos.hdf5", [(imgs["top"], smooth_vectors(T, 4, 3), smooth_vectors(T, 4, 4))] * 2)
    return d, sb, ep, course


def test_summary_json_and_plots(files, tmp_path):
    pytest.importorskip("matplotlib")
    d, sb, ep, _ = files
    res = run_cli("replay", str(sb.path), str(ep), "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "plots"))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "source       none: the manifest names no source checkpoint" in out
    assert "episode_0.hdf5  (aloha, 20 frames)" in out and "vs demo      bundle worst" in out
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["schema"] == "act-edge-replay/1" and result["total"]["frames"] == 20
    assert result["total"]["open_loop"] is None and result["source"]["kind"] is None
    demo = result["total"]["demonstration"]["bundle"]
    assert len(demo["max_abs"]) == 4 and demo["worst"]["episode"] == "episode_0.hdf5"
    w = demo["worst"]
    assert f"bundle worst {w['pct']:.3g}% of range = {w['abs']:.3g} (dim {w['dim']}, frame {w['frame']})" in out
    png = tmp_path / "plots" / "replay_episode_0.hdf5.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_several_demos_in_one_file_with_mapping_flags(files):
    d, sb, _, course = files
    res = run_cli("replay", str(sb.path), str(course), "--camera", "top=image", "--camera", "wrist=image",
                  "--state", "qpos", "--no-source")
    assert res.returncode == 0, res.stderr
    assert "demos.hdf5:demo_0  (course, 20 frames)" in res.stdout and "demos.hdf5:demo_1" in res.stdout
    assert "total  (2 episodes, 40 frames)" in res.stdout


@pytest.mark.parametrize("args, expected", [
    (["{course}"], "demos.hdf5:demo_0: no dataset 'top' for camera 'top' in /demo_0/observations (map it with "
                   "--camera top=KEY); datasets: image (20, 24, 32, 3) uint8, qpos (20, 4) float32"),
    (["{course}", "--camera", "top=image", "--camera", "wrist=image", "--state", "joints"],
     "no dataset 'joints' for the state"),
    (["{text}"], "not a readable HDF5 episode file"),
    (["{ep}", "--camera", "left=top"], "--camera left=...: the bundle has no camera 'left' (its cameras: top, wrist)"),
    (["{ep}", "--camera", "top"], "argument --camera: 'top' is not CAM=KEY"),
    (["{ep}", "--camera", "top=a", "--camera", "top=b"], "--camera top is given twice"),
    (["{ep}", "--against", "{ep}", "--no-source"], "--against and --no-source contradict each other"),
    (["{ep}", "--plot", "{ep}"], "exists and is not a directory"),
    (["{missing}"], "no such file or directory"),
    (["{ep}", "--chunk-queue", "99"], "n_action_steps must be in 1..8"),
    (["{ep}", "--chunk-queue", "2", "--temporal-ensemble-coeff", "0.1"], "not allowed with argument"),
])
def test_bad_files_mappings_and_flags_are_one_line_exit_2(files, args, expected):
    d, sb, ep, course = files
    text = d / "notes.hdf5"
    text.write_text("plain text\n")
    fill = {"course": str(course), "text": str(text), "ep": str(ep), "missing": str(d / "nope.hdf5")}
    res = run_cli("replay", str(sb.path), *[a.format(**fill) for a in args])
    assert expected in one_line_error(res)


def test_against_is_refused_without_torch_and_the_rest_still_runs(files):
    d, sb, ep, _ = files
    err = one_line_error(run_blocked("torch,torchvision", "replay", str(sb.path), str(ep), "--against", str(ep), cwd=d))
    assert "--against" in err and "needs torch" in err and "pip install torch" in err
    res = run_blocked("torch,torchvision", "replay", str(sb.path), str(ep), cwd=d)
    assert res.returncode == 0, res.stderr
    assert "vs demo      bundle worst" in res.stdout and "source       none" in res.stdout


def test_without_h5py_one_line_names_the_extra(files):
    d, sb, ep, _ = files
    err = one_line_error(run_blocked("h5py,torch", "replay", str(sb.path), str(ep), cwd=d))
    assert "needs h5py" in err and "pip install 'act-edge[replay]'" in err


def test_eager_source_from_the_bundles_checkpoint(tiny_bundle, tiny_checkpoint, tmp_path):
    """The tiny exported bundle vs its checkpoint in eager PyTorch: open-loop figures against the eager
    model and the ONNX runtime run here, frame by frame."""
    torch = pytest.importorskip("torch")
    h5()
    from act_edge import Policy
    from act_edge.bundle import load_bundle
    from act_edge.export.checkpoint import build_model, load_checkpoint

    spec = load_bundle(tiny_bundle).spec
    T = 12
    imgs = {c.name: smooth_frames(T, c.height, c.width, i) for i, c in enumerate(spec.cameras)}
    qpos = smooth_vectors(T, spec.state_dim, 1)
    ep = write_aloha(tmp_path / "episode_0.hdf5", imgs, qpos, smooth_vectors(T, spec.action_dim, 2))
    res = run_cli("replay", str(tiny_bundle), str(ep), "--backend", "onnxruntime", "--precision", "fp32",
                  "--json", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["source"]["kind"].startswith("PyTorch") and result["source"]["checkpoint"] == str(tiny_checkpoint)
    assert result["source"]["checkpoint_matches_bundle_source"] is True
    model = build_model(load_checkpoint(tiny_checkpoint))
    diffs = []
    with Policy.load(tiny_bundle, backend="onnxruntime", precision="fp32", profile=False) as policy:
        for t in range(T):
            obs = {"state": qpos[t], "images": {c: v[t] for c, v in imgs.items()}}
            feeds = {"images": torch.from_numpy(np.stack([imgs[c.name][t] for c in spec.cameras])[None]),
                     "state": torch.from_numpy(qpos[t][None])}
            with torch.inference_mode():
                eager = model(**feeds).numpy()[0]
            diffs.append(policy.predict_chunk(obs).astype(np.float64) - eager)
    ref = np.abs(np.stack(diffs)).reshape(-1, spec.action_dim).max(0)
    ol = result["total"]["open_loop"]
    np.testing.assert_allclose(ol["max_abs"], ref, rtol=1e-3, atol=1e-7)
    assert max(ol["max_pct"]) < 0.01  # fp32 ONNX vs eager: parity, in % of the action range
    assert result["total"]["executed"]["max_abs"] is not None
