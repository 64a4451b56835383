"""Bundle directory `<name>.actedge/`: manifest.json + artifacts; read, verify, write atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import BundleError
from .spec import ActSpec

SCHEMA_VERSION = 1
FORMAT = "act-edge-bundle"
MANIFEST = "manifest.json"
BUNDLE_SUFFIX = ".actedge"

# Artifact keys written by `act-edge export` (engines are added under "engines").
ONNX_FP32 = "onnx_fp32"
ONNX_FP16 = "onnx_fp16"
PARITY_INPUTS = "parity_inputs"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def io_description(spec: ActSpec) -> dict[str, list[dict[str, Any]]]:
    """Graph inputs/outputs: name, dtype, shape ("batch" = dynamic axis), layout, cameras."""
    inputs: list[dict[str, Any]] = []
    for g in spec.image_groups():
        cams = [spec.cameras[i].name for i in g.camera_indices]
        n = len(cams)
        inputs.append({"name": g.input_name, "dtype": "uint8", "shape": ["batch", n, g.height, g.width, 3],
                       "layout": "BNHWC", "cameras": cams})
        if g.depth_input_name:
            inputs.append({"name": g.depth_input_name, "dtype": "float32",
                           "shape": ["batch", n, g.height, g.width], "layout": "BNHW", "units": "m",
                           "cameras": cams})
    inputs.append({"name": "state", "dtype": "float32", "shape": ["batch", spec.state_dim], "layout": "BS",
                   "units": "robot"})
    if spec.env_state_dim:
        inputs.append({"name": "env_state", "dtype": "float32", "shape": ["batch", spec.env_state_dim],
                       "layout": "BE", "units": "robot"})
    outputs = [{"name": "actions", "dtype": "float32", "shape": ["batch", spec.chunk_size, spec.action_dim],
                "layout": "BTA", "units": "robot"}]
    return {"inputs": inputs, "outputs": outputs}


@dataclass
class Bundle:
    """A bundle on disk: its directory, its manifest (dict) and the ActSpec in it."""

    path: Path
    manifest: dict[str, Any]
    spec: ActSpec

    def artifact(self, key: str) -> dict[str, Any]:
        try:
            return self.manifest["artifacts"][key]
        except KeyError:
            have = sorted(self.manifest.get("artifacts", {}))
            raise BundleError(f"{self.path}: no artifact {key!r} in the manifest (has: {have})") from None

    def artifact_path(self, key: str, verify: bool = True) -> Path:
        """Path of an artifact, after checking that its sha256 matches the manifest."""
        entry = self.artifact(key)
        return self._checked(entry, verify)

    def _checked(self, entry: dict[str, Any], verify: bool) -> Path:
        path = self.path / entry["path"]
        if not path.is_file():
            raise BundleError(f"{self.path}: artifact file {entry['path']} is missing")
        if verify:
            got = sha256_file(path)
            if got != entry["sha256"]:
                raise BundleError(
                    f"{path}: sha256 {got[:12]}... does not match the manifest's {entry['sha256'][:12]}... "
                    "(file modified or truncated; re-export the bundle)"
                )
        return path

    @property
    def engines(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("engines", []))


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and check a bundle's manifest (schema version, format, spec). Artifacts are hashed on use."""
    root = Path(path)
    mf = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"{root}: not a bundle directory (expected a `*{BUNDLE_SUFFIX}/` folder)")
    if not mf.is_file():
        raise BundleError(f"{root}: no {MANIFEST} (not an act-edge bundle, or a half-written one)")
    try:
        manifest = json.loads(mf.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{mf}: unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{mf}: not an act-edge manifest (format field is not {FORMAT!r})")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"{mf}: schema_version {version!r}, this act-edge reads {SCHEMA_VERSION}; "
            "re-export the bundle with this version"
        )
    try:
        spec = ActSpec.from_dict(manifest["spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{mf}: invalid spec: {exc}") from None
    return Bundle(root, manifest, spec)


def artifact_entry(bundle_dir: Path, rel_path: str, **extra: Any) -> dict[str, Any]:
    p = bundle_dir / rel_path
    return {"path": rel_path, "sha256": sha256_file(p), "bytes": p.stat().st_size, **extra}


def write_bundle_atomic(dest: str | os.PathLike, build: Callable[[Path], dict[str, Any]], *, force: bool = False,
                        protect: Iterable[str | os.PathLike] = ()) -> Path:
    """Create `dest` atomically: `build(tmpdir)` writes artifacts there and returns the manifest.

    The directory appears complete or not at all. `dest` must be a new path or a previous bundle
    (act_edge.bundle_dest.check_destination: `force` also allows an empty directory or a damaged
    bundle; `protect` names source checkpoints it must not contain); anything else is refused with a
    BundleError before anything is written. The old bundle is moved aside and only its artifacts are
    deleted, after the new one is in place. Temp folders a killed export left beside `dest` are removed.
    """
    from . import bundle_dest

    protect = list(protect)
    dest = bundle_dest.check_destination(dest, force=force, protect=protect)
    started = bundle_dest.run_start()
    dest.parent.mkdir(parents=True, exist_ok=True)
    bundle_dest.clean_stale(dest.parent, dest.name, before=started)
    tmp = Path(tempfile.mkdtemp(prefix=bundle_dest.tmp_prefix(dest.name), dir=dest.parent))
    old = None
    try:
        manifest = build(tmp)
        manifest.setdefault("format", FORMAT)
        manifest.setdefault("schema_version", SCHEMA_VERSION)
        _write_json_atomic(tmp / MANIFEST, manifest)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
        bundle_dest.check_destination(dest, force=force, protect=protect)  # again: the build took a while
        if os.path.lexists(dest):
            old = dest.with_name(bundle_dest.old_name(dest.name))
            os.replace(dest, old)
        try:
            os.replace(tmp, dest)
        except BaseException:
            if old is not None:
                os.replace(old, dest)
                old = None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temp folder: nothing else is in it
        raise
    if old is not None:
        bundle_dest.remove_bundle_files(old)
    return dest


def update_manifest(bundle_dir: str | os.PathLike, update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply `update` to the manifest dict in place and rewrite manifest.json atomically."""
    bundle = load_bundle(bundle_dir)
    update(bundle.manifest)
    _write_json_atomic(bundle.path / MANIFEST, bundle.manifest)
    return bundle.manifest


def write_file_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to a temp file beside `path`, fsync, then rename over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_file_atomic(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
