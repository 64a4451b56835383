"""The CLI as a user runs it: init -> export -> inspect, and one-line errors with exit code 2."""

import json

import pytest

from conftest import run_cli

pytest.importorskip("torch")


def test_init_export_inspect_round_trip(tmp_path):
    r = run_cli("init", "--preset", "tiny", "-o", "c.pt", "--seed", "7", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "next: act-edge export c.pt --fp16" in r.stdout
    r = run_cli("export", "c.pt", "--fp16", "--max-batch", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for needle in ("exporting ONNX", "parity    fp32 ONNX vs torch", "GFLOPs per inference", "model.fp16.onnx",
                   "next: act-edge inspect"):
        assert needle in r.stdout
    m = json.loads((tmp_path / "c.actedge" / "manifest.json").read_text())
    assert m["max_batch"] == 2 and "onnx_fp16" in m["artifacts"]
    r = run_cli("inspect", "c.actedge", cwd=tmp_path)
    assert r.returncode == 0 and "cameras       2: front 64x96, wrist 64x96" in r.stdout
    e = m["fp16_error"]  # one vocabulary for every recorded error figure (docs/bundle-format.md)
    assert {"max_abs", "rmse", "max_abs_normalized", "max_abs_pct_range", "rmse_pct_range",
            "per_dim_max_abs_pct_range", "range_definition"} <= set(e)
    assert (f"fp16 ONNX     vs fp32 ONNX max |err| {e['max_abs_pct_range']:.3g}% / RMSE {e['rmse_pct_range']:.3g}% "
            "of range") in r.stdout
    assert f"action range  {e['range_definition']}" in r.stdout
    r = run_cli("inspect", "c.pt", cwd=tmp_path)
    assert r.returncode == 0 and "action        4 x chunk 10" in r.stdout
    r = run_cli("inspect", "c.actedge", "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["spec"]["name"] == "tiny"


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_file(tmp_path):
    _one_line_error(run_cli("export", "nope.pt", cwd=tmp_path), "nope.pt", "no such file")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pt").write_text("hello")
    _one_line_error(run_cli("export", "notes.pt", cwd=tmp_path), "notes.pt", "not a recognised ACT checkpoint")


def test_unknown_format_suggests(tiny_checkpoint, tmp_path):
    _one_line_error(run_cli("export", str(tiny_checkpoint), "--format", "act-edg", cwd=tmp_path),
                    "unknown checkpoint format 'act-edg'", "did you mean 'act-edge'")


def test_unknown_preset_and_bad_options(tiny_checkpoint, tmp_path):
    _one_line_error(run_cli("init", "--preset", "aloha", "-o", "x.pt", cwd=tmp_path), "unknown preset 'aloha'")
    _one_line_error(run_cli("export", str(tiny_checkpoint), "--opset", "13", cwd=tmp_path), "argument --opset: 13 is out of range")


def _save_edited(tmp_path, edit):
    import torch

    from act_edge.export.presets import random_checkpoint

    spec, sd, rt = random_checkpoint("tiny", 0)
    edit(sd)
    payload = {"format": "act-edge-checkpoint", "version": 1, "spec": spec.to_json(), "runtime": json.dumps(rt),
               "state_dict": sd}
    torch.save(payload, tmp_path / "e.pt")
    return "e.pt"


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    def edit(sd):
        sd.pop("action_head.bias")
        sd["extra.weight"] = sd["query_pos"]
    _one_line_error(run_cli("export", _save_edited(tmp_path, edit), cwd=tmp_path),
                    "missing keys [action_head.bias] (1)", "unexpected keys [extra.weight] (1)")


def test_shape_mismatch_names_tensor_and_both_shapes(tmp_path):
    import torch

    def edit(sd):
        sd["state_proj.weight"] = torch.zeros(32, 7)
    _one_line_error(run_cli("export", _save_edited(tmp_path, edit), cwd=tmp_path),
                    "tensor state_proj.weight has shape [32, 7], the spec needs [32, 5]")


def test_help_works_without_torch(tmp_path):
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys, importlib.abc\n"
        "class B(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'onnx', 'onnxruntime', 'tensorrt'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, B())\n")
    for args in (["--help"], ["export", "--help"], ["init", "--help"], ["inspect", "--help"]):
        r = run_cli(*args, cwd=tmp_path, env_extra={"PYTHONPATH": f"{tmp_path}:{run_cli.__globals__['ROOT']}"})
        assert r.returncode == 0, r.stderr
        assert "usage:" in r.stdout
