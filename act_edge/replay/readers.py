"""Find the episodes in HDF5 files and map their datasets to a bundle's inputs.

Layouts (detected from the file, docs/replay-schema.md):
- `aloha`: original ACT / ALOHA `episode_N.hdf5`: /observations/qpos, /observations/images/<cam>,
  /action (JPEG frames when the root attribute `compress` is true: frames.py);
- `act-edge`: the same plus act-edge's extras (root attribute `act_edge_format`), no flags needed;
- `course`: `demo_N/observations/image`, `demo_N/observations/qpos`, `demo_N/actions` (root `num_demos`);
- `robomimic`: `data/demo_N/obs/<key>`, `data/demo_N/actions`;
- `lerobot`: a local LeRobot dataset root (`meta/info.json`), read through LeRobot's LeRobotDataset
  (lerobot_dataset.py).
Each demo_N is an episode. Only metadata, state and actions are read here; frames are read per step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..spec import ActSpec
from .episode import Episode, EpisodeError, Mapping
from .frames import NO_DECODER, jpeg_decoder
from .hdf5 import h5py
from .lerobot_dataset import is_lerobot_root, open_lerobot

ACT_EDGE_FORMAT = "act-edge-episode/1"
_DEMO = re.compile(r"demo_(\d+)$")


def open_episodes(paths: list[Path], spec: ActSpec, mapping: Mapping) -> list[Episode]:
    """Every episode in `paths` (files, or directories of *.hdf5), checked against the bundle's inputs."""
    episodes: list[Episode] = []
    for given in paths:
        if is_lerobot_root(Path(given)):  # a LeRobot dataset root: through LeRobot's own reader
            episodes += open_lerobot(Path(given), spec, mapping)
            continue
        for path in expand([Path(given)]):
            episodes += _read_file(Path(path), spec, mapping)
    return episodes


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a directory contributes its *.hdf5 / *.h5 files in natural order (no hidden ones:
    a recording still being written is `.NAME.partial`)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted((q for q in p.iterdir() if q.suffix in (".hdf5", ".h5") and not q.name.startswith(".")
                            and q.is_file()), key=_natural)
            if not found:
                raise EpisodeError(f"{p}: directory holds no *.hdf5 episode file")
            out += found
        else:
            out.append(p)
    return out


def _natural(p: Path) -> list[Any]:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)]


def _read_file(path: Path, spec: ActSpec, mapping: Mapping) -> list[Episode]:
    h5 = h5py()
    try:
        f = h5.File(path, "r")
    except FileNotFoundError:
        raise EpisodeError(f"{path}: no such file") from None
    except OSError as exc:
        raise EpisodeError(f"{path}: not a readable HDF5 episode file ({_first_line(exc)})") from None
    with f:
        attrs = _json_attrs(f.attrs)
        fmt = attrs.get("act_edge_format")
        if fmt is not None and fmt != ACT_EDGE_FORMAT:
            raise EpisodeError(f"{path}: act_edge_format {fmt!r} is not one this act-edge reads ({ACT_EDGE_FORMAT})")
        if "data" in f and isinstance(f["data"], h5.Group) and _demos(f["data"]):
            return [_episode(path, f, f"data/{d}", "robomimic", "obs", "actions", spec, mapping, attrs)
                    for d in _demos(f["data"])]
        if _demos(f):
            return [_episode(path, f, d, "course", "observations", "actions", spec, mapping, attrs) for d in _demos(f)]
        if "observations" in f and "action" in f:
            layout = "act-edge" if fmt is not None else "aloha"
            return [_episode(path, f, "/", layout, "observations", "action", spec, mapping, attrs)]
        raise EpisodeError(f"{path}: not a known episode layout (ALOHA /observations + /action, demo_N/..., "
                           f"data/demo_N/...); the file holds: {_listing(f)}")


def _demos(group: Any) -> list[str]:
    names = [n for n in group.keys() if _DEMO.match(n)]
    return sorted(names, key=lambda n: int(_DEMO.match(n).group(1)))  # type: ignore[union-attr]


def _episode(path: Path, f: Any, group: str, layout: str, obs_key: str, action_key: str, spec: ActSpec,
             mapping: Mapping, attrs: dict[str, Any]) -> Episode:
    h5 = h5py()
    g = f[group]
    name = path.name if group == "/" else f"{path.name}:{group.split('/')[-1]}"
    where = f"{path}" if group == "/" else f"{path}:{group}"
    if obs_key not in g or not isinstance(g[obs_key], h5.Group):
        raise EpisodeError(f"{where}: no '{obs_key}' group; it holds: {_listing(g)}")
    obs = g[obs_key]
    base = f"{g.name.rstrip('/')}/{obs_key}"
    actions = _vector(g, action_key, path, where, spec.action_dim, "action")
    T = actions.shape[0]
    if T < 1:
        raise EpisodeError(f"{where}/{action_key}: the episode has no steps")
    state_keys = (mapping.state or ("qpos",)) if spec.state_dim else ()
    state = _concat(obs, state_keys, path, where, base, spec.state_dim, T, "state", "--state KEY[,KEY...]") \
        if state_keys else np.zeros((T, 0), np.float32)  # a bundle without robot state
    env_keys = None
    env_state = None
    if spec.env_state_dim:
        env_keys = mapping.env_state or ("env_state",)
        env_state = _concat(obs, env_keys, path, where, base, spec.env_state_dim, T, "env_state", "--env-state KEY")
    compressed = bool(attrs.get("compress", False))
    if compressed and jpeg_decoder() is None:
        raise EpisodeError(f"{where}: {NO_DECODER}")
    image_group = obs["images"] if layout in ("aloha", "act-edge") and "images" in obs else obs
    cameras, depth = {}, {}
    for cam in spec.cameras:
        key = mapping.cameras.get(cam.name, cam.name)
        if key not in image_group or not isinstance(image_group[key], h5.Dataset):
            raise EpisodeError(f"{where}: no dataset {key!r} for camera {cam.name!r} in {image_group.name} (map "
                               f"it with --camera {cam.name}=KEY); datasets: {_listing(image_group)}")
        ds = image_group[key]
        _check_frames(ds, compressed, (T, cam.height, cam.width, 3), f"{path}:{ds.name}", cam.name)
        cameras[cam.name] = ds.name
        if cam.channels == 4:
            dgroup = obs.get("depth")
            if dgroup is None or key not in dgroup:
                raise EpisodeError(f"{where}: the bundle's camera {cam.name!r} is RGB-D and the file has no "
                                   f"{base}/depth/{key} (T, H, W) float32 depth")
            d = dgroup[key]
            if d.shape != (T, cam.height, cam.width) or d.dtype.kind != "f":
                raise EpisodeError(f"{path}:{d.name}: expected ({T}, {cam.height}, {cam.width}) float depth, got "
                                   f"{d.shape} {d.dtype}")
            depth[cam.name] = d.name
    return Episode(name=name, path=path, group=group, layout=layout, state=state, actions=actions,
                   env_state=env_state, cameras=cameras, depth=depth, compressed=compressed, attrs=attrs,
                   sources={"cameras": dict(cameras), "state": [f"{base}/{k}" for k in state_keys],
                            "env_state": [f"{base}/{k}" for k in env_keys] if env_keys else None,
                            "depth": dict(depth) or None,
                            "actions": f"{g.name.rstrip('/')}/{action_key}"})


def _check_frames(ds: Any, compressed: bool, want: tuple[int, ...], where: str, cam: str) -> None:
    if ds.dtype != np.uint8:
        raise EpisodeError(f"{where}: camera {cam!r} frames must be uint8, got {ds.dtype}")
    if compressed:
        if ds.ndim != 2 or ds.shape[0] != want[0]:
            raise EpisodeError(f"{where}: compressed frames must be ({want[0]}, BYTES) uint8 JPEG buffers, "
                               f"got {ds.shape}")
        return
    if tuple(ds.shape) != want:
        if ds.ndim == 4 and ds.shape[1] == 3:
            hint = " (channels first: act-edge reads (T, H, W, 3) frames)"
        elif ds.ndim == 4 and tuple(ds.shape[1:3]) != want[1:3]:
            hint = f" (the bundle's camera is {want[1]}x{want[2]}; act-edge does not resize: export for this size)"
        else:
            hint = ""
        raise EpisodeError(f"{where}: camera {cam!r} expected frames {want} (T, H, W, 3), got {tuple(ds.shape)}{hint}")


def _vector(g: Any, key: str, path: Path, where: str, dim: int, what: str) -> np.ndarray:
    """A (T, dim) finite numeric dataset as float32."""
    if key not in g:
        raise EpisodeError(f"{where}: no {key!r} dataset ({what}); it holds: {_listing(g)}")
    return _array(g[key], f"{path}:{g[key].name}", dim, what)


def _array(ds: Any, where: str, dim: int | None, what: str) -> np.ndarray:
    if not hasattr(ds, "dtype") or ds.dtype.kind not in "fiu" or ds.ndim != 2:
        shape = getattr(ds, "shape", "a group")
        raise EpisodeError(f"{where}: {what} must be a (T, {dim if dim else 'N'}) numeric dataset, got {shape} "
                           f"{getattr(ds, 'dtype', '')}".rstrip())
    if dim is not None and ds.shape[1] != dim:
        raise EpisodeError(f"{where}: {what} has {ds.shape[1]} dimensions, the bundle expects {dim}")
    values = np.asarray(ds[()], dtype=np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        t, j = (int(i) for i in bad[0])
        raise EpisodeError(f"{where}: non-finite {what} {values[t, j]} at step {t}, dimension {j}")
    if np.abs(values).max(initial=0.0) > np.finfo(np.float32).max:
        raise EpisodeError(f"{where}: {what} values beyond the float32 range")
    return values.astype(np.float32)


def _concat(obs: Any, keys: tuple[str, ...], path: Path, where: str, base: str, dim: int, T: int, what: str,
            flag: str) -> np.ndarray:
    """The datasets `keys` of the observation group, (T, dim) together, concatenated in order."""
    parts = []
    for key in keys:
        if key not in obs:
            raise EpisodeError(f"{where}: no dataset {key!r} for the {what} in {base} (map it with {flag}); "
                               f"datasets: {_listing(obs)}")
        ds = obs[key]
        parts.append(_array(ds, f"{path}:{ds.name}", None, what))
    for key, part in zip(keys, parts):
        if part.shape[0] != T:
            raise EpisodeError(f"{where}: {base}/{key} has {part.shape[0]} steps, the actions {T}")
    state = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    if state.shape[1] != dim:
        raise EpisodeError(f"{where}: {what} from {', '.join(keys)} has {state.shape[1]} dimensions, the bundle "
                           f"expects {dim}")
    return state


def _listing(group: Any, limit: int = 40) -> str:
    """`name (shape dtype), group/, ...` of a group's direct members (one line)."""
    items = []
    for name in list(group.keys())[:limit]:
        obj = group[name]
        items.append(f"{name} {tuple(obj.shape)} {obj.dtype}" if hasattr(obj, "shape") else f"{name}/")
    more = len(group.keys()) - limit
    return (", ".join(items) or "nothing") + (f", ... ({more} more)" if more > 0 else "")


def _json_attrs(attrs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in attrs.keys():
        try:
            out[key] = _jsonable(attrs[key])
        except Exception:  # an attribute h5py cannot read (exotic type): left out, not fatal
            continue
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None  # NaN coefficient (queue mode): JSON has no NaN
    return v


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
