"""The act-edge episode file (docs/recording.md): what `Recorder`'s writer thread writes, with h5py.

HDF5, the original ACT/ALOHA layout plus act-edge extras; T = recorded steps:
`/observations/qpos` (T, S), `/observations/env_state` (T, E), `/observations/images/<cam>` (T, H, W, 3)
uint8 (one frame per chunk), `/observations/depth/<cam>` (T, H, W), `/action` (T, A), `/act_edge/tick_ns`
and `/act_edge/step_ns` (T,) int64, root attributes (ATTRIBUTES). h5py is imported by `h5py()`, when
recording starts: it is an optional extra (`act-edge[replay]`), never a runtime import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DependencyMissing

FORMAT = "act-edge-episode/1"
INSTALL = "pip install 'act-edge[replay]'"
# Root attributes, in the order written; `dropped_frames` is set when the file is finished.
ATTRIBUTES = ("sim", "act_edge_format", "act_edge_version", "bundle_manifest_sha256", "backend", "precision",
              "inference", "mode", "temporal_ensemble_coeff", "n_action_steps", "dropped_frames", "camera_names")


def h5py(what: str = "recording episodes") -> Any:
    """The h5py module, or DependencyMissing (one line: `<what> needs h5py ...`) naming the extra that
    installs it. The one place act-edge imports h5py (recording and replay)."""
    try:
        import h5py as module
    except ImportError as exc:
        why = str(exc).splitlines()[0] if str(exc) else "not installed"
        raise DependencyMissing(f"{what} needs h5py, which does not import here ({why}): {INSTALL}") from None
    return module


@dataclass(frozen=True)
class Field:
    """One per-step dataset: its path in the file, the shape of one step and its dtype."""

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype


class EpisodeWriter:
    """One episode file being written: datasets created empty at open, grown as frames arrive.

    `append(columns, n)` adds n steps; `columns` maps each Field's path to an array whose first axis is
    those n steps. `finish(dropped)` sets `dropped_frames` and closes; `abort()` closes quietly.
    """

    def __init__(self, path: Path, fields: list[Field], attrs: dict[str, Any]) -> None:
        h5 = h5py()
        self.path = path
        self.count = 0
        self._file = h5.File(path, "w")  # the caller's temp name; renamed by the Recorder when finished
        try:
            for key in ATTRIBUTES:
                if key == "camera_names":
                    self._file.attrs.create(key, list(attrs[key]), dtype=h5.string_dtype())
                elif key != "dropped_frames":
                    self._file.attrs[key] = attrs[key]
            self._file.attrs["dropped_frames"] = 0
            self._dsets = {}
            for f in fields:
                rows = 1 if len(f.shape) >= 2 else max(1, min(1024, (1 << 16) // max(1, int(np.prod(f.shape)))))
                self._dsets[f.path] = self._file.create_dataset(
                    f.path, shape=(0, *f.shape), maxshape=(None, *f.shape), dtype=f.dtype, chunks=(rows, *f.shape))
        except BaseException:
            self._file.close()
            raise

    def append(self, columns: dict[str, np.ndarray], n: int) -> None:
        end = self.count + n
        for key, dset in self._dsets.items():
            dset.resize(end, axis=0)
            dset[self.count:end] = columns[key]
        self.count = end

    def finish(self, dropped: int) -> None:
        self._file.attrs["dropped_frames"] = int(dropped)
        self._file.close()

    def abort(self) -> None:
        try:
            self._file.close()
        except Exception:  # already broken (disk full, removed): nothing more to save
            pass
