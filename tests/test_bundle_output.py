"""Export output rules (docs/bundle-format.md, "Output rules"): -o is a new path or a previous bundle;
a user's files and directories are never replaced or deleted; leftovers of a killed export are cleaned;
paths in the manifest that point outside the bundle are absolute."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from act_edge.bundle import MANIFEST, load_bundle, write_bundle_atomic
from act_edge.cli.main import main
from act_edge.errors import BundleError

torch = pytest.importorskip("torch")

ORIGINAL_FLAGS = ["--cameras", "top,left_wrist", "--image-size", "64x96", "--heads", "4"]


def _export(capsys, *argv: str) -> tuple[int, list[str]]:
    rc = main(["export", *map(str, argv)])
    return rc, capsys.readouterr().err.strip().splitlines()


def _refused(rc: int, err: list[str], *needles: str) -> None:
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("act-edge export: error:") and "Traceback" not in err[0]
    for n in needles:
        assert n in err[0], err[0]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _no_hidden_leftovers(parent: Path) -> None:
    assert [p.name for p in parent.iterdir() if ".old-" in p.name or ".tmp-" in p.name] == []


# --- defect 1: data loss ----------------------------------------------------------------------------

def test_non_bundle_directory_with_a_user_file_is_refused_even_with_force(tiny_checkpoint, tmp_path, capsys):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    for extra in ([], ["--force"]):
        _refused(*_export(capsys, tiny_checkpoint, "-o", keep, *extra), str(keep), "notes.txt", "never deletes")
        assert _tree(keep) == {"notes.txt": b"precious"}
    _no_hidden_leftovers(tmp_path)


def test_working_directory_is_refused(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("precious")
    monkeypatch.chdir(tmp_path)
    for out in (str(tmp_path), ".", str(tmp_path.parent)):
        for extra in ([], ["--force"]):
            _refused(*_export(capsys, tiny_checkpoint, "-o", out, *extra), out, "current directory")
    assert (tmp_path / "notes.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_regular_file_is_refused_and_left_in_place(tiny_checkpoint, tmp_path, capsys):
    f = tmp_path / "some_file"
    f.write_text("precious")
    for extra in ([], ["--force"]):
        _refused(*_export(capsys, tiny_checkpoint, "-o", f, *extra), str(f), "existing file")
    assert f.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["some_file"]  # no hidden .some_file.old-<pid>


def test_symlink_is_refused(tiny_checkpoint, tmp_path, capsys):
    target = tmp_path / "real.actedge"
    shutil.copytree(_tiny_bundle_copy(tmp_path), target)
    link = tmp_path / "link.actedge"
    link.symlink_to(target)
    for extra in ([], ["--force"]):
        _refused(*_export(capsys, tiny_checkpoint, "-o", link, *extra), "symbolic link")
    assert link.is_symlink() and (target / MANIFEST).is_file()


def test_checkpoint_directory_original_layout_is_refused(tmp_path, capsys):
    from fixtures_families import write_original

    fx = write_original(tmp_path / "run", seed=5)
    before = _tree(fx["dir"])
    for out in (fx["dir"], tmp_path):  # the checkpoint's directory, and a directory above it
        for extra in ([], ["--force"]):
            _refused(*_export(capsys, fx["ckpt"], *ORIGINAL_FLAGS, "-o", out, *extra), str(out), "source checkpoint")
    assert _tree(fx["dir"]) == before


@pytest.mark.parametrize("legacy", [False, True])
def test_checkpoint_directory_lerobot_layout_is_refused(tmp_path, capsys, legacy):
    from fixtures_families import LeRobotConfig, write_lerobot

    fx = write_lerobot(tmp_path / "run", LeRobotConfig(legacy=legacy, cameras={"top": (64, 96)}), seed=2)
    before = _tree(tmp_path / "run")
    for out in (fx["dir"], fx["dir"].parent):
        for extra in ([], ["--force"]):
            _refused(*_export(capsys, fx["dir"], "-o", out, *extra), str(out), "source checkpoint")
    assert _tree(tmp_path / "run") == before


def test_filesystem_root_is_refused(tiny_checkpoint, capsys):
    for extra in ([], ["--force"]):
        _refused(*_export(capsys, tiny_checkpoint, "-o", "/", *extra), "filesystem root")


def test_previous_bundle_is_replaced_and_nothing_is_left(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "b.actedge"
    assert main(["export", str(tiny_checkpoint), "-o", str(out), "--max-batch", "2"]) == 0
    assert load_bundle(out).manifest["max_batch"] == 2
    assert main(["export", str(tiny_checkpoint), "-o", str(out), "--max-batch", "3"]) == 0
    assert load_bundle(out).manifest["max_batch"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.actedge"]


def test_bundle_holding_a_user_file_is_refused(tmp_path, capsys, tiny_checkpoint):
    out = tmp_path / "b.actedge"
    shutil.copytree(_tiny_bundle_copy(tmp_path), out)
    (out / "engines").mkdir()
    (out / "engines" / "my_notes.txt").write_text("mine")
    before = _tree(out)
    for extra in ([], ["--force"]):
        _refused(*_export(capsys, tiny_checkpoint, "-o", out, *extra), "engines/my_notes.txt")
    assert _tree(out) == before


def test_force_allows_an_empty_directory_and_a_damaged_bundle(tiny_checkpoint, tmp_path, capsys):
    empty = tmp_path / "empty.actedge"
    empty.mkdir()
    _refused(*_export(capsys, tiny_checkpoint, "-o", empty), "empty directory", "--force")
    damaged = tmp_path / "damaged.actedge"
    shutil.copytree(_tiny_bundle_copy(tmp_path), damaged)
    (damaged / MANIFEST).write_text("{truncated")
    _refused(*_export(capsys, tiny_checkpoint, "-o", damaged), "no valid manifest.json", "--force")
    for d in (empty, damaged):
        rc, err = _export(capsys, tiny_checkpoint, "-o", d, "--force", "--max-batch", "2")
        assert rc == 0, err
        assert load_bundle(d).manifest["max_batch"] == 2
    _no_hidden_leftovers(tmp_path)


def test_write_bundle_atomic_itself_refuses_a_user_directory(tmp_path):
    """Defence in depth: the library call refuses without the CLI's checks, and runs no build."""
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    built = []
    for kwargs in ({}, {"force": True}):
        with pytest.raises(BundleError, match="notes.txt"):
            write_bundle_atomic(keep, built.append, **kwargs)
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    (ckpt_dir / "policy.ckpt").write_bytes(os.urandom(64))
    with pytest.raises(BundleError, match="source checkpoint"):
        write_bundle_atomic(ckpt_dir, built.append, force=True, protect=[ckpt_dir / "policy.ckpt"])
    assert built == [] and (keep / "notes.txt").read_text() == "precious"


def test_destination_that_turned_into_a_user_directory_during_the_build_is_kept(tmp_path):
    dest = tmp_path / "x.actedge"

    def build(tmp: Path) -> dict:
        (tmp / "model.onnx").write_bytes(os.urandom(128))
        dest.mkdir()
        (dest / "notes.txt").write_text("made while exporting")
        return {"name": "x"}

    with pytest.raises(BundleError, match="notes.txt"):
        write_bundle_atomic(dest, build)
    assert _tree(dest) == {"notes.txt": b"made while exporting"}
    _no_hidden_leftovers(tmp_path)


def test_read_only_parent_is_refused_in_one_line(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro else real_access(p, mode, **kw))
    _refused(*_export(capsys, tiny_checkpoint, "-o", ro / "b.actedge"), f"directory {ro} is not writable")


# --- defect 9: leftovers and paths -------------------------------------------------------------------

def _stale(parent: Path, name: str, files: dict[str, bytes], age_s: float = 3600) -> Path:
    d = parent / name
    d.mkdir()
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    old = time.time() - age_s
    for p in [*d.rglob("*"), d]:
        os.utime(p, (old, old))
    return d


def test_stale_temp_folders_of_a_killed_export_are_cleaned(tiny_checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(9)
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    ours = [_stale(tmp_path, ".b.actedge.tmp-k3j_x9qa", {"model.onnx": junk}),  # main's naming (mkdtemp)
            _stale(tmp_path, ".b.actedge.tmp-4194303-ab12cd34", {"model.onnx": junk, "parity.npz": junk}),
            _stale(tmp_path, ".b.actedge.old-4194303-0011aabb", {"manifest.json": b"{}", "model.onnx": junk,
                                                                "engines/model.fp16-strong.x.engine": junk})]
    users = [_stale(tmp_path, ".b.actedge.tmp-mine", {"notes.txt": b"precious"}),       # not only artifacts
             _stale(tmp_path, ".other.actedge.tmp-k3j_x9qa", {"model.onnx": junk}),     # another bundle's name
             _stale(tmp_path, ".b.actedge.tmp-freshfresh", {"model.onnx": junk}, age_s=-600)]  # newer than the run
    rc, err = _export(capsys, tiny_checkpoint, "-o", tmp_path / "b.actedge")
    assert rc == 0, err
    assert [d for d in ours if d.exists()] == []
    assert all(d.exists() for d in users)
    assert (users[0] / "notes.txt").read_bytes() == b"precious"


def test_clean_stale_keeps_the_folder_of_a_running_export(tmp_path):
    from act_edge.bundle_dest import clean_stale

    d = _stale(tmp_path, f".b.actedge.tmp-{os.getppid()}-ab12cd34", {"model.onnx": os.urandom(64)})
    assert clean_stale(tmp_path, "b.actedge", before=time.time()) == []
    assert d.exists()


def test_source_path_is_absolute_and_the_torch_backend_runs_from_another_directory(tiny_checkpoint, tmp_path,
                                                                                   monkeypatch, capsys):
    from act_edge import Policy

    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    b.mkdir()
    shutil.copy(tiny_checkpoint, a / "c.pt")
    monkeypatch.chdir(a)
    rc, err = _export(capsys, "c.pt", "-o", "c.actedge", "--max-batch", "1")
    assert rc == 0, err
    manifest = json.loads((a / "c.actedge" / MANIFEST).read_text())
    assert manifest["source"]["path"] == str(a / "c.pt")
    monkeypatch.chdir(b)
    bundle = a / "c.actedge"
    obs = _random_obs(load_bundle(bundle), np.random.default_rng(4))
    with Policy.load(bundle, backend="torch", temporal_ensemble_coeff=None) as pt, \
            Policy.load(bundle, backend="onnxruntime", temporal_ensemble_coeff=None) as ort:
        got, want = pt.predict_chunk(obs), ort.predict_chunk(obs)
    assert np.isfinite(got).all() and np.abs(got).max() > 0
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_check_destination_accepts_new_paths_and_previous_bundles(tmp_path):
    from act_edge.bundle_dest import check_destination, foreign_entries

    assert check_destination(tmp_path / "new" / "deeper.actedge") == tmp_path / "new" / "deeper.actedge"
    b = tmp_path / "b.actedge"
    shutil.copytree(_tiny_bundle_copy(tmp_path), b)
    assert foreign_entries(b) == [] and check_destination(b) == b


# --- helpers -------------------------------------------------------------------------------------------

def _tiny_bundle_copy(tmp_path: Path) -> Path:
    """A small synthetic bundle (tests/bundles.py), made once per test under tmp_path."""
    from bundles import build_minimal_bundle

    src = tmp_path / "_src" / "t.actedge"
    if not src.exists():
        build_minimal_bundle(src)
    return src


def _random_obs(bundle, rng: np.random.Generator) -> dict:
    spec = bundle.spec
    return {"state": rng.standard_normal(spec.state_dim),
            "images": {c.name: rng.integers(0, 256, (c.height, c.width, 3), dtype=np.uint8) for c in spec.cameras}}
