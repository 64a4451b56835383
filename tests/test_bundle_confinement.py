"""Defect 5 (issue 10): artifact and engine paths resolve INSIDE the bundle. A path out of it ('..',
absolute) or a symbolic link on the way is refused in one line, before any file it names is opened,
even when the file there has the right sha256."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import act_edge.bundle
from act_edge import BundleError, Policy, load_bundle
from act_edge.bundle import MANIFEST
from bundles import build_synthetic_bundle, random_obs, synthetic_spec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture
def bundle(tmp_path: Path):
    """A bundle two levels below tmp_path, so `../../outside/` is tmp_path/outside."""
    (tmp_path / "outside").mkdir()
    return build_synthetic_bundle(tmp_path / "a" / "b.actedge", spec=synthetic_spec(chunk=6, dof=4), fp16=False)


def _set_path(bundle_dir: Path, value: str) -> None:
    mf = json.loads((bundle_dir / MANIFEST).read_text())
    mf["artifacts"]["onnx_fp32"]["path"] = value
    (bundle_dir / MANIFEST).write_text(json.dumps(mf))


def _evil_copy(bundle_dir: Path, outside: Path) -> Path:
    """The bundle's own model, outside it: the sha256 in the manifest matches it."""
    evil = outside / "evil.onnx"
    shutil.copyfile(bundle_dir / "model.onnx", evil)
    return evil


def _refused(bundle_dir: Path, *fragments: str) -> str:
    with pytest.raises(BundleError) as info:
        Policy.load(bundle_dir, backend="onnxruntime")
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and msg.startswith(f"{bundle_dir / MANIFEST}: artifacts.onnx_fp32.path: "), msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_the_bundle_itself_loads_and_runs(bundle):
    p = Policy.load(bundle.path, backend="onnxruntime")
    assert np.isfinite(p.step(random_obs(bundle.spec, np.random.default_rng(0)))).all()


def test_dotdot_path_to_a_matching_file_is_refused(bundle, tmp_path):
    _evil_copy(bundle.path, tmp_path / "outside")
    _set_path(bundle.path, "../../outside/evil.onnx")
    _refused(bundle.path, "\"../../outside/evil.onnx\" has a '..'")
    with pytest.raises(BundleError, match="has a '..'"):
        load_bundle(bundle.path)


def test_absolute_path_to_a_matching_file_is_refused(bundle, tmp_path):
    evil = _evil_copy(bundle.path, tmp_path / "outside")
    _set_path(bundle.path, str(evil))
    _refused(bundle.path, "is an absolute path")


def test_symlinked_model_pointing_outside_is_refused(bundle, tmp_path):
    evil = _evil_copy(bundle.path, tmp_path / "outside")
    (bundle.path / "model.onnx").unlink()
    os.symlink(evil, bundle.path / "model.onnx")
    _refused(bundle.path, "model.onnx is a symbolic link")


def test_symlinked_directory_on_the_path_is_refused(bundle, tmp_path):
    _evil_copy(bundle.path, tmp_path / "outside")
    os.symlink(tmp_path / "outside", bundle.path / "sub")
    _set_path(bundle.path, "sub/evil.onnx")
    _refused(bundle.path, "sub is a symbolic link")


def test_etc_passwd_is_refused_before_it_is_opened_or_hashed(bundle, monkeypatch):
    target = "/etc/passwd"
    _set_path(bundle.path, target)
    opened: list[str] = []
    real_open = builtins.open

    def spy_open(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else str(file))
        return real_open(file, *args, **kwargs)

    def no_hash(path, *args, **kwargs):
        raise AssertionError(f"hashed {path}")

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(act_edge.bundle, "sha256_file", no_hash)
    msg = _refused(bundle.path, f"\"{target}\" is an absolute path")
    assert target not in opened
    if Path(target).is_file():  # nothing of its hash may leak into the message either
        assert hashlib.sha256(Path(target).read_bytes()).hexdigest()[:12] not in msg


def test_path_checked_again_when_the_artifact_is_used(bundle, tmp_path):
    """A symlink swapped in after load_bundle is still refused when the artifact is resolved."""
    b = load_bundle(bundle.path)
    evil = _evil_copy(bundle.path, tmp_path / "outside")
    (bundle.path / "model.onnx").unlink()
    os.symlink(evil, bundle.path / "model.onnx")
    with pytest.raises(BundleError, match=r"artifacts\.onnx_fp32\.path: \"model\.onnx\": model\.onnx is a symbolic link"):
        b.artifact_path("onnx_fp32")


@pytest.mark.parametrize("path", ["/etc/passwd", "../../outside/x.engine", "engines/../../../x.engine"])
def test_engine_paths_are_confined_at_use(bundle, path, monkeypatch):
    """The TensorRT backend resolves engines with Bundle.engine_file: same confinement, nothing hashed."""
    monkeypatch.setattr(act_edge.bundle, "sha256_file", lambda p, *a: pytest.fail(f"hashed {p}"))
    b = load_bundle(bundle.path)
    with pytest.raises(BundleError, match=r"engines\[\]\.path: .*(absolute path|has a '\.\.')"):
        b.engine_file({"path": path, "sha256": "0" * 64})


def test_fifo_in_place_of_an_artifact_is_refused_not_opened(bundle):
    (bundle.path / "model.onnx").unlink()
    os.mkfifo(bundle.path / "model.onnx")  # opening it for reading would block forever
    _refused(bundle.path, "\"model.onnx\" is not a regular file")
