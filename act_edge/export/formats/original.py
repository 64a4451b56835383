"""Original ACT (tonyzhaozh/act): `policy_best.ckpt` (bare state dict, `model.` prefix) + `dataset_stats.pkl`.

The weights hold no hyper-parameters. Read from shapes: d_model, FF width, layer counts, chunk size,
state/action dims, backbone depth, pre-norm. Not in the weights (options, defaults = the original's):
heads (8), cameras (`top`, the sim tasks), image size (480x640), dilation (off).
Only decoder layer 0 and the final norm reach the output (the original returns hs[0]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import CheckpointError
from ...spec import ActSpec, CameraSpec, Normalization
from ..checkpoint import LoadedCheckpoint, check_state_dict, check_tensors, default_runtime, to_float32
from ..safe_pickle import load_plain_pickle, load_torch_checkpoint
from ._common import (CVAE_REASON, DETR_RULES, NUM_BATCHES_TRACKED, camera_list, camera_sizes, check_shapes, check_std,
                      file_hashes, fold_latent, keep_decoder_layers, read_architecture, rename, restore_names,
                      option_int, stat_vector, strip_prefix, torch_zip_pickle)

NAME = "original"
DESCRIPTION = "original ACT (tonyzhaozh/act): policy_*.ckpt state dict + dataset_stats.pkl"

DEFAULT_CAMERAS = ["top"]
DEFAULT_IMAGE_SIZE = (480, 640)
DEFAULT_HEADS = 8
STATS_FILE = "dataset_stats.pkl"
MARKER = b"model.backbones.0.0.body."  # stored as plain text in the pickled key names

RULES = [("backbones.0.0.body.", "backbone."), *DETR_RULES]
DROPS = [
    # `model.encoder` is the CVAE encoder in this family (the main one is `model.transformer.encoder`)
    *((p, CVAE_REASON) for p in ("encoder.", "cls_embed.", "encoder_action_proj.", "encoder_joint_proj.",
                                 "latent_proj.", "pos_table")),
    ("is_pad_head.", "is_pad_head (training-only padding classifier, never used at inference)"),
    NUM_BATCHES_TRACKED,
]


def find_checkpoint(path: Path) -> Path | None:
    """The .ckpt to read: the file itself, or policy_best.ckpt / policy_last.ckpt / the only *.ckpt in a directory."""
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    for name in ("policy_best.ckpt", "policy_last.ckpt"):
        if (path / name).is_file():
            return path / name
    ckpts = sorted(path.glob("policy_*.ckpt"))
    return ckpts[0] if len(ckpts) == 1 else None


def detect(path: Path) -> bool:
    return MARKER in (torch_zip_pickle(find_checkpoint(path)) or b"")


def load(path: Path, stats: str | None = None, cameras: Any = None, image_size: Any = None, heads: int | None = None,
         dilation: bool | None = None, temporal_ensemble_coeff: float | None = None,
         n_action_steps: int | None = None, name: str | None = None, **_: Any) -> LoadedCheckpoint:
    path = Path(path)
    ckpt = find_checkpoint(path)
    if ckpt is None:
        raise CheckpointError(f"{path}: no policy_best.ckpt / policy_last.ckpt (or a single policy_*.ckpt) here")
    origin = str(ckpt)
    raw = load_torch_checkpoint(ckpt)
    if not isinstance(raw, dict) or not raw:
        raise CheckpointError(f"{origin}: expected a state dict (torch.save of ACTPolicy.state_dict())")
    outside = [k for k in raw if not str(k).startswith("model.")]
    if outside:
        raise CheckpointError(f"{origin}: keys without the 'model.' prefix ({outside[:3]}): not an original ACT state dict")
    source = strip_prefix(raw, "model.")
    extra_backbones = sorted({k.split(".")[1] for k in source if k.startswith("backbones.") and not k.startswith("backbones.0.")})
    if extra_backbones:
        raise CheckpointError(f"{origin}: {1 + len(extra_backbones)} backbones (model.backbones.0, .{', .'.join(extra_backbones)}): "
                              "one backbone per camera is not supported; the original shares backbones[0]")
    r = rename(source, RULES, DROPS, origin)
    restore_names(r, {k[len("model."):]: k for k in raw})
    check_tensors(r.state_dict, origin, r.origin)  # dtype and storage size, before any copy
    fold_latent(r, "model.latent_out_proj.weight")
    arch = read_architecture(r.state_dict, origin, r.origin)
    n_dec_stored = arch.n_decoder_layers
    keep_decoder_layers(r, 1, "dead decoder layers: the original returns hs[0] (decoder layer 0 + final norm)")
    notes = [f"decoder: {n_dec_stored} layers stored, layer 0 + final norm exported (the original's hs[0])"]

    if arch.n_1d_tokens != 2:
        raise CheckpointError(f"{origin}: model.additional_pos_embed.weight has {arch.n_1d_tokens} rows, expected 2 "
                              "(latent, robot state)")
    if arch.in_channels != 3:
        raise CheckpointError(f"{origin}: model.backbones.0.0.body.conv1.weight takes {arch.in_channels} channels, "
                              "the original ACT reads RGB (3)")

    cams = camera_list(cameras, DEFAULT_CAMERAS)
    sizes = camera_sizes(cams, image_size, DEFAULT_IMAGE_SIZE)
    n_heads = DEFAULT_HEADS if heads is None else option_int(heads, "--heads", 1, arch.d_model)
    if arch.d_model % n_heads:
        raise CheckpointError(f"--heads {n_heads} does not divide d_model {arch.d_model} (read from the weights)")
    notes.append(f"heads not stored in the weights: using {'--heads' if heads is not None else 'the default'} {n_heads}")
    notes.append(f"cameras not stored in the weights: {', '.join(cams)} "
                 f"({'--cameras' if cameras else 'default'}), image size "
                 f"{', '.join(f'{h}x{w}' for h, w in sizes)} ({'--image-size' if image_size else 'default'})")

    stats_path = Path(stats) if stats else ckpt.parent / STATS_FILE
    if not stats_path.is_file():
        raise CheckpointError(f"{origin}: normalization stats not found: no {stats_path}"
                              f"{'' if stats else '; pass --stats PATH/' + STATS_FILE}")
    state_norm, action_norm = _read_stats(stats_path, arch.state_dim, arch.action_dim, r.origin)

    try:
        spec = ActSpec(
            cameras=tuple(CameraSpec(c, h, w) for c, (h, w) in zip(cams, sizes)),
            state_dim=arch.state_dim, action_dim=arch.action_dim, chunk_size=arch.chunk_size,
            d_model=arch.d_model, n_heads=n_heads, dim_feedforward=arch.dim_feedforward,
            n_encoder_layers=arch.n_encoder_layers, n_decoder_layers=1, pre_norm=arch.pre_norm,
            backbone=arch.backbone, dilation=bool(dilation), state_norm=state_norm, action_norm=action_norm,
            name=name or ckpt.parent.name or "act",
        )
    except ValueError as exc:  # an inconsistent combination (e.g. dilation with resnet18)
        raise CheckpointError(f"{origin}: {exc}") from None
    check_shapes(spec, r, origin)
    check_state_dict(spec, r.state_dict, origin)
    r.state_dict = to_float32(r.state_dict, origin, r.origin)  # sizes checked against the spec first
    runtime = default_runtime(spec, temporal_ensemble_coeff, n_action_steps)
    if temporal_ensemble_coeff is None:
        notes.append("temporal ensemble off (the original's default without --temporal_agg); "
                     "set temporal_ensemble_coeff 0.01 for --temporal_agg")
    return LoadedCheckpoint(spec=spec, state_dict=r.state_dict, runtime=runtime,
                            source={"format": NAME, "path": str(ckpt), "files": file_hashes(ckpt, stats_path)},
                            dropped=r.dropped, notes=notes)


def _read_stats(path: Path, state_dim: int, action_dim: int, origin: dict[str, str]) -> tuple[Normalization, Normalization]:
    stats = load_plain_pickle(path)
    if not isinstance(stats, dict):
        raise CheckpointError(f"{path}: expected a dict of numpy arrays, got {type(stats).__name__}")
    need = {"qpos_mean": state_dim, "qpos_std": state_dim, "action_mean": action_dim, "action_std": action_dim}
    what = {"qpos": f"state dim of {origin.get('state_proj.weight')}", "action": f"action dim of {origin.get('action_head.weight')}"}
    values = {}
    for key, dim in need.items():
        if key not in stats:
            raise CheckpointError(f"{path}: no {key!r} (has {sorted(map(str, stats))})")
        arr = stat_vector(stats[key], key, path)
        if arr.size != dim:
            raise CheckpointError(f"{path}: {key} has {arr.size} values, the {what[key.split('_')[0]]} is {dim}")
        if key.endswith("_std"):
            check_std(arr, key, path)
        values[key] = arr
    # (x - mean) / std with the stored std (already clipped >= 1e-2 by the original); eps 0.
    try:
        return (Normalization("mean_std", mean=values["qpos_mean"], std=values["qpos_std"]),
                Normalization("mean_std", mean=values["action_mean"], std=values["action_std"]))
    except ValueError as exc:  # finite stats whose float32 constants overflow
        raise CheckpointError(f"{path}: {exc}") from None
