"""BEHAVIOR-1K il_lib ACT: a Lightning checkpoint (`<run>/ckpt/*.pth`) with `state_dict` + `hyper_parameters`.

RGB-D views through one shared ResNet with a 4-channel conv1; the robot feeds raw frames (uint8 colour
and float32 depth in metres) and the graph does il_lib's eval preprocessing (depth scaling, crop/resize,
normalization). State and actions are min-max normalized with joint ranges that the checkpoint does not
hold: they come from `--stats`. The decoder output is `hs[-1]` in current il_lib, `hs[0]` before
2025-08-30: `decoder_output="last"|"first"`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CheckpointError
from ...spec import ActSpec, CameraSpec, Normalization
from ..checkpoint import LoadedCheckpoint, check_state_dict, check_tensors, default_runtime, to_float32
from ..safe_pickle import load_torch_checkpoint, resolve_interpolations, to_plain
from ._common import (CVAE_REASON, DETR_RULES, NUM_BATCHES_TRACKED, camera_list, camera_sizes, check_min_max,
                      check_shapes, file_hashes, fold_latent, keep_decoder_layers, option_int, read_architecture,
                      read_stats_file, rename, restore_names, stat_vector, torch_zip_pickle)

NAME = "behavior"
DESCRIPTION = "BEHAVIOR-1K il_lib ACT Lightning checkpoint (*.pth with state_dict + hyper_parameters), RGB-D"

DEFAULT_CAMERAS = ["left_wrist", "right_wrist", "head"]
DEFAULT_IMAGE_SIZE = (240, 240)
DEPTH_RANGE = (0.01, 10.0)  # omnigibson MIN_DEPTH, MAX_DEPTH: depth -> (d - 0.01) / (10 - 0.01)
RGBD_MEAN = (0.485, 0.456, 0.406, 0.0)
RGBD_STD = (0.229, 0.224, 0.225, 1.0)
CROP, RESIZE_SHORT = 224, 256
# R1Pro action layout (il_lib action_keys -> widths), used to find the grippers when the stats file
# does not list gripper_indices.
R1PRO_ACTION_WIDTHS = {"base": 3, "torso": 4, "left_arm": 7, "left_gripper": 1, "right_arm": 7, "right_gripper": 1}

RULES = [("obs_backbone._resnet.", "backbone."), *DETR_RULES]
DROPS = [NUM_BATCHES_TRACKED, *((p, CVAE_REASON) for p in ("encoder.", "cls_embed.", "encoder_action_proj.",
                                                          "encoder_prop_proj.", "latent_proj.", "pos_table"))]


def find_checkpoint(path: Path) -> Path | None:
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    for d in (path, path / "ckpt"):
        if (d / "last.pth").is_file():
            return d / "last.pth"
        pths = sorted(d.glob("*.pth"))
        if len(pths) == 1:
            return pths[0]
    return None


def detect(path: Path) -> bool:
    data = torch_zip_pickle(find_checkpoint(path)) or b""
    return b"hyper_parameters" in data and b"obs_backbone._resnet" in data


def load(path: Path, stats: str | None = None, cameras: Any = None, image_size: Any = None, heads: int | None = None,
         decoder_output: str | None = None, temporal_ensemble_coeff: float | None = None,
         n_action_steps: int | None = None, gripper_indices: list[int] | None = None, name: str | None = None,
         **_: Any) -> LoadedCheckpoint:
    path = Path(path)
    ckpt = find_checkpoint(path)
    if ckpt is None:
        raise CheckpointError(f"{path}: no last.pth (or a single *.pth) here or in ckpt/")
    origin = str(ckpt)
    obj = load_torch_checkpoint(ckpt, lightning=True)
    if not isinstance(obj, dict) or "state_dict" not in obj:
        raise CheckpointError(f"{origin}: not a Lightning checkpoint (no 'state_dict' entry)")
    hp = resolve_interpolations(to_plain(obj.get("hyper_parameters") or {}))
    if not isinstance(hp, dict):
        hp = {}
    raw = obj["state_dict"]
    anchor = next((k for k in raw if k.endswith("query_embed.weight")), None)
    if anchor is None:
        raise CheckpointError(f"{origin}: state_dict has no query_embed.weight: not an il_lib ACT checkpoint")
    prefix = anchor[: -len("query_embed.weight")]
    outside = [k for k in raw if not k.startswith(prefix)]
    if outside:
        raise CheckpointError(f"{origin}: keys outside the policy prefix {prefix!r}: {outside[:3]}")
    source = {k[len(prefix):]: v for k, v in raw.items()}
    per_view = sorted({m.group(1) for k in source if (m := re.match(r"obs_backbone\._resnet\.([^.]+)\.conv1\.weight$", k))})
    if per_view:
        raise CheckpointError(f"{origin}: one backbone per view ({', '.join(per_view)}; use_shared_backbone: false) "
                              "is not supported: act-edge runs one shared backbone")
    r = rename(source, RULES, DROPS, origin)
    restore_names(r, {k[len(prefix):]: k for k in raw})
    check_tensors(r.state_dict, origin, r.origin)  # dtype and storage size, before any copy
    fold_latent(r, prefix + "latent_out_proj.weight")
    arch = read_architecture(r.state_dict, origin, r.origin)
    notes: list[str] = []

    # --- hyper-parameters vs weights ---
    for key, got in (("hidden_dim", arch.d_model), ("dim_feedforward", arch.dim_feedforward),
                     ("num_queries", arch.chunk_size), ("prop_dim", arch.state_dim), ("action_dim", arch.action_dim),
                     ("num_encoder_layers", arch.n_encoder_layers), ("num_decoder_layers", arch.n_decoder_layers)):
        if isinstance(hp.get(key), int) and hp[key] != got:
            raise CheckpointError(f"{origin}: hyper_parameters.{key} is {hp[key]} but the weights have {got}")
    if arch.in_channels != 4:
        raise CheckpointError(f"{origin}: {r.origin['backbone.conv1.weight']} takes {arch.in_channels} channels; "
                              "act-edge exports il_lib's RGB-D (4-channel) ACT")
    if arch.n_1d_tokens != 2:
        raise CheckpointError(f"{origin}: additional_pos_embed has {arch.n_1d_tokens} rows, expected 2")

    hp_heads = hp.get("n_heads")
    if hp_heads is not None:
        hp_heads = option_int(hp_heads, f"{origin}: hyper_parameters.n_heads", 1, arch.d_model)
    if heads is not None:
        heads = option_int(heads, "--heads", 1, arch.d_model)
    if heads and hp_heads and heads != hp_heads:
        raise CheckpointError(f"--heads {heads} contradicts hyper_parameters.n_heads {hp_heads}")
    n_heads = hp_heads or heads or 8
    if not hp_heads:
        notes.append(f"n_heads not in hyper_parameters: using {n_heads}")

    if decoder_output is not None and not isinstance(decoder_output, str):
        raise CheckpointError(f"--decoder-output {decoder_output!r}: use 'last' (hs[-1]) or 'first' (hs[0])")
    output = (decoder_output or "last").lower()
    if output not in ("last", "first"):
        raise CheckpointError(f"--decoder-output {decoder_output!r}: use 'last' (hs[-1]) or 'first' (hs[0])")
    n_dec = arch.n_decoder_layers
    if output == "first":
        keep_decoder_layers(r, 1, "dead decoder layers: --decoder-output first takes hs[0] (layer 0 + final norm)")
        n_dec = 1
    notes.append(f"decoder output {'hs[-1]: all ' + str(n_dec) + ' layers' if output == 'last' else 'hs[0]: layer 0'}"
                 f" + final norm (--decoder-output {output}; il_lib before 2025-08-30 used hs[0])")

    backbone_cfg = hp.get("obs_backbone") if isinstance(hp.get("obs_backbone"), dict) else {}
    hp_views = backbone_cfg.get("views") or backbone_cfg.get("camera_names")
    default_cams = [str(v) for v in hp_views] if isinstance(hp_views, list) and hp_views else DEFAULT_CAMERAS
    cams = camera_list(cameras, default_cams)
    if hp_views and len(cams) != len(hp_views):
        raise CheckpointError(f"--cameras lists {len(cams)} cameras but hyper_parameters.obs_backbone.views has "
                              f"{len(hp_views)} ({', '.join(map(str, hp_views))})")
    sizes = camera_sizes(cams, image_size, DEFAULT_IMAGE_SIZE)
    for c, (h, w) in zip(cams, sizes):
        if h < CROP or w < CROP:
            raise CheckpointError(f"camera {c}: {h}x{w} is smaller than il_lib's {CROP}x{CROP} eval crop")
    transform = {"steps": [["center_crop", [CROP, CROP]], ["resize", [RESIZE_SHORT, RESIZE_SHORT]],
                           ["center_crop", [CROP, CROP]]], "output_size": [CROP, CROP]}
    try:
        spec_cams = tuple(CameraSpec(c, h, w, channels=4, mean=RGBD_MEAN, std=RGBD_STD, depth_range=DEPTH_RANGE,
                                     eval_transform=transform) for c, (h, w) in zip(cams, sizes))
    except ValueError as exc:
        raise CheckpointError(f"{origin}: {exc}") from None

    if not stats:
        raise CheckpointError(f"{origin}: il_lib normalizes state and actions with joint ranges that the checkpoint "
                              "does not hold: pass --stats FILE (.json or .npz with state_min, state_max, "
                              "action_min, action_max)")
    ranges = _read_ranges(Path(stats), arch.state_dim, arch.action_dim)
    state_norm, action_norm = range_norms(ranges)

    try:
        spec = ActSpec(
            cameras=spec_cams, state_dim=arch.state_dim, action_dim=arch.action_dim, chunk_size=arch.chunk_size,
            d_model=arch.d_model, n_heads=n_heads, dim_feedforward=arch.dim_feedforward,
            n_encoder_layers=arch.n_encoder_layers, n_decoder_layers=n_dec, pre_norm=arch.pre_norm,
            backbone=arch.backbone, state_norm=state_norm, action_norm=action_norm,
            name=name or (ckpt.parent.parent.name if ckpt.parent.name == "ckpt" else ckpt.parent.name) or "act",
        )
    except ValueError as exc:  # an inconsistent combination (e.g. dilation with resnet18)
        raise CheckpointError(f"{origin}: {exc}") from None
    check_shapes(spec, r, origin)
    check_state_dict(spec, r.state_dict, origin)
    r.state_dict = to_float32(r.state_dict, origin, r.origin)  # sizes checked against the spec first

    coeff = temporal_ensemble_coeff
    if not isinstance(hp.get("temporal_ensemble", True), bool):
        raise CheckpointError(f"{origin}: hyper_parameters.temporal_ensemble is {hp['temporal_ensemble']!r}, "
                              "expected true or false")
    if coeff is None and hp.get("temporal_ensemble", True):
        coeff = 0.01  # il_lib: k = 0.01 when temporal_ensemble is on (the default)
    runtime = default_runtime(spec, coeff, 1 if coeff is not None else n_action_steps)
    grippers = _gripper_indices(gripper_indices, ranges, hp, arch.action_dim, notes)
    if grippers:
        runtime["post_steps"] = [snap_gripper_step(grippers, action_norm)]
    return LoadedCheckpoint(spec=spec, state_dict=r.state_dict, runtime=runtime,
                            source={"format": NAME, "path": str(ckpt), "files": file_hashes(ckpt, Path(stats))},
                            dropped=r.dropped, notes=notes)


def snap_gripper_step(indices: list[int], action_norm: Normalization) -> dict[str, Any]:
    """il_lib snaps gripper actions to +-1 in min-max space: in robot units, to max if the value is
    above the range's midpoint (normalized 0), else to min. See docs/bundle-format.md."""
    lo, hi = np.array(action_norm.min), np.array(action_norm.max)
    return {"op": "snap_gripper", "indices": [int(i) for i in indices],
            "threshold": [float((lo[i] + hi[i]) / 2) for i in indices],
            "low": [float(lo[i]) for i in indices], "high": [float(hi[i]) for i in indices],
            "normalized": {"threshold": 0.0, "values": [-1.0, 1.0]}}


def _gripper_indices(option: Any, ranges: dict, hp: dict, action_dim: int, notes: list[str]) -> list[int]:
    if option is not None:
        idx = _indices(option, "gripper_indices option", action_dim)
        src = "option"
    elif ranges.get("gripper_indices") is not None:
        idx = _indices(ranges["gripper_indices"], f"{ranges['path']}: gripper_indices", action_dim)
        src = "stats file"
    else:
        keys = hp.get("action_keys")
        if isinstance(keys, list) and keys and all(k in R1PRO_ACTION_WIDTHS for k in keys) \
                and sum(R1PRO_ACTION_WIDTHS[k] for k in keys) == action_dim:
            idx, start = [], 0
            for k in keys:
                if "gripper" in k:
                    idx.append(start)
                start += R1PRO_ACTION_WIDTHS[k]
            src = f"hyper_parameters.action_keys with R1Pro widths {R1PRO_ACTION_WIDTHS}"
        else:
            notes.append("gripper indices unknown (no gripper_indices in the stats file, no R1Pro action_keys): "
                         "no snap_gripper post-step recorded")
            return []
    bad = [i for i in idx if not 0 <= i < action_dim]
    if bad:
        raise CheckpointError(f"gripper indices {bad} are outside the action dim {action_dim}")
    notes.append(f"gripper snapping on action dims {idx} (from the {src}): runtime post-step snap_gripper")
    return idx


def _indices(value: Any, what: str, action_dim: int) -> list[int]:
    """A list of distinct integer action indices in 0..action_dim-1 (3.7 or "3" is refused, not truncated)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise CheckpointError(f"{what} must be a flat list of integers, got an array of shape {list(value.shape)}")
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise CheckpointError(f"{what} must be a list of integers, got {value!r}")
    idx = [option_int(i, f"{what}[{n}]", 0, action_dim - 1) for n, i in enumerate(value)]
    if len(set(idx)) != len(idx):
        raise CheckpointError(f"{what} {idx} lists an index twice")
    return idx


def range_norms(ranges: dict[str, Any]) -> tuple[Normalization, Normalization]:
    """(state, action) min-max normalizations from `_read_ranges` output."""
    try:
        return (Normalization("min_max", min=ranges["state_min"], max=ranges["state_max"]),
                Normalization("min_max", min=ranges["action_min"], max=ranges["action_max"]))
    except ValueError as exc:  # finite ranges whose float32 constants overflow
        raise CheckpointError(f"{ranges['path']}: {exc}") from None


def _read_ranges(path: Path, state_dim: int, action_dim: int) -> dict[str, Any]:
    data = read_stats_file(path)
    out: dict[str, Any] = {"gripper_indices": data.get("gripper_indices"), "path": path}
    for key, dim in (("state_min", state_dim), ("state_max", state_dim), ("action_min", action_dim), ("action_max", action_dim)):
        if key not in data:
            raise CheckpointError(f"{path}: no {key!r} (needs state_min, state_max, action_min, action_max)")
        arr = stat_vector(data[key], key, path)
        if arr.size != dim:
            what = "prop_dim (input_proj_robot_state)" if key.startswith("state") else "action_dim (action_head)"
            raise CheckpointError(f"{path}: {key} has {arr.size} values, the weights' {what} is {dim}")
        out[key] = arr
    for kind in ("state", "action"):
        check_min_max(out[f"{kind}_min"], out[f"{kind}_max"], f"{kind}_min", f"{kind}_max", path)
    return out
