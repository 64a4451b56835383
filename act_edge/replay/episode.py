"""One episode to replay: its recorded state, actions and where its frames are, read lazily."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import ActEdgeError


class EpisodeError(ActEdgeError):
    """An episode file, or the mapping of its datasets to the bundle's inputs, cannot be replayed."""


@dataclass(frozen=True)
class Mapping:
    """Which dataset feeds which bundle input (`--camera CAM=KEY`, `--state KEY[,KEY]`, `--env-state KEY`).

    Keys are relative to the episode's observation group (`observations/images` for cameras in the
    ALOHA layout). None: the default name (the camera's own name, `qpos`, `env_state`).
    """

    cameras: dict[str, str] = field(default_factory=dict)
    state: tuple[str, ...] | None = None
    env_state: tuple[str, ...] | None = None


@dataclass
class Episode:
    """Recorded arrays (small, read at open) and the datasets holding the frames (read per frame)."""

    name: str  # file name, or `file.hdf5:demo_3` when a file holds several demonstrations
    path: Path
    group: str  # the episode's group in the file ("/" for one-episode layouts)
    layout: str  # "aloha", "act-edge", "course", "robomimic"
    state: np.ndarray  # (T, S) float32
    actions: np.ndarray  # (T, A) float32, the demonstration (or the recording's executed actions)
    env_state: np.ndarray | None  # (T, E) float32
    cameras: dict[str, str]  # bundle camera -> dataset path in the file
    depth: dict[str, str]  # bundle camera -> depth dataset path (RGB-D bundles)
    compressed: bool  # JPEG frames (ALOHA `compress` attribute)
    attrs: dict[str, Any]  # the file's root attributes, JSON-safe
    sources: dict[str, Any]  # what fed each input: {"cameras": {...}, "state": [...], "env_state": [...]}

    @property
    def frames(self) -> int:
        return int(self.state.shape[0])

    @contextlib.contextmanager
    def observations(self) -> Iterator[Callable[[int], dict[str, Any]]]:
        """Open the file; yield `obs(t)`: step t's observation in the Policy's dict form."""
        from .frames import frame_reader
        from .hdf5 import h5py

        with h5py().File(self.path, "r") as f:
            images = {cam: frame_reader(f[key], self.compressed, f"{self.name}: {key}")
                      for cam, key in self.cameras.items()}
            depth = {cam: f[key] for cam, key in self.depth.items()}

            def obs(t: int) -> dict[str, Any]:
                out: dict[str, Any] = {}
                if self.state.shape[1]:  # a bundle without robot state (env state only) gets none
                    out["state"] = self.state[t]
                if images:  # a camera-less bundle gets no images
                    out["images"] = {cam: read(t) for cam, read in images.items()}
                if depth:
                    out["depth"] = {cam: np.asarray(d[t], dtype=np.float32) for cam, d in depth.items()}
                if self.env_state is not None:
                    out["env_state"] = self.env_state[t]
                return out

            yield obs
