"""LeRobot ACT: a `pretrained_model` directory (config.json + model.safetensors + normalization).

v0.4+: stats in the processor files named by `policy_preprocessor.json` / `policy_postprocessor.json`
(flat `<feature>.<stat>` keys). Up to v0.3 (legacy): stats inside model.safetensors as
`normalize_inputs.buffer_<feature, dots as underscores>.<stat>` etc., and configs before Jan 2025 use
`input_shapes` / `input_normalization_modes`; before Jul 2024 the 1-D position embedding was
`encoder_robot_and_latent_pos_embed`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CheckpointError
from ...spec import (BACKBONES, MAX_CHUNK, MAX_D_MODEL, MAX_FEEDFORWARD, MAX_IMAGE_SIDE, MAX_LAYERS, MAX_VECTOR_DIM,
                     ActSpec, CameraSpec, Normalization)
from ..checkpoint import (LoadedCheckpoint, check_runtime, check_state_dict, check_tensors, default_runtime,
                          to_float32)
from ._common import (CVAE_REASON, NUM_BATCHES_TRACKED, camera_list, check_min_max, check_shapes, check_std,
                      file_hashes, fold_latent, option_int, option_real, read_architecture, rename, restore_names,
                      stat_vector)

NAME = "lerobot"
DESCRIPTION = "LeRobot ACT pretrained_model directory (config.json + model.safetensors [+ processor files])"
EPS = 1e-8  # LeRobot's normalization eps (MEAN_STD: std + eps; MIN_MAX: max - min + eps)

RULES = [
    ("backbone.", "backbone."),
    ("encoder.", "encoder."),
    ("decoder.", "decoder."),
    ("encoder_robot_state_input_proj.", "state_proj."),
    ("encoder_env_state_input_proj.", "env_state_proj."),
    ("encoder_latent_input_proj.", "latent_token."),
    ("encoder_img_feat_input_proj.", "img_proj."),
    ("encoder_1d_feature_pos_embed.weight", "pos_1d"),
    ("encoder_robot_and_latent_pos_embed.weight", "pos_1d"),  # before Jul 2024
    ("decoder_pos_embed.weight", "query_pos"),
    ("action_head.", "action_head."),
]
NORM_BUFFERS = "normalization buffers (read as stats into the graph's pre/post-processing)"
DROPS = [
    ("vae_encoder", CVAE_REASON),
    *((p, NORM_BUFFERS) for p in ("normalize_inputs.", "normalize_targets.", "unnormalize_outputs.")),
    NUM_BATCHES_TRACKED,
]
TYPES = ("VISUAL", "STATE", "ENV", "ACTION")
# config.json integers checked against the weights: (key, lo, hi)
CONFIG_INTS = (("dim_model", 1, MAX_D_MODEL), ("dim_feedforward", 1, MAX_FEEDFORWARD),
               ("n_encoder_layers", 1, MAX_LAYERS), ("n_decoder_layers", 1, MAX_LAYERS), ("chunk_size", 1, MAX_CHUNK))
_ABSENT = object()


def find_dir(path: Path) -> Path | None:
    """The pretrained_model directory for `path` (itself, a file in it, or a parent holding one)."""
    if path.is_file():
        path = path.parent
    for cand in (path, path / "pretrained_model"):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            return cand
    return None


def detect(path: Path) -> bool:
    d = find_dir(path)
    if d is None:
        return False
    try:
        cfg = json.loads((d / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and (cfg.get("type") == "act" or {"dim_model", "chunk_size", "n_decoder_layers"} <= set(cfg))


def load(path: Path, cameras: Any = None, temporal_ensemble_coeff: float | None = None,
         n_action_steps: int | None = None, name: str | None = None, **_: Any) -> LoadedCheckpoint:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    d = find_dir(path)
    if d is None:
        raise CheckpointError(f"{path}: no LeRobot pretrained_model here (config.json + model.safetensors)")
    cfg_path, weights_path = d / "config.json", d / "model.safetensors"
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError as exc:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{cfg_path}: expected a JSON object, got {type(cfg).__name__}")
    if cfg.get("type", "act") != "act":
        raise CheckpointError(f"{cfg_path}: policy type {cfg.get('type')!r}, not 'act'")
    config = _Config(cfg, cfg_path)
    config.validate()  # every typed key, before the weights are read
    features, modes = _features(cfg, cfg_path)
    try:
        raw = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights_path}: not a readable safetensors file ({str(exc).splitlines()[0][:200]})") from None
    origin = str(weights_path)
    prefix = "model." if any(k.startswith("model.") for k in raw) else ""
    legacy_stats = {k: v for k, v in raw.items() if k.split(".")[0] in ("normalize_inputs", "normalize_targets", "unnormalize_outputs")}
    model_keys = {k: v for k, v in raw.items() if k not in legacy_stats}
    if prefix and any(not k.startswith(prefix) for k in model_keys):
        bad = [k for k in model_keys if not k.startswith(prefix)][:3]
        raise CheckpointError(f"{origin}: keys outside 'model.' ({bad})")
    back = {k[len(prefix):]: k for k in model_keys}
    source = {**{k[len(prefix):]: v for k, v in model_keys.items()}, **legacy_stats}
    r = rename(source, RULES, DROPS, origin)
    restore_names(r, back)
    check_tensors(r.state_dict, origin, r.origin)  # dtype and storage size, before any copy
    fold_latent(r, prefix + "encoder_latent_input_proj.weight")
    arch = read_architecture(r.state_dict, origin, r.origin, camera_less_ok=True)
    notes: list[str] = []

    # --- config vs weights ---
    cfg_dims = {"dim_model": arch.d_model, "dim_feedforward": arch.dim_feedforward,
                "n_encoder_layers": arch.n_encoder_layers, "n_decoder_layers": arch.n_decoder_layers,
                "chunk_size": arch.chunk_size}
    for key, lo, hi in CONFIG_INTS:
        value = config.int(key, lo, hi)
        if value is not None and value != cfg_dims[key]:
            raise CheckpointError(f"{cfg_path}: {key} is {value} but the weights have {cfg_dims[key]}")
    pre_norm = config.bool("pre_norm", arch.pre_norm)
    if pre_norm != arch.pre_norm:
        raise CheckpointError(f"{cfg_path}: pre_norm is {cfg['pre_norm']} but the weights "
                              f"{'have' if arch.pre_norm else 'lack'} model.encoder.norm")
    visual = [k for k, (t, _) in features.items() if t == "VISUAL"]
    state = [k for k, (t, _) in features.items() if t == "STATE"]
    env = [k for k, (t, _) in features.items() if t == "ENV"]
    action = [k for k, (t, _) in features.items() if t == "ACTION"]
    if not visual and not env:  # LeRobot's own rule: an image or the environment state is required
        raise CheckpointError(f"{cfg_path}: no VISUAL and no ENV input feature; ACT needs images or "
                              "observation.environment_state")
    if len(state) > 1 or len(env) > 1 or len(action) != 1:
        raise CheckpointError(f"{cfg_path}: expected at most one STATE and one ENV feature and exactly one ACTION "
                              f"feature, got {state} / {env} / {action}")
    if bool(visual) != (arch.backbone is not None):
        raise CheckpointError(
            f"{cfg_path}: {len(visual)} image feature(s) but the weights have "
            f"{'a backbone' if arch.backbone else 'no backbone (model.backbone.*) and no image projection'}")
    # vision_backbone is in every config (LeRobot's default resnet18), also camera-less ones: unused there.
    backbone = config.str("vision_backbone", arch.backbone or "resnet18")
    if backbone not in BACKBONES:
        raise CheckpointError(f"{cfg_path}: vision_backbone {backbone!r} is not one of {sorted(BACKBONES)}")
    if visual and backbone != arch.backbone:
        raise CheckpointError(f"{cfg_path}: vision_backbone is {backbone} but the weights are a {arch.backbone}")
    names = [_camera_name(k) for k in visual]
    if cameras is not None:
        given = camera_list(cameras, names)
        if len(given) != len(visual):
            raise CheckpointError(f"--cameras lists {len(given)} cameras but {cfg_path.name} has {len(visual)} "
                                  f"image features ({', '.join(visual)})")
        names = given

    norm_maps: dict[str, dict[str, str]] = {}
    stats, post_stats, stats_files, norm_eps = _stats(d, raw, features, norm_maps)
    # v0.4+: the processor steps' norm_map is what LeRobot applies; it wins over config.json
    for key, (t, _) in features.items():
        m = norm_maps.get("post" if t == "ACTION" else "pre")
        if m is not None:
            modes[key] = m.get(t, "IDENTITY")
            if modes[key] not in ("MEAN_STD", "MIN_MAX", "IDENTITY"):
                raise CheckpointError(f"{d}: normalization mode {modes[key]!r} for {key} is not MEAN_STD/MIN_MAX/IDENTITY")

    def vec_norm(key: str, mode: str) -> Normalization:
        if mode == "IDENTITY":
            return Normalization()
        need = ("mean", "std") if mode == "MEAN_STD" else ("min", "max")
        src = post_stats if features[key][0] == "ACTION" else stats
        vals = [_stat(src, key, s, features[key][1], stats_files, norm_eps) for s in need]
        if mode == "MIN_MAX":
            check_min_max(*vals, f"{key}.min", f"{key}.max", _where(stats_files), norm_eps)
        return Normalization(mode.lower(), **dict(zip(need, vals)), eps=norm_eps)

    cams = []
    for key, cam_name in zip(visual, names):
        shape = features[key][1]
        if len(shape) != 3 or shape[0] != 3:
            raise CheckpointError(f"{cfg_path}: image feature {key} has shape {shape}, expected [3, H, W]")
        mode = modes[key]
        if mode == "IDENTITY":
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        elif mode == "MEAN_STD":
            mean = _stat(stats, key, "mean", [3], stats_files)
            std = _stat(stats, key, "std", [3], stats_files, norm_eps) + norm_eps
        else:  # MIN_MAX: (x - min) / (max - min + eps) * 2 - 1 == (x - (min + r/2)) / (r/2), r = max - min + eps
            lo = _stat(stats, key, "min", [3], stats_files)
            hi = _stat(stats, key, "max", [3], stats_files)
            check_min_max(lo, hi, f"{key}.min", f"{key}.max", _where(stats_files), norm_eps)
            span = hi - lo + norm_eps
            mean, std = lo + span / 2, span / 2
        try:
            cams.append(CameraSpec(cam_name, shape[1], shape[2], mean=tuple(mean), std=tuple(std)))
        except ValueError as exc:
            raise CheckpointError(f"{cfg_path}: image feature {key}: {exc}") from None

    state_dim = int(np.prod(features[state[0]][1])) if state else 0
    if state_dim != arch.state_dim:
        if not arch.state_dim or not state:
            raise CheckpointError(f"{cfg_path}: {state[0] if state else 'no STATE feature'} but the weights "
                                  f"{'have' if arch.state_dim else 'lack'} the robot-state projection "
                                  "(model.encoder_robot_state_input_proj)")
        raise CheckpointError(f"{cfg_path}: {state[0]} has {state_dim} values but {r.origin['state_proj.weight']} "
                              f"has shape {list(r.state_dict['state_proj.weight'].shape)}")
    env_dim = int(np.prod(features[env[0]][1])) if env else 0
    if env_dim != arch.env_state_dim:
        raise CheckpointError(f"{cfg_path}: ENV feature dim {env_dim} but the weights' env-state projection takes "
                              f"{arch.env_state_dim}")
    try:
        spec = ActSpec(
            cameras=tuple(cams), state_dim=state_dim, action_dim=int(np.prod(features[action[0]][1])),
            chunk_size=arch.chunk_size, env_state_dim=env_dim, d_model=arch.d_model,
            n_heads=config.int("n_heads", 1, arch.d_model, 8), dim_feedforward=arch.dim_feedforward,
            activation=config.str("feedforward_activation", "relu"), n_encoder_layers=arch.n_encoder_layers,
            n_decoder_layers=arch.n_decoder_layers, pre_norm=arch.pre_norm, backbone=backbone,
            dilation=config.bool("replace_final_stride_with_dilation", False) and bool(visual),
            state_norm=vec_norm(state[0], modes[state[0]]) if state else Normalization(),
            env_state_norm=vec_norm(env[0], modes[env[0]]) if env else Normalization(),
            action_norm=vec_norm(action[0], modes[action[0]]),
            name=name or (d.parent.name if d.name == "pretrained_model" else d.name) or "act",
        )
    except ValueError as exc:  # an inconsistent combination (e.g. dilation with resnet18)
        raise CheckpointError(f"{origin}: {exc}") from None
    check_shapes(spec, r, origin)
    check_state_dict(spec, r.state_dict, origin)
    r.state_dict = to_float32(r.state_dict, origin, r.origin)  # sizes checked against the spec first
    cfg_coeff = config.real("temporal_ensemble_coeff", None)
    cfg_steps = config.int("n_action_steps", 1, spec.chunk_size)
    if temporal_ensemble_coeff is not None:
        temporal_ensemble_coeff = option_real(temporal_ensemble_coeff, "temporal_ensemble_coeff", -float("inf"))
    if n_action_steps is not None:
        n_action_steps = option_int(n_action_steps, "n_action_steps", 1, spec.chunk_size)
    coeff = cfg_coeff if temporal_ensemble_coeff is None else temporal_ensemble_coeff
    steps = n_action_steps or cfg_steps or spec.chunk_size
    if coeff is not None:
        steps = 1  # LeRobot requires n_action_steps == 1 with temporal ensembling
    runtime = default_runtime(spec, coeff, steps)
    check_runtime(spec, runtime, f"{cfg_path}: temporal_ensemble_coeff / n_action_steps")
    notes.append(f"normalization: {', '.join(f'{k} {modes[k]}' for k in features)} (eps {norm_eps:g}); "
                 f"stats from {', '.join(sorted(stats_files))}")
    if not visual:
        notes.append(f"no cameras: inputs {' + '.join(state + env)} only (no backbone; encoder tokens latent"
                     f"{', state' if state else ''}, env state)")
    if config.bool("use_vae", True):
        notes.append("use_vae: CVAE encoder dropped, latent z = 0 (LeRobot's inference behaviour)")
    return LoadedCheckpoint(spec=spec, state_dict=r.state_dict, runtime=runtime,
                            source={"format": NAME, "path": str(d),
                                    "files": file_hashes(cfg_path, weights_path, d / "policy_preprocessor.json",
                                                                d / "policy_postprocessor.json",
                                                                *[d / f for f in stats_files if f != weights_path.name])},
                            dropped=r.dropped, notes=notes)


def _camera_name(key: str) -> str:
    for prefix in ("observation.images.", "observation."):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _features(cfg: dict, cfg_path: Path) -> tuple[dict[str, tuple[str, list[int]]], dict[str, str]]:
    """{feature: (TYPE, shape)} in config order and {feature: MODE}, from new or pre-2025 config keys."""
    feats: dict[str, tuple[str, list[int]]] = {}
    modes: dict[str, str] = {}
    if "input_features" in cfg or "output_features" in cfg:
        mapping = {k.upper(): v.upper() for k, v in _str_map(cfg, "normalization_mapping", cfg_path).items()}
        for group in ("input_features", "output_features"):
            for key, ft in _mapping(cfg, group, cfg_path).items():
                if not isinstance(ft, dict):
                    raise CheckpointError(f"{cfg_path}: {group}.{key} must be an object with type and shape, got {ft!r}")
                t = str(ft.get("type", "")).upper().replace("FEATURETYPE.", "")
                if t not in TYPES:
                    raise CheckpointError(f"{cfg_path}: feature {key} has unknown type {ft.get('type')!r}")
                feats[key] = (t, _shape(ft.get("shape"), f"{group}.{key}.shape", cfg_path))
                modes[key] = mapping.get(t, "IDENTITY")
    elif "input_shapes" in cfg:
        old_modes = {**_str_map(cfg, "input_normalization_modes", cfg_path),
                     **_str_map(cfg, "output_normalization_modes", cfg_path)}
        for group in ("input_shapes", "output_shapes"):
            for key, shape in _mapping(cfg, group, cfg_path).items():
                feats[key] = (_type_from_name(key, group), _shape(shape, f"{group}.{key}", cfg_path))
                modes[key] = old_modes.get(key, "identity").upper()
    else:
        raise CheckpointError(f"{cfg_path}: no input_features / input_shapes: not an ACT policy config")
    for key, mode in modes.items():
        if mode not in ("MEAN_STD", "MIN_MAX", "IDENTITY"):
            raise CheckpointError(f"{cfg_path}: normalization mode {mode!r} for {key} is not MEAN_STD/MIN_MAX/IDENTITY")
    return feats, modes


class _Config:
    """Typed reads of config.json values: a wrong type or range is one CheckpointError naming the file and
    key (no coercion: 8.7, "8", [8] and true are not the integer 8)."""

    def __init__(self, cfg: dict, path: Path) -> None:
        self.cfg, self.path = cfg, path

    def validate(self) -> None:
        """Type and range of every key the loader reads (ranges against the weights come later)."""
        for key, lo, hi in CONFIG_INTS:
            self.int(key, lo, hi)
        self.int("n_heads", 1, MAX_D_MODEL)
        self.int("n_action_steps", 1, MAX_CHUNK)
        for key in ("pre_norm", "replace_final_stride_with_dilation", "use_vae"):
            self.bool(key, False)
        for key in ("vision_backbone", "feedforward_activation", "type"):
            self.str(key, "")
        self.real("temporal_ensemble_coeff", None)

    def _get(self, key: str) -> Any:
        return self.cfg.get(key, _ABSENT)

    def int(self, key: str, lo: int, hi: int, default: Any = None) -> Any:
        value = self._get(key)
        if value is _ABSENT or (value is None and key == "n_action_steps"):
            return default
        return option_int(value, f"{self.path}: {key}", lo, hi)

    def bool(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _ABSENT:
            return default
        if not isinstance(value, bool):
            raise CheckpointError(f"{self.path}: {key} must be true or false, got {value!r}")
        return value

    def str(self, key: str, default: str) -> str:
        value = self._get(key)
        if value is _ABSENT:
            return default
        if not isinstance(value, str):
            raise CheckpointError(f"{self.path}: {key} must be a string, got {value!r}")
        return value

    def real(self, key: str, default: Any) -> Any:
        """A finite number or null (the key's documented "off")."""
        value = self._get(key)
        if value is _ABSENT or value is None:
            return default
        return option_real(value, f"{self.path}: {key}", -float("inf"))


def _mapping(cfg: dict, key: str, path: Path) -> dict:
    value = cfg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: {key} must be an object, got {value!r}")
    return value


def _str_map(cfg: dict, key: str, path: Path) -> dict[str, str]:
    value = _mapping(cfg, key, path)
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise CheckpointError(f"{path}: {key}.{bad[0]} must be a string, got {value[bad[0]]!r}")
    return {str(k): v for k, v in value.items()}


def _shape(value: Any, what: str, path: Path) -> list[int]:
    """A feature shape: a list of 1-3 integers (a string "6" is not [6])."""
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        raise CheckpointError(f"{path}: {what} must be a list of 1 to 3 integers, got {value!r}")
    return [option_int(v, f"{path}: {what}[{i}]", 1, max(MAX_IMAGE_SIDE, MAX_VECTOR_DIM)) for i, v in enumerate(value)]


def _where(files: list[str]) -> str:
    return ", ".join(files) if files else "normalization stats"


def _type_from_name(key: str, group: str) -> str:
    if group == "output_shapes":
        return "ACTION"
    if key.startswith("observation.image"):
        return "VISUAL"
    if key == "observation.environment_state":
        return "ENV"
    return "STATE"


def _stats(d: Path, raw: dict, features: dict,
           norm_maps: dict[str, dict[str, str]] | None = None) -> tuple[dict[str, Any], dict[str, Any], list[str], float]:
    """(input stats, output stats, files read, eps): flat {"<feature>.<stat>": array}. Inputs come from
    the normalizer (v0.4+ preprocessor / legacy normalize_inputs), actions from the unnormalizer
    (postprocessor / legacy unnormalize_outputs), as LeRobot applies them."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    pre: dict[str, Any] = {}
    post: dict[str, Any] = {}
    files: list[str] = []
    eps = EPS
    found_json = False
    for proc, target in (("policy_preprocessor.json", pre), ("policy_postprocessor.json", post)):
        p = d / proc
        if not p.is_file():
            continue
        found_json = True
        try:
            pipeline = json.loads(p.read_text())
        except ValueError as exc:
            raise CheckpointError(f"{p}: not valid JSON ({exc})") from None
        if not isinstance(pipeline, dict):
            raise CheckpointError(f"{p}: expected a JSON object, got {type(pipeline).__name__}")
        steps = pipeline.get("steps", [])
        if not isinstance(steps, list):
            raise CheckpointError(f"{p}: steps must be a list, got {steps!r}")
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                raise CheckpointError(f"{p}: steps[{i}] must be an object, got {step!r}")
            state_file = step.get("state_file")
            if state_file is not None and (not isinstance(state_file, str) or "/" in state_file or "\\" in state_file
                                           or state_file in ("", ".", "..")):
                raise CheckpointError(f"{p}: steps[{i}].state_file must be a file name in {d}, got {state_file!r}")
            if not state_file or "normalizer" not in str(step.get("registry_name", state_file)):
                continue
            step_cfg = step.get("config") or {}
            if not isinstance(step_cfg, dict):
                raise CheckpointError(f"{p}: steps[{i}].config must be an object, got {step_cfg!r}")
            sp = d / state_file
            if not sp.is_file():
                raise CheckpointError(f"{p}: names {state_file} but it is missing from {d}")
            try:
                target.update(load_file(str(sp)))
            except (SafetensorError, OSError, ValueError) as exc:
                raise CheckpointError(f"{sp}: not a readable safetensors file ({str(exc).splitlines()[0][:200]})") from None
            if step_cfg.get("eps") is not None:
                eps = option_real(step_cfg["eps"], f"{p}: steps[{i}].config.eps", 0.0)
            if norm_maps is not None and step_cfg.get("norm_map") is not None:
                norm_map = _str_map(step_cfg, "norm_map", p)
                norm_maps["post" if target is post else "pre"] = {
                    k.upper().replace("FEATURETYPE.", ""): v.upper().replace("NORMALIZATIONMODE.", "")
                    for k, v in norm_map.items()}
            files.append(state_file)
    if found_json:
        return pre, post, files, eps
    # legacy: buffers inside model.safetensors, matched against the config's features
    for key in features:
        buf = "buffer_" + key.replace(".", "_")
        for module, target in (("normalize_inputs", pre), ("unnormalize_outputs", post)):
            for stat in ("mean", "std", "min", "max"):
                k = f"{module}.{buf}.{stat}"
                if k in raw:
                    target[f"{key}.{stat}"] = raw[k].detach().cpu().numpy()
    if any(k.startswith(("normalize_inputs.", "unnormalize_outputs.")) for k in raw):
        files.append("model.safetensors")
    return pre, post, files, eps


def _stat(stats: dict, feature: str, stat: str, shape: list[int], files: list[str], eps: float = 0.0) -> np.ndarray:
    key = f"{feature}.{stat}"
    if key not in stats:
        where = ", ".join(files) if files else "no policy_preprocessor.json/policy_postprocessor.json and no legacy buffers"
        raise CheckpointError(f"missing normalization stat {key} (looked in: {where})")
    arr = stat_vector(stats[key], key, _where(files))
    want = int(np.prod(shape)) if len(shape) == 1 else shape[0]
    if arr.size != want:
        raise CheckpointError(f"normalization stat {key} has {arr.size} values, expected {want}")
    if stat == "std":
        check_std(arr, key, _where(files), eps)
    return arr
