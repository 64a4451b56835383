"""Episodes of a local LeRobot dataset (a root holding `meta/info.json`), read through LeRobot's own
`LeRobotDataset` (imported here, only when such a root is given; never a runtime import).

Frame i of the dataset is `dataset[i]`: a dict of tensors keyed by feature name. The mapping to the
bundle's inputs (defaults; `--camera CAM=KEY`, `--state KEY[,KEY]`, `--env-state KEY` override them):
camera CAM <- `observation.images.CAM` (float (3, H, W) in [0, 1] -> uint8 (H, W, 3), x 255 rounded:
exact for frames that were uint8 before LeRobot scaled them), state <- `observation.state`, env_state <-
`observation.environment_state`, actions <- `action`. Episode e spans the dataset indices
[dataset_from_index, dataset_to_index) of `meta.episodes` (LeRobot >= 0.4), or
`episode_data_index["from"/"to"]` (older releases).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import DependencyMissing
from ..spec import ActSpec
from .episode import Episode, EpisodeError, Mapping

IMAGE_PREFIX = "observation.images."
STATE_KEY = "observation.state"
ENV_STATE_KEY = "observation.environment_state"
ACTION_KEY = "action"


def is_lerobot_root(path: Path) -> bool:
    return path.is_dir() and (path / "meta" / "info.json").is_file()


def lerobot_dataset_class() -> Any:
    """LeRobot's LeRobotDataset (current or pre-0.4 module path), or a one-line DependencyMissing."""
    errors = []
    for module in ("lerobot.datasets.lerobot_dataset", "lerobot.common.datasets.lerobot_dataset"):
        try:
            return getattr(__import__(module, fromlist=["LeRobotDataset"]), "LeRobotDataset")
        except (ImportError, AttributeError) as exc:
            errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    raise DependencyMissing(f"reading a LeRobot dataset needs lerobot, which does not import here ({errors[0]}): "
                            "pip install lerobot (or replay episodes exported to HDF5)")


def open_lerobot(root: Path, spec: ActSpec, mapping: Mapping, dataset: Any = None) -> list["LeRobotEpisode"]:
    """Every episode of the dataset at `root`, checked against the bundle's inputs. `dataset`: an already
    opened LeRobotDataset (else opened here from `root`)."""
    if dataset is None:
        cls = lerobot_dataset_class()
        try:
            dataset = cls(repo_id=f"local/{root.name}", root=root)
        except Exception as exc:  # noqa: BLE001 - LeRobot's own errors, reported in one line
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise EpisodeError(f"{root}: LeRobotDataset could not open it ({text})") from None
    spans = _episode_spans(dataset, root)
    keys = _keys(dataset, spec, mapping, root)
    return [_episode(root, dataset, e, start, stop, keys, spec) for e, (start, stop) in enumerate(spans)]


@dataclass
class LeRobotEpisode(Episode):
    """An episode whose frames come from a LeRobotDataset (indices [start, stop))."""

    dataset: Any = None
    start: int = 0

    @contextlib.contextmanager
    def observations(self) -> Iterator[Callable[[int], dict[str, Any]]]:
        def obs(t: int) -> dict[str, Any]:
            item = self.dataset[self.start + t]
            out: dict[str, Any] = {}
            if self.state.shape[1]:
                out["state"] = self.state[t]
            if self.cameras:
                out["images"] = {cam: to_uint8_frame(item[key], f"{self.name}: {key}")
                                 for cam, key in self.cameras.items()}
            if self.env_state is not None:
                out["env_state"] = self.env_state[t]
            return out

        yield obs


def to_uint8_frame(value: Any, where: str) -> np.ndarray:
    """LeRobot's float (3, H, W) frame in [0, 1] -> uint8 (H, W, 3); a uint8 (H, W, 3) frame as it is."""
    arr = _numpy(value)
    if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    if arr.ndim != 3 or arr.shape[0] != 3 or arr.dtype.kind != "f":
        raise EpisodeError(f"{where}: expected a float (3, H, W) frame in [0, 1] or uint8 (H, W, 3), got "
                           f"{arr.shape} {arr.dtype}")
    if not np.isfinite(arr).all() or arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
        raise EpisodeError(f"{where}: frame values outside [0, 1] (min {arr.min()}, max {arr.max()})")
    return np.ascontiguousarray((np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8).transpose(1, 2, 0))


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _episode_spans(dataset: Any, root: Path) -> list[tuple[int, int]]:
    meta = getattr(dataset, "meta", None)
    episodes = getattr(meta, "episodes", None)
    try:
        if episodes is not None and "dataset_from_index" in _columns(episodes):
            starts, stops = episodes["dataset_from_index"], episodes["dataset_to_index"]
        else:
            index = dataset.episode_data_index
            starts, stops = index["from"], index["to"]
        spans = [(int(a), int(b)) for a, b in zip(_numpy(starts).tolist(), _numpy(stops).tolist())]
    except (AttributeError, KeyError, TypeError) as exc:
        raise EpisodeError(f"{root}: cannot find the episodes' frame ranges in this LeRobot dataset "
                           f"({type(exc).__name__}: {exc})") from None
    if not spans:
        raise EpisodeError(f"{root}: the LeRobot dataset holds no episodes")
    for e, (a, b) in enumerate(spans):
        if b <= a:
            raise EpisodeError(f"{root}: episode {e} has no steps")
    return spans


def _columns(episodes: Any) -> list[str]:
    names = getattr(episodes, "column_names", None)
    if names is None and isinstance(episodes, dict):
        names = list(episodes)
    return list(names or [])


@dataclass(frozen=True)
class _Keys:
    cameras: dict[str, str]
    state: tuple[str, ...]
    env_state: tuple[str, ...] | None


def _keys(dataset: Any, spec: ActSpec, mapping: Mapping, root: Path) -> _Keys:
    features = list(getattr(getattr(dataset, "meta", None), "features", None) or {})
    listing = ", ".join(features) or "none listed"

    def need(key: str, what: str, flag: str) -> str:
        if features and key not in features:
            raise EpisodeError(f"{root}: no feature {key!r} for {what} (map it with {flag}); features: {listing}")
        return key

    cameras = {}
    for cam in spec.cameras:
        if cam.channels != 3:
            raise EpisodeError(f"{root}: the bundle's camera {cam.name!r} is RGB-D; LeRobot datasets are read "
                               "for RGB cameras only")
        key = mapping.cameras.get(cam.name, cam.name)
        key = key if key.startswith(IMAGE_PREFIX) or key in features else IMAGE_PREFIX + key
        cameras[cam.name] = need(key, f"camera {cam.name!r}", f"--camera {cam.name}=KEY")
    state = tuple(need(k, "the state", "--state KEY") for k in (mapping.state or (STATE_KEY,))) \
        if spec.state_dim else ()
    env = tuple(need(k, "the env_state", "--env-state KEY") for k in (mapping.env_state or (ENV_STATE_KEY,))) \
        if spec.env_state_dim else None
    need(ACTION_KEY, "the actions", "(LeRobot datasets always have it)")
    return _Keys(cameras, state, env)


def _episode(root: Path, dataset: Any, e: int, start: int, stop: int, keys: _Keys, spec: ActSpec) -> LeRobotEpisode:
    name = f"{root.name}:episode_{e}"
    T = stop - start
    state_rows, env_rows, action_rows = [], [], []
    for i in range(start, stop):  # vectors only; frames are read per step by observations()
        item = dataset[i]
        state_rows.append(_vector(item, keys.state, f"{name} step {i - start}"))
        if keys.env_state is not None:
            env_rows.append(_vector(item, keys.env_state, f"{name} step {i - start}"))
        action_rows.append(_vector(item, (ACTION_KEY,), f"{name} step {i - start}"))
    actions = _stack(action_rows, spec.action_dim, name, "action")
    state = _stack(state_rows, spec.state_dim, name, "state") if keys.state else np.zeros((T, 0), np.float32)
    env_state = _stack(env_rows, spec.env_state_dim, name, "env_state") if keys.env_state is not None else None
    return LeRobotEpisode(name=name, path=root, group=f"episode_{e}", layout="lerobot", state=state,
                          actions=actions, env_state=env_state, cameras=dict(keys.cameras), depth={},
                          compressed=False, attrs={"lerobot_episode": e, "frames": [start, stop]},
                          sources={"cameras": dict(keys.cameras), "state": list(keys.state),
                                   "env_state": list(keys.env_state) if keys.env_state else None, "depth": None,
                                   "actions": ACTION_KEY},
                          dataset=dataset, start=start)


def _vector(item: Any, keys: tuple[str, ...], where: str) -> np.ndarray:
    parts = []
    for key in keys:
        if key not in item:
            raise EpisodeError(f"{where}: the frame has no {key!r}; it holds: {', '.join(sorted(item))}")
        parts.append(_numpy(item[key]).astype(np.float64).reshape(-1))
    return np.concatenate(parts)


def _stack(rows: list[np.ndarray], dim: int, name: str, what: str) -> np.ndarray:
    values = np.stack(rows)
    if values.shape[1] != dim:
        raise EpisodeError(f"{name}: {what} has {values.shape[1]} dimensions, the bundle expects {dim}")
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        t, j = (int(i) for i in bad[0])
        raise EpisodeError(f"{name}: non-finite {what} {values[t, j]} at step {t}, dimension {j}")
    return values.astype(np.float32)
