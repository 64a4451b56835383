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
from .manifest_schema import (FORMAT, MAX_MANIFEST_BYTES, SCHEMA_VERSION, check_manifest,  # noqa: F401
                              io_description, parse_manifest, resolve_inside)  # io_description: re-exported
from .spec import ActSpec

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
        return self._checked(entry, verify, f"artifacts.{key}.path")

    def engine_file(self, entry: dict[str, Any], verify: bool = True) -> Path:
        """Path of a recorded engine (an entry of `engines`), confined to the bundle and sha256-checked."""
        return self._checked(entry, verify, "engines[].path")

    def _checked(self, entry: dict[str, Any], verify: bool, where: str) -> Path:
        # Confinement again at use (the manifest was checked at load; the disk may have changed since).
        path = resolve_inside(self.path, entry.get("path"), where, str(self.path / MANIFEST))
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
    """Read and validate a bundle's manifest (manifest_schema: types, ranges, io vs spec, paths inside
    the bundle, runtime defaults). Artifacts are hashed on use; nothing outside the bundle is opened."""
    root = Path(path)
    mf = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"{root}: not a bundle directory (expected a `*{BUNDLE_SUFFIX}/` folder)")
    if not mf.is_file():
        raise BundleError(f"{root}: no {MANIFEST} (not an act-edge bundle, or a half-written one)")
    try:
        with open(mf, "rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"{mf}: unreadable manifest: {exc.strerror or exc}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleError(f"{mf}: unreadable manifest: larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    manifest = parse_manifest(data, str(mf))
    spec = check_manifest(manifest, str(mf), root)
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
    The manifest goes through the reader's validator first: one `load_bundle` would refuse is never written.
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
        bundle_dest.check_destination(dest, force=force, protect=protect)  # again: the build took a while
        check_before_write(manifest, tmp, f"{dest / MANIFEST} (not written)")
        _write_json_atomic(tmp / MANIFEST, manifest)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
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
    check_before_write(bundle.manifest, bundle.path, f"{bundle.path / MANIFEST} (not updated)")
    _write_json_atomic(bundle.path / MANIFEST, bundle.manifest)
    return bundle.manifest


def check_before_write(manifest: dict[str, Any], bundle_dir: Path, origin: str) -> None:
    """The reader's validator on exactly what will be on disk (a JSON round trip): a manifest that
    `load_bundle` would refuse is never written."""
    check_manifest(parse_manifest(json.dumps(manifest), origin), origin, bundle_dir)


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
    write_file_atomic(path, (json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n").encode())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
