"""Helpers shared by the family loaders: renaming to canonical names, reading the architecture
from weight shapes, option parsing, and file hashes."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from ...bundle import sha256_file
from ...errors import CheckpointError
from ..safe_pickle import load_plain_pickle
from ...spec import BACKBONES, MAX_IMAGE_SIDE, check_int, check_ordered, check_positive, check_real, real_vector


@dataclass
class Renamed:
    """Canonical weights plus what was left out, grouped by reason."""

    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)  # canonical name -> source key

    def drop(self, reason: str, keys: Iterable[str]) -> None:
        keys = sorted(keys)
        if not keys:
            return
        for group in self.dropped:
            if group["reason"] == reason:
                group["keys"] = sorted(set(group["keys"]) | set(keys))
                return
        self.dropped.append({"reason": reason, "keys": keys})



CVAE_REASON = "CVAE encoder (training only; z = 0 at inference)"
NUM_BATCHES_TRACKED = ("re:.*num_batches_tracked", "BatchNorm num_batches_tracked (counter, no effect in eval)")
# DETR-derived names shared by the original ACT and BEHAVIOR il_lib (after their backbone prefix).
DETR_RULES = [
    ("input_proj_robot_state.", "state_proj."),
    ("input_proj.", "img_proj."),
    ("latent_out_proj.", "latent_token."),
    ("additional_pos_embed.weight", "pos_1d"),
    ("query_embed.weight", "query_pos"),
    ("transformer.encoder.", "encoder."),
    ("transformer.decoder.", "decoder."),
    ("action_head.", "action_head."),
]


def rename(source: dict[str, torch.Tensor], rules: list[tuple[str, str]], drops: list[tuple[str, str]],
           origin: str) -> Renamed:
    """Map source keys to canonical names.

    rules: (source prefix or regex `re:...`, canonical replacement), first match wins.
    drops: (source prefix or regex `re:...`, reason): keys left out on purpose, reported.
    Keys matching neither are an error (an unknown variant must not be exported silently).
    """
    out, unknown = Renamed(), []
    grouped: dict[str, list[str]] = {}
    for key, value in source.items():
        reason = next((r for pat, r in drops if _match(pat, key)), None)
        if reason is not None:
            grouped.setdefault(reason, []).append(key)
            continue
        for pat, repl in rules:
            new = _sub(pat, repl, key)
            if new is not None:
                if new in out.state_dict:
                    raise CheckpointError(f"{origin}: keys {out.origin[new]} and {key} both map to {new}")
                out.state_dict[new] = value
                out.origin[new] = key
                break
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(sorted(unknown)[:6])
        raise CheckpointError(f"{origin}: unrecognised weight keys [{shown}{', ...' if len(unknown) > 6 else ''}] "
                              f"({len(unknown)}): not an ACT layout this loader knows")
    for reason, keys in grouped.items():
        out.drop(reason, keys)
    return out


def _match(pattern: str, key: str) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], key) is not None
    return key == pattern or key.startswith(pattern)


def _sub(pattern: str, repl: str, key: str) -> str | None:
    if pattern.startswith("re:"):
        m = re.fullmatch(pattern[3:], key)
        return m.expand(repl) if m else None
    if key == pattern:
        return repl
    if pattern.endswith(".") and key.startswith(pattern):
        return repl + key[len(pattern):]
    return None


def restore_names(r: Renamed, back: dict[str, str]) -> None:
    """Report source keys as they are on disk (before a prefix was stripped)."""
    r.origin = {k: back.get(v, v) for k, v in r.origin.items()}
    r.dropped = [{**g, "keys": sorted(back.get(k, k) for k in g["keys"])} for g in r.dropped]


def fold_latent(r: Renamed, weight_key: str, reason: str = "latent projection weight: multiplies z = 0") -> None:
    """latent_out_proj(z = 0) is its bias: keep the bias as `latent_token`, report the weight."""
    if "latent_token.weight" in r.state_dict:
        del r.state_dict["latent_token.weight"]
        r.origin.pop("latent_token.weight")
        r.drop(reason, [weight_key])
    if "latent_token.bias" in r.state_dict:
        r.state_dict["latent_token"] = r.state_dict.pop("latent_token.bias")
        r.origin["latent_token"] = r.origin.pop("latent_token.bias")


@dataclass
class Architecture:
    """What the canonical weights say about the model."""

    d_model: int
    dim_feedforward: int
    n_encoder_layers: int
    n_decoder_layers: int
    pre_norm: bool
    chunk_size: int
    state_dim: int
    action_dim: int
    env_state_dim: int
    backbone: str | None  # None: no backbone weights (a camera-less LeRobot ACT)
    in_channels: int  # 0 without a backbone
    backbone_channels: int  # 0 without a backbone
    n_1d_tokens: int


def layer_indices(sd: dict[str, Any], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def read_architecture(sd: dict[str, torch.Tensor], origin: str, names: dict[str, str] | None = None,
                      camera_less_ok: bool = False) -> Architecture:
    """Architecture from canonical weight shapes. `names` maps canonical -> source key for messages.
    `camera_less_ok` (LeRobot): weights with no backbone and no image projection are a camera-less model
    (backbone None), and the robot-state projection may be absent (state_dim 0)."""
    names = names or {}

    ndim = {"action_head.weight": 2, "encoder.layers.0.linear1.weight": 2, "query_pos": 2, "state_proj.weight": 2,
            "env_state_proj.weight": 2, "backbone.conv1.weight": 4, "img_proj.weight": 4, "pos_1d": 2}

    def need(key: str) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(f"{origin}: weight {names.get(key, key)} is missing")
        if sd[key].dim() != ndim[key]:  # the sizes below index these dimensions
            raise CheckpointError(f"{origin}: weight {names.get(key, key)} has shape {list(sd[key].shape)}, "
                                  f"expected {ndim[key]} dimensions")
        return sd[key]

    d = need("action_head.weight").shape[1]
    ff = need("encoder.layers.0.linear1.weight").shape[0]
    enc = layer_indices(sd, "encoder.layers.")
    dec = layer_indices(sd, "decoder.layers.")
    if not dec:
        raise CheckpointError(f"{origin}: no decoder layers in the weights")
    optional_state = camera_less_ok and "state_proj.weight" not in sd
    state_dim = 0 if optional_state else need("state_proj.weight").shape[1]
    if camera_less_ok and not any(k.startswith(("backbone.", "img_proj.")) for k in sd):
        return Architecture(
            d_model=d, dim_feedforward=ff, n_encoder_layers=len(enc), n_decoder_layers=len(dec),
            pre_norm="encoder.norm.weight" in sd, chunk_size=need("query_pos").shape[0], state_dim=state_dim,
            action_dim=need("action_head.weight").shape[0],
            env_state_dim=need("env_state_proj.weight").shape[1] if "env_state_proj.weight" in sd else 0,
            backbone=None, in_channels=0, backbone_channels=0, n_1d_tokens=need("pos_1d").shape[0],
        )
    stages = []
    for i in range(1, 5):
        stages.append(len(layer_indices(sd, f"backbone.layer{i}.")))
    bottleneck = "backbone.layer1.0.conv3.weight" in sd
    backbone = next((n for n, (kind, blocks, _) in BACKBONES.items()
                     if tuple(stages) == blocks and (kind == "bottleneck") == bottleneck), None)
    if backbone is None:
        raise CheckpointError(f"{origin}: backbone with {stages} blocks per stage"
                              f"{' (bottleneck)' if bottleneck else ''} is not resnet18/34/50")
    conv1 = need("backbone.conv1.weight")
    proj = need("img_proj.weight")
    return Architecture(
        d_model=d, dim_feedforward=ff, n_encoder_layers=len(enc), n_decoder_layers=len(dec),
        pre_norm="encoder.norm.weight" in sd, chunk_size=need("query_pos").shape[0],
        state_dim=state_dim, action_dim=need("action_head.weight").shape[0],
        env_state_dim=need("env_state_proj.weight").shape[1] if "env_state_proj.weight" in sd else 0,
        backbone=backbone, in_channels=conv1.shape[1], backbone_channels=proj.shape[1],
        n_1d_tokens=need("pos_1d").shape[0],
    )


def check_shapes(spec: Any, r: Renamed, origin: str) -> None:
    """Name the source tensor and both shapes on the first mismatch with the spec's canonical shapes."""
    from ..model import canonical_shapes

    for name, want in canonical_shapes(spec).items():
        if name in r.state_dict and tuple(r.state_dict[name].shape) != tuple(want):
            raise CheckpointError(f"{origin}: tensor {r.origin.get(name, name)} has shape "
                                  f"{list(r.state_dict[name].shape)}, expected {list(want)} ({name} of the spec "
                                  "read from the other weights/config)")


def keep_decoder_layers(r: Renamed, used: int, reason: str) -> None:
    """Drop decoder layers >= `used` (they do not reach the output)."""
    dead = [k for k in r.state_dict if (m := re.match(r"decoder\.layers\.(\d+)\.", k)) and int(m.group(1)) >= used]
    r.drop(reason, [r.origin[k] for k in dead])
    for k in dead:
        del r.state_dict[k]
        del r.origin[k]


def strip_prefix(sd: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}


# --- normalization stats (every family, every file) ------------------------------------------------

def stat_vector(value: Any, what: str, origin: Any, size: int | None = None) -> np.ndarray:
    """A stats entry as float64 (flattened): numbers only, every value finite, `size` values if given."""
    try:
        vals = real_vector(value, what)
    except ValueError as exc:
        raise CheckpointError(f"{origin}: {exc}") from None
    if size is not None and len(vals) != size:
        raise CheckpointError(f"{origin}: {what} has {len(vals)} values, expected {size}")
    return np.array(vals, dtype=np.float64)


def check_std(std: np.ndarray, what: str, origin: Any, eps: float = 0.0) -> None:
    """Every std > 0 (a zero std divides by zero; a negative one flips the sign), naming the index;
    0 is accepted where the normalization divides by std + eps with eps > 0 (LeRobot)."""
    try:
        check_positive(tuple(float(v) for v in std), what, eps)
    except ValueError as exc:
        raise CheckpointError(f"{origin}: {exc}") from None


def check_min_max(lo: np.ndarray, hi: np.ndarray, what_lo: str, what_hi: str, origin: Any,
                  eps: float = 0.0) -> None:
    """min < max at every index (min-max normalization divides by max - min; min == max accepted with
    eps > 0, which LeRobot adds), naming the index."""
    try:
        check_ordered(tuple(map(float, lo)), tuple(map(float, hi)), what_lo, what_hi, eps)
    except ValueError as exc:
        raise CheckpointError(f"{origin}: {exc}") from None


def option_int(value: Any, what: str, lo: int, hi: int) -> int:
    """A loader option / config value that must be an integer in lo..hi (no float or string coercion)."""
    try:
        return check_int(value, what, lo, hi)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None


def option_real(value: Any, what: str, lo: float) -> float:
    try:
        return check_real(value, what, lo)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None


def file_hashes(*paths: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in paths if p is not None and p.is_file()}


# --- option parsing (shared by the CLI helpers and the loaders) ---------------------------------

def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m or not all(1 <= int(v) <= MAX_IMAGE_SIDE for v in m.groups()):
        raise CheckpointError(f"image size {text!r} is not HxW with sides in 1..{MAX_IMAGE_SIDE} (e.g. 480x640)")
    return int(m.group(1)), int(m.group(2))


def camera_sizes(cameras: list[str], image_size: Any, default: tuple[int, int]) -> list[tuple[int, int]]:
    """Per-camera (H, W) from an option that is None, one size, a list (one per camera) or a dict."""
    if image_size is None:
        return [default] * len(cameras)
    if isinstance(image_size, str):
        image_size = [parse_size(s) for s in image_size.split(",")]
    if isinstance(image_size, dict):
        missing = [c for c in cameras if c not in image_size]
        if missing:
            raise CheckpointError(f"--image-size gives no size for cameras {missing}")
        return [_size(image_size[c]) for c in cameras]
    if isinstance(image_size, (tuple, list)) and len(image_size) == 2 and not any(
            isinstance(v, (str, list, tuple)) for v in image_size):
        return [_size(image_size)] * len(cameras)
    if not isinstance(image_size, (tuple, list)):
        raise CheckpointError(f"--image-size {image_size!r}: give HxW, (H, W) or one per camera")
    sizes = [_size(v) for v in image_size]
    if len(sizes) == 1:
        return sizes * len(cameras)
    if len(sizes) != len(cameras):
        raise CheckpointError(f"--image-size lists {len(sizes)} sizes for {len(cameras)} cameras "
                              f"({', '.join(cameras)}): give one size, or one per camera")
    return sizes


def _size(value: Any) -> tuple[int, int]:
    """"HxW" or (H, W) of integers in 1..MAX_IMAGE_SIDE."""
    if isinstance(value, str):
        return parse_size(value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckpointError(f"image size {value!r} is not HxW or (H, W)")
    return (option_int(value[0], f"image size {list(value)}: height", 1, MAX_IMAGE_SIDE),
            option_int(value[1], f"image size {list(value)}: width", 1, MAX_IMAGE_SIDE))


def camera_list(value: Any, default: list[str]) -> list[str]:
    if value is None:
        return list(default)
    names = [c.strip() for c in value.split(",")] if isinstance(value, str) else [str(c) for c in value]
    if not names or any(not n for n in names):
        raise CheckpointError(f"--cameras {value!r}: give comma-separated non-empty names")
    if len(set(names)) != len(names):
        raise CheckpointError(f"--cameras {value!r}: camera names must be unique")
    return names


def torch_zip_pickle(path: Path | None) -> bytes | None:
    """The `data.pkl` bytes of a torch.save zip file (for cheap format detection), else None."""
    if path is None or not path.is_file() or not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = next((n for n in zf.namelist() if n.endswith("/data.pkl")), None)
            return zf.read(pkl) if pkl else None
    except (OSError, zipfile.BadZipFile):
        return None


def read_stats_file(path: Path) -> dict[str, Any]:
    """A stats file given with --stats: .json, .npz (no pickles inside) or .pkl (restricted unpickler),
    holding a mapping of names to arrays. One-line CheckpointError naming the file otherwise."""
    if not path.is_file():
        raise CheckpointError(f"{path}: stats file not found")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path}: not valid JSON ({' '.join(str(exc).split())[:200]})") from None
    elif path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable .npz ({str(exc).splitlines()[0][:200]})") from None
    elif path.suffix in (".pkl", ".pickle"):
        data = load_plain_pickle(path)
    else:
        raise CheckpointError(f"{path}: stats must be .json, .npz or .pkl")
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a mapping of arrays, got {type(data).__name__}")
    return data
