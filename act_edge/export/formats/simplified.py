"""The "simplified ACT" of widely read course notes: `torch.save(model.state_dict(), path)` of a module
with an MLP CVAE `encoder` (dropped) and a decoder-only `decoder` (obs_proj, z_proj, action_queries,
an nn.TransformerDecoder without final norm, action_head).

Read from the weights: d_model, FF width, decoder layers, chunk, obs dim (the bundle's `state`) and
action dim. Not in the weights (options, defaults = the notes'): heads (4), normalization (none; a
stats file for users who normalized outside the model). z = 0 is folded (the notes sample z at
inference). A pickled module (`torch.save(model)`) is refused before anything is unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CheckpointError
from ...spec import ActSpec, Normalization
from ..checkpoint import LoadedCheckpoint, check_state_dict, check_tensors, default_runtime, to_float32
from ..safe_pickle import load_torch_checkpoint
from ._common import (CVAE_REASON, check_min_max, check_shapes, check_std, file_hashes, layer_indices, option_int,
                      read_stats_file, rename, stat_vector, torch_zip_pickle)

NAME = "simplified"
DESCRIPTION = "simplified ACT of course notes (decoder-only, MLP CVAE): torch.save(model.state_dict())"

DEFAULT_HEADS = 4
# Keys that only this family has (stored as plain text in the pickled key names).
MARKERS = (b"decoder.action_queries", b"decoder.obs_proj.")
MODULE_MARKERS = (b"action_queries", b"obs_proj", b"z_proj")  # attribute names in a pickled module

RULES = [
    ("decoder.obs_proj.", "state_proj."),
    ("decoder.z_proj.bias", "latent_token"),
    ("decoder.action_queries", "action_queries"),
    ("decoder.transformer.layers.", "decoder.layers."),
    ("decoder.action_head.", "action_head."),
]
Z_WEIGHT = "decoder.z_proj.weight"
DROPS = [
    ("encoder.", CVAE_REASON),
    (Z_WEIGHT, "z_proj weight: multiplies z = 0 (act-edge folds z = 0; the z token is decoder.z_proj.bias)"),
]
# Canonical name -> (source key, number of dimensions): what the sizes are read from.
SIZE_KEYS = {
    "action_queries": ("decoder.action_queries", 2),
    "state_proj.weight": ("decoder.obs_proj.weight", 2),
    "action_head.weight": ("decoder.action_head.weight", 2),
    "decoder.layers.0.linear1.weight": ("decoder.transformer.layers.0.linear1.weight", 2),
}


def detect(path: Path) -> bool:
    data = torch_zip_pickle(path) or b""
    if all(m in data for m in MARKERS):
        return True
    return is_pickled_module(data) and all(m in data for m in MODULE_MARKERS)


def pickled_globals(data: bytes) -> list[str]:
    """Globals a pickle would import, read from its opcodes only (pickletools.genops never executes)."""
    import io
    import pickletools

    names, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings = (strings + [arg])[-2:]
            elif op.name in ("GLOBAL", "INST"):
                names.append(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) == 2:
                names.append(".".join(strings))
    except Exception:  # truncated or not a pickle: what was read so far
        pass
    return names


def is_pickled_module(data: bytes) -> bool:
    """A torch.save(model) pickle: it names torch.nn module classes (a state dict names none)."""
    return any(n.startswith("torch.nn.modules.") for n in pickled_globals(data))


def load(path: Path, stats: str | None = None, heads: int | None = None,
         temporal_ensemble_coeff: float | None = None, n_action_steps: int | None = None,
         name: str | None = None, **_: Any) -> LoadedCheckpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: the simplified ACT is one file (torch.save(model.state_dict(), PATH)); "
                              "give its path")
    origin = str(path)
    data = torch_zip_pickle(path) or b""
    if is_pickled_module(data):
        cls = next((n for n in pickled_globals(data) if not n.startswith(("torch.", "collections.", "builtins."))),
                   "a torch.nn.Module")
        raise CheckpointError(f"{origin}: a pickled module ({cls}, saved with torch.save(model)) is not loaded, "
                              "unpickling it would run code: save torch.save(model.state_dict(), PATH) and export that")
    raw = load_torch_checkpoint(path)
    if not isinstance(raw, dict) or not raw or not all(isinstance(k, str) for k in raw):
        raise CheckpointError(f"{origin}: expected a state dict (torch.save(model.state_dict(), PATH)), "
                              f"got {type(raw).__name__}")
    r = rename(raw, RULES, DROPS, origin)
    check_tensors(r.state_dict, origin, r.origin)  # dtype and storage size, before any copy
    if Z_WEIGHT not in raw:  # without it the latent size is unknown: not the notes' layout
        raise CheckpointError(f"{origin}: key {Z_WEIGHT} is missing (the notes' decoder.z_proj Linear(latent -> d_model))")
    sizes = {}
    for key, (src, ndim) in SIZE_KEYS.items():
        if key not in r.state_dict:
            raise CheckpointError(f"{origin}: key {src} is missing")
        shape = list(r.state_dict[key].shape)
        if len(shape) != ndim:
            raise CheckpointError(f"{origin}: key {src} has shape {shape}, expected {ndim} dimensions")
        sizes[key] = shape
    chunk, d_model = sizes["action_queries"]
    obs_dim = sizes["state_proj.weight"][1]
    action_dim = sizes["action_head.weight"][0]
    ff = sizes["decoder.layers.0.linear1.weight"][0]
    n_layers = len(layer_indices(r.state_dict, "decoder.layers."))
    latent = list(raw[Z_WEIGHT].shape)

    n_heads = DEFAULT_HEADS if heads is None else option_int(heads, "--heads", 1, d_model)
    if d_model % n_heads:
        raise CheckpointError(f"--heads {n_heads} does not divide d_model {d_model} "
                              f"(read from decoder.action_queries {[chunk, d_model]})")
    notes = [f"heads not stored in the weights: assuming {n_heads} "
             f"({'--heads' if heads is not None else 'the notes default; --heads N if yours differs'})",
             f"z = 0 folded: the notes sample z ~ N(0, I) at inference, act-edge uses z = 0 (the ACT convention), "
             f"so the z token is decoder.z_proj.bias (latent dim {latent[1] if len(latent) == 2 else latent})",
             f"observation: the notes' flat obs vector ({obs_dim} values) is the bundle's `state` input; no cameras",
             "decoder layers as the notes build them: post-norm (norm_first=False), ReLU, LayerNorm eps 1e-5 "
             "(other layer options leave the same keys and cannot be told from the weights)"]
    state_norm, action_norm = Normalization(), Normalization()
    if stats:
        state_norm, action_norm = read_stats(Path(stats), obs_dim, action_dim)
        notes.append(f"normalization from {Path(stats).name}: state {state_norm.mode}, action {action_norm.mode}")
    else:
        notes.append("normalization: none (the notes train on raw observations and actions; --stats FILE if "
                     "yours were normalized outside the model)")
    try:
        spec = ActSpec(cameras=(), state_dim=obs_dim, action_dim=action_dim, chunk_size=chunk, d_model=d_model,
                       n_heads=n_heads, dim_feedforward=ff, n_encoder_layers=0, n_decoder_layers=max(n_layers, 1),
                       architecture="decoder_only", state_norm=state_norm, action_norm=action_norm,
                       name=name or path.stem or "simplified-act")
    except ValueError as exc:
        raise CheckpointError(f"{origin}: {exc}") from None
    check_shapes(spec, r, origin)  # names the source key and both shapes
    try:
        check_state_dict(spec, r.state_dict, origin)
    except CheckpointError as exc:  # missing/unexpected keys in canonical names: name the notes' keys
        missing = sorted(set(_canonical(spec)) - set(r.state_dict))
        if missing:
            raise CheckpointError(f"{origin}: key {_source_name(missing[0])} is missing"
                                  f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}") from None
        raise exc from None
    r.state_dict = to_float32(r.state_dict, origin, r.origin)
    coeff = 0.01 if temporal_ensemble_coeff is None else temporal_ensemble_coeff
    runtime = default_runtime(spec, coeff, n_action_steps)
    notes.append(f"runtime default: temporal ensemble k = {coeff:g} (the notes' ensemble loop); "
                 "Policy.load(..., temporal_ensemble_coeff=None) runs their chunk-queue loop")
    return LoadedCheckpoint(spec=spec, state_dict=r.state_dict, runtime=runtime,
                            source={"format": NAME, "path": str(path),
                                    "files": file_hashes(path, Path(stats) if stats else None)},
                            dropped=r.dropped, notes=notes)


def _canonical(spec: ActSpec) -> dict[str, tuple[int, ...]]:
    from ..model import canonical_shapes

    return canonical_shapes(spec)


def _source_name(canonical: str) -> str:
    """The notes' key for a canonical name (inverse of RULES)."""
    for src, dst in RULES:
        if canonical == dst or (dst.endswith(".") and canonical.startswith(dst)):
            return src + canonical[len(dst):]
    return canonical


# --- optional normalization stats ------------------------------------------------------------------

STATS_KEYS = {"mean_std": ("mean", "std"), "min_max": ("min", "max")}


def read_stats(path: Path, obs_dim: int, action_dim: int) -> tuple[Normalization, Normalization]:
    """(state, action) normalization from a .json / .npz / .pkl mapping with, per kind (state, action),
    `<kind>_mean` + `<kind>_std` ((x - mean) / std) or `<kind>_min` + `<kind>_max` (to [-1, 1]); a kind
    with neither is not normalized."""
    data = read_stats_file(path)
    out = []
    for kind, dim in (("state", obs_dim), ("action", action_dim)):
        modes = [m for m, keys in STATS_KEYS.items() if any(f"{kind}_{k}" in data for k in keys)]
        if len(modes) > 1:
            raise CheckpointError(f"{path}: {kind} has both mean/std and min/max entries: keep one")
        if not modes:
            out.append(Normalization())
            continue
        mode = modes[0]
        values = {}
        for k in STATS_KEYS[mode]:
            key = f"{kind}_{k}"
            if key not in data:
                raise CheckpointError(f"{path}: no {key!r} (has {sorted(map(str, data))})")
            arr = stat_vector(data[key], key, path)
            if arr.size != dim:
                src = "decoder.obs_proj.weight" if kind == "state" else "decoder.action_head.weight"
                raise CheckpointError(f"{path}: {key} has {arr.size} values, the {kind} dim of {src} is {dim}")
            values[k] = arr
        if mode == "mean_std":
            check_std(values["std"], f"{kind}_std", path)
        else:
            check_min_max(values["min"], values["max"], f"{kind}_min", f"{kind}_max", path)
        try:
            out.append(Normalization(mode, **values))
        except ValueError as exc:  # finite stats whose float32 constants overflow
            raise CheckpointError(f"{path}: {exc}") from None
    if all(n.mode == "identity" for n in out):
        raise CheckpointError(f"{path}: no state_mean/state_std, state_min/state_max, action_mean/action_std or "
                              "action_min/action_max entries")
    return out[0], out[1]


