"""Recording on the robot: every step()'s observation, action and timing, into episode files (docs/recording.md).

The control thread only copies into the next free slot of a preallocated ring (np.copyto into views
made at start, no allocation); a writer thread drains the ring into HDF5 (act_edge.episode_file, h5py
imported when recording starts). A full ring drops the frame and counts it: step() never waits for the
disk. One file per episode, written as `.NAME.partial` beside its final name and renamed when the
episode ends (reset(), stop_recording(), close()). A writer error (disk full, permission) stops the
recording: it is logged once, the temp file is removed, step() goes on, and stop_recording() raises it
as a RecordingError.

Threads: `record`, `end_episode` and `close` are called by the Policy's one caller thread; the writer
only reads what they publish (`_head`, `_ended`, `_drops`, `_stop`) after the data it covers, and only
the writer moves `_tail`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import episode_file
from .errors import ArgumentError, RecordingError
from .episode_file import Field

log = logging.getLogger(__name__)

DEFAULT_BUFFER_FRAMES = 100  # 2 s of 50 Hz frames
SUFFIX = ".hdf5"
_EPISODE = re.compile(r"^\.?episode_(\d+)\.hdf5(\.partial)?$")
# The writer wakes every _POLL_S (at once on reset/stop) and writes when _MIN_BATCH frames wait (or half the
# ring), the oldest has waited _MAX_WAIT_S, or an episode ended: few large writes, so the moments it holds the
# GIL (h5py's Python between its GIL-free HDF5 calls), when a step() may have to wait for it, stay rare.
_POLL_S = 0.02
_MIN_BATCH = 32
_MAX_WAIT_S = 0.5
_MAX_BATCH = 64  # frames per write


def partial_path(final: Path) -> Path:
    """The temp name a file is written under: `.NAME.partial` in the same directory."""
    return final.with_name(f".{final.name}.partial")


def episode_attributes(policy: Any) -> dict[str, Any]:
    """The root attributes of a Policy's episode files (all but `dropped_frames`)."""
    from . import __version__
    from .bundle import MANIFEST, sha256_file

    try:
        manifest_sha = sha256_file(policy.bundle.path / MANIFEST)
    except OSError:  # a Bundle built in memory (no manifest.json on disk)
        manifest_sha = ""
    coeff = policy.temporal_ensemble_coeff
    return {
        "sim": False, "act_edge_format": episode_file.FORMAT, "act_edge_version": __version__,
        "bundle_manifest_sha256": manifest_sha, "backend": policy.backend.name,
        "precision": policy.backend.precision, "inference": policy.inference,
        "mode": "ensemble" if coeff is not None else "queue",
        "temporal_ensemble_coeff": float("nan") if coeff is None else float(coeff),
        "n_action_steps": int(policy.n_action_steps), "camera_names": list(policy.spec.camera_names),
    }


class _Ring:
    """Preallocated slots: per step the state, env state, camera frames, depth, action and timing."""

    def __init__(self, validator: Any, action_dim: int, n: int) -> None:
        self.n = n
        self.state = np.zeros((n, validator.vectors["state"][1]), np.float32) \
            if "state" in validator.vectors else None  # None: a bundle without robot state (env state only)
        self.env_state = np.zeros((n, validator.vectors["env_state"][1]), np.float32) \
            if "env_state" in validator.vectors else None
        self.action = np.zeros((n, action_dim), np.float32)
        self.tick_ns = np.zeros(n, np.int64)
        self.step_ns = np.zeros(n, np.int64)
        self.episode = np.zeros(n, np.int64)  # the recorder's episode number of each slot
        # Camera frames in one array per graph input, (n, cameras in it, H, W[, 3]), as the model takes them.
        self.groups: dict[str, np.ndarray] = {}
        for cams, dtype in ((validator.images, np.uint8), (validator.depth, np.float32)):
            for c in cams:
                count = 1 + max(d.index for d in cams if d.input_name == c.input_name)
                if c.input_name not in self.groups:
                    self.groups[c.input_name] = np.zeros((n, count, *c.shape), dtype)
        for arr in (self.state, self.env_state, self.action, self.tick_ns, self.step_ns, *self.groups.values()):
            if arr is not None:
                arr.fill(0)  # touch every page now: no page fault on the control path (np.zeros maps them lazily)
        self.images = [(c.name, c.input_name, c.index) for c in validator.images]
        self.depth = [(c.name, c.input_name, c.index) for c in validator.depth]
        stacked = validator.stacked_input
        # Per slot, views made once: what record() copies into.
        self.state_rows = list(self.state) if self.state is not None else None
        self.env_rows = list(self.env_state) if self.env_state is not None else None
        self.action_rows = list(self.action)
        self.image_views = [[(name, self.groups[inp][s, i]) for name, inp, i in self.images] for s in range(n)]
        self.depth_views = [[(name, self.groups[inp][s, i]) for name, inp, i in self.depth] for s in range(n)]
        self.stacked_views = list(self.groups[stacked]) if stacked is not None else None

    def fields(self) -> list[Field]:
        f = [Field("observations/qpos", self.state.shape[1:], self.state.dtype)] if self.state is not None else []
        if self.env_state is not None:
            f.append(Field("observations/env_state", self.env_state.shape[1:], self.env_state.dtype))
        for kind, cams in (("images", self.images), ("depth", self.depth)):
            for name, inp, _ in cams:
                g = self.groups[inp]
                f.append(Field(f"observations/{kind}/{name}", g.shape[2:], g.dtype))
        f += [Field("action", self.action.shape[1:], self.action.dtype),
              Field("act_edge/tick_ns", (), self.tick_ns.dtype), Field("act_edge/step_ns", (), self.step_ns.dtype)]
        return f

    def columns(self, s0: int, s1: int) -> dict[str, np.ndarray]:
        """Slots s0..s1-1 as the datasets' rows."""
        c = {"action": self.action[s0:s1], "act_edge/tick_ns": self.tick_ns[s0:s1],
             "act_edge/step_ns": self.step_ns[s0:s1]}
        if self.state is not None:
            c["observations/qpos"] = self.state[s0:s1]
        if self.env_state is not None:
            c["observations/env_state"] = self.env_state[s0:s1]
        for kind, cams in (("images", self.images), ("depth", self.depth)):
            for name, inp, i in cams:
                c[f"observations/{kind}/{name}"] = self.groups[inp][s0:s1, i]
        return c


class Recorder:
    """Records a Policy's steps to episode files: `target` is a directory (episode_<N>.hdf5, N the first
    free number, one file per episode) or a path ending .hdf5 (one episode: recording ends at the first
    reset() after a recorded step)."""

    def __init__(self, target: str | os.PathLike, validator: Any, action_dim: int, attrs: dict[str, Any],
                 buffer_frames: int = DEFAULT_BUFFER_FRAMES) -> None:
        if isinstance(buffer_frames, bool) or not isinstance(buffer_frames, (int, np.integer)) or buffer_frames < 1:
            raise ArgumentError(f"buffer_frames must be an integer >= 1 (ring slots), got {buffer_frames!r}")
        episode_file.h5py()  # DependencyMissing now, not in the writer thread
        for cam in [c.name for c in validator.images] + [c.name for c in validator.depth]:
            if "/" in cam or cam in (".", ".."):
                raise RecordingError(f"record={target}: camera name {cam!r} cannot name an HDF5 dataset "
                                     "(/observations/images/<camera>); rename the camera in the bundle")
        self.target = Path(os.fspath(target))
        self.single = self.target.suffix.lower() == SUFFIX
        self.directory = self.target.parent if self.single else self.target
        _check_target(self.target, self.single)
        self._attrs = dict(attrs)
        self._ring = _Ring(validator, action_dim, int(buffer_frames))
        self._fields = self._ring.fields()
        self.files: list[Path] = []  # finished episode files, in order
        self.error: str | None = None
        # Published by the control thread.
        self._head = 0  # frames copied into the ring so far
        self._episode = 0  # the current episode's number
        self._steps = 0  # steps seen in the current episode (recorded + dropped)
        self._dropped = 0  # dropped in the current episode
        self._dropped_total = 0
        self._drops: dict[int, int] = {}  # ended episode with steps -> its dropped frames
        self._ended = -1  # every episode <= this one has ended
        self._active = True
        self._stop = False
        # Owned by the writer thread.
        self._tail = 0
        self._writer: episode_file.EpisodeWriter | None = None
        self._writer_ep = -1
        self._written = -1  # every ended episode <= this one is settled (its file finished and renamed)
        self._last_finished = -1  # the episode of the last file finished
        self._partial: Path | None = None
        self._final: Path | None = None
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="act-edge-recorder", daemon=True)
        self._thread.start()

    # --- control thread ---------------------------------------------------------------------------
    def record(self, obs: Mapping[str, Any], action: np.ndarray, tick_ns: int) -> None:
        """Copy one validated step into the next free slot, or count it dropped (ring full). No allocation."""
        if not self._active:
            return
        head = self._head
        self._steps += 1
        if head - self._tail >= self._ring.n:
            self._dropped += 1
            self._dropped_total += 1
            return
        ring = self._ring
        s = head % ring.n
        if ring.state_rows is not None:
            np.copyto(ring.state_rows[s], obs["state"])
        if ring.env_rows is not None:
            np.copyto(ring.env_rows[s], obs["env_state"])
        if ring.images:
            images = obs["images"]
            if ring.stacked_views is not None and type(images) is np.ndarray:
                np.copyto(ring.stacked_views[s], images)
            else:
                for name, view in ring.image_views[s]:
                    np.copyto(view, images[name])
        if ring.depth:
            depth = obs["depth"]
            for name, view in ring.depth_views[s]:
                np.copyto(view, depth[name])
        np.copyto(ring.action_rows[s], action)
        ring.episode[s] = self._episode
        ring.tick_ns[s] = tick_ns
        ring.step_ns[s] = time.perf_counter_ns() - tick_ns
        self._head = head + 1  # publishes the slot (after its data)

    def end_episode(self) -> None:
        """reset(): the current episode's file is finished (renamed) by the writer; the next step opens
        the next one. An episode with no step makes no file."""
        if self._steps:
            self._drops[self._episode] = self._dropped  # before _ended: the writer reads it after
            self._ended = self._episode
            self._episode += 1
            self._steps = self._dropped = 0
            if self.single:
                self._active = False  # one file: recording ends with its episode
            self._wake.set()

    def close(self, timeout: float | None = None) -> list[Path]:
        """Finish the current episode, let the writer drain the ring and stop; the files written.
        Raises RecordingError (one line) if the writer failed."""
        self.end_episode()
        self._active = False
        self._stop = True
        self._wake.set()
        if threading.current_thread() is self._thread:  # a finalizer run by a collection in the writer itself:
            return list(self.files)  # it finishes the file and exits when this returns (it has seen _stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RecordingError(f"recording to {self.target}: the writer did not finish within {timeout} s "
                                 f"(the episode stays under its .partial name)")
        if self.error is not None:
            raise RecordingError(self.error)
        return list(self.files)

    def close_quietly(self) -> None:
        """close() for a Policy garbage-collected or left open at exit: the error, if any, was logged."""
        try:
            self.close()
        except RecordingError:
            pass

    def stats(self) -> dict[str, Any]:
        return {"target": str(self.target), "recording": self._active and self.error is None,
                "files": [str(p) for p in self.files], "frames_recorded": self._head,
                "frames_written": self._tail, "dropped_frames": self._dropped_total, "error": self.error}

    # --- writer thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        batch = max(1, min(_MIN_BATCH, self._ring.n // 2))
        waiting_since = 0.0  # when frames were first seen waiting (0: none)
        try:
            while True:
                stop = self._stop  # read before draining: what was published before it is drained below
                ended = self._ended
                pending = self._head - self._tail
                now = time.monotonic()
                if pending and not waiting_since:
                    waiting_since = now
                if stop or ended > self._written or pending >= batch or \
                        (pending and now - waiting_since >= _MAX_WAIT_S):
                    self._drain()
                    self._settle(ended)
                    waiting_since = 0.0
                if stop or (self.single and self._written >= 0):
                    return
                self._wake.wait(_POLL_S)
                self._wake.clear()
        except Exception as exc:  # noqa: BLE001 - reported once, the control loop goes on
            self._fail(exc)

    def _drain(self) -> None:
        ring, n = self._ring, self._ring.n
        head = self._head
        while self._tail < head:
            tail = self._tail
            s0 = tail % n
            ep = int(ring.episode[s0])
            count = min(head - tail, n - s0, _MAX_BATCH)
            tags = ring.episode[s0:s0 + count]
            if tags[-1] != ep:
                count = int(np.flatnonzero(tags != ep)[0])
            if ep - 1 > self._written:  # a frame of episode ep: every earlier one has ended
                self._settle(ep - 1)
            if self._writer is None:
                self._open(ep)
            self._writer.append(ring.columns(s0, s0 + count), count)  # type: ignore[union-attr]
            self._tail = tail + count  # frees the slots

    def _settle(self, ended: int) -> None:
        """Finish the files of the episodes up to `ended` (all ended, their frames drained)."""
        for ep in range(self._written + 1, ended + 1):
            if ep in self._drops and ep > self._last_finished:
                if self._writer is None:  # every step of it was dropped: an empty file says so
                    self._open(ep)
                self._finish_file()
            self._written = ep

    def _open(self, ep: int) -> None:
        final = self.target if self.single else self.directory / f"episode_{_first_free(self.directory)}{SUFFIX}"
        self._final, self._partial = final, partial_path(final)
        self._writer = episode_file.EpisodeWriter(self._partial, self._fields, self._attrs)
        self._writer_ep = ep

    def _finish_file(self) -> None:
        w, partial, final = self._writer, self._partial, self._final
        assert w is not None and partial is not None and final is not None
        w.finish(self._drops.get(self._writer_ep, 0))
        self._writer, self._partial = None, None  # complete: never removed from here on
        self._last_finished = self._writer_ep
        try:
            self.files.append(_claim(partial, final, self.single))
        except (OSError, RecordingError) as exc:
            raise _NotRenamed(partial, final, exc) from None

    def _fail(self, exc: BaseException) -> None:
        self._active = False
        where = self._partial or self.target
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._partial is not None:
            try:
                self._partial.unlink()
            except OSError:
                pass
        if isinstance(exc, _NotRenamed):
            self.error = (f"recording to {self.target}: renaming {exc.partial} to {exc.final.name} failed "
                          f"({_why(exc.cause)}); recording stopped, the complete episode is kept as {exc.partial} "
                          f"({len(self.files)} earlier file(s) kept)")
        else:
            self.error = (f"recording to {self.target}: writing {where} failed ({_why(exc)}); recording stopped, "
                          f"that episode was not saved ({len(self.files)} earlier file(s) kept)")
        log.warning("%s", self.error)


class _NotRenamed(Exception):
    """A finished episode file kept under its temp name (the rename failed)."""

    def __init__(self, partial: Path, final: Path, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.partial, self.final, self.cause = partial, final, cause


def _why(exc: BaseException) -> str:
    """An exception in a few words: errno text for OS errors, else its first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def _check_target(target: Path, single: bool) -> None:
    """Refuse at start what the writer could not do: one line naming the path."""
    if single:
        if target.exists():
            raise RecordingError(f"record={target}: the file exists; recording never replaces a file "
                                 "(give a new .hdf5 path, or a directory for episode_<N>.hdf5 files)")
        if partial_path(target).exists():
            raise RecordingError(f"record={target}: {partial_path(target).name} exists beside it (a recording "
                                 "to it is running or was interrupted); remove it or pick another path")
        folder = target.parent
    else:
        if target.exists() and not target.is_dir():
            raise RecordingError(f"record={target}: not a directory and does not end in {SUFFIX} "
                                 "(a directory gets episode_<N>.hdf5 files, a .hdf5 path one episode)")
        folder = target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(f"record={target}: cannot create {folder} ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise RecordingError(f"record={target}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RecordingError(f"record={target}: {folder} is not writable")


def _first_free(folder: Path) -> int:
    """The smallest N with neither episode_N.hdf5 nor its .partial in `folder`."""
    used = set()
    for name in os.listdir(folder):
        m = _EPISODE.match(name)
        if m:
            used.add(int(m.group(1)))
    n = 0
    while n in used:
        n += 1
    return n


def _claim(partial: Path, final: Path, single: bool) -> Path:
    """Give the finished temp file its final name without replacing anything there (a directory
    recording takes the next free number if another file took this one meanwhile)."""
    while True:
        try:
            os.link(partial, final)  # fails if `final` exists: never replaces a file
        except FileExistsError:
            pass
        except OSError:  # no hard links on this filesystem (e.g. FAT): check, then rename
            if not final.exists():
                os.rename(partial, final)
                return final
        else:
            os.unlink(partial)
            return final
        if single:
            raise RecordingError(f"{final} appeared while recording")
        final = final.with_name(f"episode_{_first_free(final.parent)}{SUFFIX}")

