"""Where a bundle may be written, and what may be deleted there: a previous bundle, never a user's files.

Output rules (docs/bundle-format.md, "Output rules"):
- a new path, or an existing act-edge bundle (manifest.json with `"format": "act-edge-bundle"`) that
  holds nothing but bundle artifacts: written; the old bundle is replaced atomically.
- with `force`: also an EMPTY directory, or a directory of bundle artifacts whose manifest is missing
  or unreadable (an interrupted or damaged bundle).
- refused, even with `force`: a regular file, a symlink, `/`, the home directory, the current working
  directory or one of its parents, a directory containing a source checkpoint, a directory holding
  anything that is not a bundle artifact, an unwritable parent.
Leftover temp folders `.<name>.tmp-*` / `.<name>.old-*` of a killed export are removed at the next
export into the same parent, if they are older than that run, their process is gone, and they hold
nothing but bundle artifacts.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Iterable

from .bundle import FORMAT, MANIFEST
from .errors import BundleError

ARTIFACT_FILES = frozenset({MANIFEST, "model.onnx", "model.fp16.onnx", "parity.npz"})
ENGINES_DIR = "engines"
_ENGINE_FILE = re.compile(r"model\.[^/]*\.engine")
_ATOMIC_TMP = re.compile(r"\.(?:manifest\.json|model\.[^/]*\.engine)\.[a-z0-9_]{8}\.tmp")  # write_file_atomic


def tmp_prefix(name: str) -> str:
    """Prefix of the temp folder an export of `name` builds in (followed by the pid and a random tag)."""
    return f".{name}.tmp-{os.getpid()}-"


def old_name(name: str) -> str:
    """Name the previous bundle is moved to until the new one is in place."""
    return f".{name}.old-{os.getpid()}-{os.urandom(4).hex()}"


def is_bundle(path: Path) -> bool:
    """A directory whose manifest.json is a JSON object with `"format": "act-edge-bundle"`."""
    mf = path / MANIFEST
    if not path.is_dir() or path.is_symlink() or mf.is_symlink() or not mf.is_file():
        return False
    try:
        manifest = json.loads(mf.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def foreign_entries(path: Path) -> list[str]:
    """Entries of directory `path` that are not bundle artifacts (relative names, sorted).

    Artifacts: manifest.json, model.onnx, model.fp16.onnx, parity.npz, engines/model.*.engine, and the
    temp files of an atomic write; all regular files. Symlinks and anything else are foreign.
    """
    foreign = []
    for entry in sorted(path.iterdir()):
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.is_dir() and entry.name == ENGINES_DIR:
            for sub in sorted(entry.iterdir()):
                ok = sub.is_file() and not sub.is_symlink() and (
                    _ENGINE_FILE.fullmatch(sub.name) or _ATOMIC_TMP.fullmatch(sub.name))
                if not ok:
                    foreign.append(f"{ENGINES_DIR}/{sub.name}")
        elif not (entry.is_file() and (entry.name in ARTIFACT_FILES or _ATOMIC_TMP.fullmatch(entry.name))):
            foreign.append(entry.name)
    return foreign


def check_destination(dest: str | os.PathLike, *, force: bool = False, protect: Iterable[str | os.PathLike] = ()) -> Path:
    """Return `dest` as an absolute path if a bundle may be written there; else BundleError (one line).

    protect: source paths (checkpoint files or directories) that `dest` must not be nor contain.
    """
    d = Path(os.path.abspath(dest))
    if d.parent == d:
        raise BundleError(f"{dest}: is the filesystem root; choose a new directory for the bundle")
    if d.is_symlink():
        raise BundleError(f"{dest}: is a symbolic link; act-edge replaces only bundle directories it wrote")
    real = d.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise BundleError(f"{dest}: is the current directory{' or one of its parents' if real != cwd else ''}; "
                          "choose a new directory for the bundle (e.g. name.actedge)")
    if real == Path.home().resolve():
        raise BundleError(f"{dest}: is the home directory; choose a new directory for the bundle")
    for p in protect:
        rp = Path(p).resolve()
        if rp == real or real in rp.parents:
            raise BundleError(f"{dest}: contains the source checkpoint {p}; choose a new directory for the bundle")
    if d.exists():
        _check_existing(dest, d, force)
        _check_writable(dest, d.parent)
    else:
        _check_writable(dest, _existing_ancestor(d.parent))
    return d


def _check_existing(dest: str | os.PathLike, d: Path, force: bool) -> None:
    if not d.is_dir():
        raise BundleError(f"{dest}: is an existing file, not a bundle directory; choose a new path")
    try:
        foreign = foreign_entries(d)
        empty = not any(d.iterdir())
    except OSError as exc:
        raise BundleError(f"{dest}: cannot list the directory ({exc.strerror})") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        what = "an act-edge bundle that also holds" if is_bundle(d) else "a directory that is not an act-edge bundle; it holds"
        raise BundleError(f"{dest}: is {what} other files ({shown}); act-edge never deletes them: "
                          "choose a new path")
    if is_bundle(d) or force:
        return
    if empty:
        raise BundleError(f"{dest}: is an existing empty directory; pass --force to write the bundle into it")
    raise BundleError(f"{dest}: holds bundle files but no valid {MANIFEST} (an interrupted or damaged bundle); "
                      "pass --force to replace it")


def _existing_ancestor(p: Path) -> Path:
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def _check_writable(dest: str | os.PathLike, parent: Path) -> None:
    if not parent.is_dir():
        raise BundleError(f"{dest}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BundleError(f"{dest}: directory {parent} is not writable")


def remove_bundle_files(path: Path) -> bool:
    """Delete the bundle artifacts in `path` (see foreign_entries), then the directories if empty.
    Anything else stays where it is. Returns True when `path` is gone."""
    try:
        foreign = set(foreign_entries(path))
        top = list(path.iterdir())
    except OSError:
        return False
    engines = path / ENGINES_DIR
    files = [e for e in top if e.name not in foreign and e.name != ENGINES_DIR]
    if ENGINES_DIR not in foreign and engines.is_dir() and not engines.is_symlink():
        files += [e for e in engines.iterdir() if f"{ENGINES_DIR}/{e.name}" not in foreign]
    for f in files:
        try:
            if f.is_file() and not f.is_symlink():
                f.unlink()
        except OSError:
            pass
    for d in (engines, path):
        try:
            if d.is_dir() and not d.is_symlink():
                d.rmdir()
        except OSError:
            pass
    return not path.exists()


_STALE = re.compile(r"\.(?P<name>.+)\.(?:tmp|old)-(?P<tag>[A-Za-z0-9_-]+)")


def clean_stale(parent: Path, name: str, before: float) -> list[Path]:
    """Remove `.<name>.tmp-*` / `.<name>.old-*` folders left by a killed export; returns those removed.

    Only real directories older than `before` (a time.time()), whose process (when the name records
    one) is gone, and which hold nothing but bundle artifacts.
    """
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _STALE.fullmatch(entry.name)
        if not m or m.group("name") != name or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            if entry.stat().st_mtime >= before:
                continue
            pid = m.group("tag").split("-")[0]
            if pid.isdigit() and _alive(int(pid)):
                continue
            if foreign_entries(entry):
                continue
        except OSError:
            continue
        if remove_bundle_files(entry):
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def run_start() -> float:
    """The time stamp stale folders must be older than (1 s of slack for coarse file-system clocks)."""
    return time.time() - 1.0
