"""Checkpoints of the three ACT families written in their true on-disk layouts, seeded random weights.

Key names and shapes are written out here from each family's layout (not taken from act-edge's
canonical model), so a naming or shape mistake in a loader shows up as a failure.

- original ACT: <dir>/policy_best.ckpt (torch.save of ACTPolicy.state_dict(), `model.` prefix, CVAE
  keys, is_pad_head, 7 decoder layers) + <dir>/dataset_stats.pkl (pickled dict of numpy arrays).
- LeRobot v0.4+: <dir>/pretrained_model/{config.json, model.safetensors, policy_preprocessor.json,
  policy_preprocessor_step_3_normalizer_processor.safetensors, policy_postprocessor.json,
  policy_postprocessor_step_0_unnormalizer_processor.safetensors}, every dataset stat present.
- LeRobot legacy (<= v0.3): config with input_shapes/..._normalization_modes, stats as buffers inside
  model.safetensors, `encoder_robot_and_latent_pos_embed`.
- BEHAVIOR il_lib: <run>/ckpt/last.pth, a Lightning checkpoint whose hyper_parameters hold pickled
  omegaconf DictConfig/ListConfig objects (written with stand-in classes carrying omegaconf's module
  and class names, so the pickle references the real omegaconf globals; omegaconf is not needed).
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import pickle
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export-side fixtures need torch")

RESNET18 = (2, 2, 2, 2)


# --- key lists ---------------------------------------------------------------------------------

def resnet_shapes(prefix: str, in_ch: int = 3, tracked: bool = False) -> dict[str, tuple[int, ...]]:
    """torchvision resnet18 trunk (conv1..layer4), BN buffers (+ num_batches_tracked for nn.BatchNorm2d)."""
    out: dict[str, tuple[int, ...]] = {}

    def bn(name: str, c: int) -> None:
        for p in ("weight", "bias", "running_mean", "running_var"):
            out[f"{prefix}{name}.{p}"] = (c,)
        if tracked:
            out[f"{prefix}{name}.num_batches_tracked"] = ()

    out[f"{prefix}conv1.weight"] = (64, in_ch, 7, 7)
    bn("bn1", 64)
    cin = 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), RESNET18), start=1):
        for b in range(n):
            p = f"layer{i}.{b}."
            out[f"{prefix}{p}conv1.weight"] = (planes, cin if b == 0 else planes, 3, 3)
            bn(p + "bn1", planes)
            out[f"{prefix}{p}conv2.weight"] = (planes, planes, 3, 3)
            bn(p + "bn2", planes)
            if b == 0 and i > 1:
                out[f"{prefix}{p}downsample.0.weight"] = (planes, cin, 1, 1)
                bn(p + "downsample.1", planes)
        cin = planes
    return out


def attn_shapes(prefix: str, d: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}in_proj_weight": (3 * d, d), f"{prefix}in_proj_bias": (3 * d,),
            f"{prefix}out_proj.weight": (d, d), f"{prefix}out_proj.bias": (d,)}


def layer_shapes(prefix: str, d: int, ff: int, decoder: bool) -> dict[str, tuple[int, ...]]:
    out = attn_shapes(prefix + "self_attn.", d)
    if decoder:
        out.update(attn_shapes(prefix + "multihead_attn.", d))
    out.update({f"{prefix}linear1.weight": (ff, d), f"{prefix}linear1.bias": (ff,),
                f"{prefix}linear2.weight": (d, ff), f"{prefix}linear2.bias": (d,)})
    for i in (1, 2, 3) if decoder else (1, 2):
        out[f"{prefix}norm{i}.weight"] = (d,)
        out[f"{prefix}norm{i}.bias"] = (d,)
    return out


def random_tensors(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Seeded values with sane activations: Kaiming convs, BN near identity, uniform fan-in linears."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        leaf = name.rsplit(".", 1)[-1]
        parent = name.split(".")[-2] if "." in name else ""
        if leaf == "num_batches_tracked":
            t = torch.tensor(1234, dtype=torch.long)
        elif leaf == "running_var":
            t = torch.rand(shape, generator=gen) * 0.5 + 0.75
        elif leaf == "running_mean":
            t = torch.randn(shape, generator=gen) * 0.1
        elif len(shape) == 4:
            t = torch.randn(shape, generator=gen) * math.sqrt(2.0 / (shape[0] * shape[2] * shape[3]))
        elif ".bn" in name or "downsample.1" in name or parent.startswith("bn"):
            t = (torch.rand(shape, generator=gen) * 0.4 + 0.3) if leaf == "weight" else torch.randn(shape, generator=gen) * 0.1
        elif "norm" in parent:
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen) if leaf == "weight" else 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 2 and ("embed" in name or "pos" in name):
            t = torch.randn(shape, generator=gen) * 0.5
        elif len(shape) >= 2:
            t = (torch.rand(shape, generator=gen) * 2 - 1) * math.sqrt(3.0 / shape[-1])
        else:
            t = torch.randn(shape, generator=gen) * 0.05
        out[name] = t.float() if t.is_floating_point() else t
    return out


# --- original ACT ------------------------------------------------------------------------------

@dataclass
class OriginalConfig:
    d: int = 32
    ff: int = 64
    heads: int = 4
    enc: int = 2
    dec: int = 7
    chunk: int = 10
    state: int = 14
    action: int = 14
    pre_norm: bool = False
    cameras: tuple[str, ...] = ("top", "left_wrist")
    size: tuple[int, int] = (64, 96)


def original_shapes(c: OriginalConfig) -> dict[str, tuple[int, ...]]:
    s = resnet_shapes("model.backbones.0.0.body.")
    d = c.d
    s.update({"model.input_proj.weight": (d, 512, 1, 1), "model.input_proj.bias": (d,),
              "model.input_proj_robot_state.weight": (d, c.state), "model.input_proj_robot_state.bias": (d,),
              "model.latent_out_proj.weight": (d, 32), "model.latent_out_proj.bias": (d,),
              "model.additional_pos_embed.weight": (2, d), "model.query_embed.weight": (c.chunk, d),
              "model.action_head.weight": (c.action, d), "model.action_head.bias": (c.action,),
              "model.is_pad_head.weight": (1, d), "model.is_pad_head.bias": (1,)})
    for i in range(c.enc):
        s.update(layer_shapes(f"model.transformer.encoder.layers.{i}.", d, c.ff, False))
    if c.pre_norm:
        s.update({"model.transformer.encoder.norm.weight": (d,), "model.transformer.encoder.norm.bias": (d,)})
    for i in range(c.dec):
        s.update(layer_shapes(f"model.transformer.decoder.layers.{i}.", d, c.ff, True))
    s.update({"model.transformer.decoder.norm.weight": (d,), "model.transformer.decoder.norm.bias": (d,)})
    # CVAE encoder (4 layers in the original, like the main encoder)
    for i in range(c.enc):
        s.update(layer_shapes(f"model.encoder.layers.{i}.", d, c.ff, False))
    s.update({"model.cls_embed.weight": (1, d), "model.encoder_action_proj.weight": (d, c.action),
              "model.encoder_action_proj.bias": (d,), "model.encoder_joint_proj.weight": (d, c.state),
              "model.encoder_joint_proj.bias": (d,), "model.latent_proj.weight": (64, d),
              "model.latent_proj.bias": (64,), "model.pos_table": (1, 2 + c.chunk, d)})
    return s


def original_stats(c: OriginalConfig, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"qpos_mean": rng.uniform(-1, 1, c.state), "qpos_std": np.clip(rng.uniform(0, 0.5, c.state), 1e-2, None),
            "action_mean": rng.uniform(-1, 1, c.action), "action_std": np.clip(rng.uniform(0, 0.5, c.action), 1e-2, None),
            "example_qpos": rng.uniform(-1, 1, (5, c.state))}


def write_original(root: Path, c: OriginalConfig | None = None, seed: int = 0) -> dict[str, Any]:
    c = c or OriginalConfig()
    root.mkdir(parents=True, exist_ok=True)
    sd = collections.OrderedDict(random_tensors(original_shapes(c), seed))
    torch.save(sd, root / "policy_best.ckpt")
    stats = original_stats(c, seed + 1)
    with open(root / "dataset_stats.pkl", "wb") as fh:
        pickle.dump(stats, fh)
    return {"dir": root, "ckpt": root / "policy_best.ckpt", "state_dict": sd, "stats": stats, "config": c}


# --- LeRobot -----------------------------------------------------------------------------------

@dataclass
class LeRobotConfig:
    d: int = 32
    ff: int = 64
    heads: int = 4
    enc: int = 2
    dec: int = 1
    chunk: int = 8
    state: int = 6  # 0: no observation.state feature
    action: int = 6
    env: int = 0
    pre_norm: bool = True
    cameras: dict[str, tuple[int, int]] = field(default_factory=lambda: {"laptop": (64, 96), "phone": (96, 64),
                                                                         "wrist": (64, 96)})  # {}: camera-less
    modes: dict[str, str] = field(default_factory=lambda: {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX",
                                                           "ENV": "MEAN_STD", "ACTION": "MEAN_STD"})
    legacy: bool = False  # <= v0.3 layout
    imagenet: bool = False  # camera stats = ImageNet (what training writes by default)


def lerobot_shapes(c: LeRobotConfig, legacy_pos_name: bool = False) -> dict[str, tuple[int, ...]]:
    # No cameras (LeRobot allows it with an ENV feature): no backbone, no image projection; state 0: no
    # observation.state, so no robot-state projection (LeRobot builds these modules only for present features).
    s = resnet_shapes("model.backbone.") if c.cameras else {}
    d = c.d
    n1d = 1 + (1 if c.state else 0) + (1 if c.env else 0)
    pos_name = "encoder_robot_and_latent_pos_embed" if legacy_pos_name else "encoder_1d_feature_pos_embed"
    if c.cameras:
        s.update({"model.encoder_img_feat_input_proj.weight": (d, 512, 1, 1), "model.encoder_img_feat_input_proj.bias": (d,)})
    if c.state:
        s.update({"model.encoder_robot_state_input_proj.weight": (d, c.state),
                  "model.encoder_robot_state_input_proj.bias": (d,),
                  "model.vae_encoder_robot_state_input_proj.weight": (d, c.state),
                  "model.vae_encoder_robot_state_input_proj.bias": (d,)})
    s.update({"model.encoder_latent_input_proj.weight": (d, 32), "model.encoder_latent_input_proj.bias": (d,),
              f"model.{pos_name}.weight": (n1d, d), "model.decoder_pos_embed.weight": (c.chunk, d),
              "model.action_head.weight": (c.action, d), "model.action_head.bias": (c.action,)})
    if c.env:
        s.update({"model.encoder_env_state_input_proj.weight": (d, c.env), "model.encoder_env_state_input_proj.bias": (d,)})
    for i in range(c.enc):
        s.update(layer_shapes(f"model.encoder.layers.{i}.", d, c.ff, False))
    if c.pre_norm:
        s.update({"model.encoder.norm.weight": (d,), "model.encoder.norm.bias": (d,)})
    for i in range(c.dec):
        s.update(layer_shapes(f"model.decoder.layers.{i}.", d, c.ff, True))
    s.update({"model.decoder.norm.weight": (d,), "model.decoder.norm.bias": (d,)})
    # CVAE
    for i in range(c.enc):
        s.update(layer_shapes(f"model.vae_encoder.layers.{i}.", d, c.ff, False))
    s.update({"model.vae_encoder_cls_embed.weight": (1, d), "model.vae_encoder_action_input_proj.weight": (d, c.action),
              "model.vae_encoder_action_input_proj.bias": (d,), "model.vae_encoder_latent_output_proj.weight": (64, d),
              "model.vae_encoder_latent_output_proj.bias": (64,),
              "model.vae_encoder_pos_enc": (1, (2 if c.state else 1) + c.chunk, d)})
    return s


def lerobot_features(c: LeRobotConfig) -> dict[str, tuple[str, list[int]]]:
    f = {f"observation.images.{n}": ("VISUAL", [3, h, w]) for n, (h, w) in c.cameras.items()}
    if c.state:  # 0: a camera-less config with observation.environment_state only
        f["observation.state"] = ("STATE", [c.state])
    if c.env:
        f["observation.environment_state"] = ("ENV", [c.env])
    f["action"] = ("ACTION", [c.action])
    return f


def lerobot_stats(c: LeRobotConfig, seed: int) -> dict[str, np.ndarray]:
    """Every dataset stat for every feature (+ one the policy does not use), flat `<feature>.<stat>`."""
    rng = np.random.default_rng(seed)
    out = {}
    feats = dict(lerobot_features(c))
    feats["next.reward"] = ("REWARD", [1])
    for key, (t, shape) in feats.items():
        dim = shape[0] if t != "VISUAL" else 3
        if t == "VISUAL":
            mean = np.array([0.485, 0.456, 0.406]) if c.imagenet else rng.uniform(0.3, 0.6, 3)
            std = np.array([0.229, 0.224, 0.225]) if c.imagenet else rng.uniform(0.15, 0.3, 3)
            lo, hi = rng.uniform(0.0, 0.1, 3), rng.uniform(0.9, 1.0, 3)
            sh = (3, 1, 1)
        else:
            mean, std = rng.uniform(-1, 1, dim), rng.uniform(0.05, 0.5, dim)
            lo = mean - rng.uniform(0.5, 2, dim)
            hi = mean + rng.uniform(0.5, 2, dim)
            sh = (dim,)
        vals = {"mean": mean, "std": std, "min": lo, "max": hi, "count": np.array([1000.0])}
        for q in ("q01", "q10", "q50", "q90", "q99"):
            vals[q] = lo + (hi - lo) * int(q[1:]) / 100
        for stat, v in vals.items():
            out[f"{key}.{stat}"] = np.asarray(v, dtype=np.float32).reshape(sh if stat != "count" else (1,))
    return out


def write_lerobot(root: Path, c: LeRobotConfig | None = None, seed: int = 0,
                  weights: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    from safetensors.torch import save_file

    c = c or LeRobotConfig()
    d = root / "pretrained_model"
    d.mkdir(parents=True, exist_ok=True)
    sd = weights if weights is not None else random_tensors(lerobot_shapes(c, legacy_pos_name=c.legacy), seed)
    stats = lerobot_stats(c, seed + 1)
    feats = lerobot_features(c)
    common = {"chunk_size": c.chunk, "n_action_steps": c.chunk, "vision_backbone": "resnet18",
              "pretrained_backbone_weights": "ResNet18_Weights.IMAGENET1K_V1", "replace_final_stride_with_dilation": False,
              "pre_norm": c.pre_norm, "dim_model": c.d, "n_heads": c.heads, "dim_feedforward": c.ff,
              "feedforward_activation": "relu", "n_encoder_layers": c.enc, "n_decoder_layers": c.dec,
              "use_vae": True, "latent_dim": 32, "n_vae_encoder_layers": c.enc, "temporal_ensemble_coeff": None,
              "dropout": 0.1, "kl_weight": 10.0}
    tensors = {k: v.contiguous() for k, v in sd.items()}
    if c.legacy:
        cfg = {"n_obs_steps": 1, **common,
               "input_shapes": {k: s for k, (t, s) in feats.items() if t != "ACTION"},
               "output_shapes": {"action": feats["action"][1]},
               "input_normalization_modes": {k: c.modes[t].lower() for k, (t, s) in feats.items() if t != "ACTION"},
               "output_normalization_modes": {"action": c.modes["ACTION"].lower()}}
        for key, (t, _) in feats.items():
            mode = c.modes[t]
            if mode == "IDENTITY":
                continue
            names = ("mean", "std") if mode == "MEAN_STD" else ("min", "max")
            modules = ("normalize_targets", "unnormalize_outputs") if t == "ACTION" else ("normalize_inputs",)
            for module in modules:
                for stat in names:
                    tensors[f"{module}.buffer_{key.replace('.', '_')}.{stat}"] = torch.from_numpy(stats[f"{key}.{stat}"].copy())
        (d / "config.json").write_text(json.dumps(cfg, indent=2))
        save_file(tensors, str(d / "model.safetensors"))
    else:
        cfg = {"type": "act", "n_obs_steps": 1, "normalization_mapping": dict(c.modes),
               "input_features": {k: {"type": t, "shape": s} for k, (t, s) in feats.items() if t != "ACTION"},
               "output_features": {"action": {"type": "ACTION", "shape": feats["action"][1]}},
               "device": "cuda", "use_amp": False, "push_to_hub": False, **common}
        (d / "config.json").write_text(json.dumps(cfg, indent=2))
        save_file(tensors, str(d / "model.safetensors"))
        pre_feats = {k: {"type": t, "shape": s} for k, (t, s) in feats.items()}
        norm_cfg = {"eps": 1e-8, "features": pre_feats, "norm_map": dict(c.modes)}
        pre = {"name": "policy_preprocessor", "steps": [
            {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
            {"registry_name": "to_batch_processor", "config": {}},
            {"registry_name": "device_processor", "config": {"device": "cuda", "float_dtype": None}},
            {"registry_name": "normalizer_processor", "config": norm_cfg,
             "state_file": "policy_preprocessor_step_3_normalizer_processor.safetensors"}]}
        post = {"name": "policy_postprocessor", "steps": [
            {"registry_name": "unnormalizer_processor", "config": norm_cfg,
             "state_file": "policy_postprocessor_step_0_unnormalizer_processor.safetensors"},
            {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}}]}
        (d / "policy_preprocessor.json").write_text(json.dumps(pre, indent=2))
        (d / "policy_postprocessor.json").write_text(json.dumps(post, indent=2))
        st = {k: torch.from_numpy(v.copy()) for k, v in stats.items()}
        save_file(st, str(d / "policy_preprocessor_step_3_normalizer_processor.safetensors"))
        save_file(st, str(d / "policy_postprocessor_step_0_unnormalizer_processor.safetensors"))
    return {"dir": d, "state_dict": sd, "stats": stats, "config": c, "features": feats}


# --- BEHAVIOR il_lib (Lightning) -----------------------------------------------------------------

@dataclass
class BehaviorConfig:
    d: int = 32
    ff: int = 64
    heads: int = 4
    enc: int = 2
    dec: int = 7
    chunk: int = 6
    state: int = 37
    action: int = 23
    pre_norm: bool = False
    views: tuple[str, ...] = ("left_wrist", "right_wrist", "head")
    size: tuple[int, int] = (240, 240)


def behavior_shapes(c: BehaviorConfig) -> dict[str, tuple[int, ...]]:
    s = resnet_shapes("obs_backbone._resnet.", in_ch=4, tracked=True)
    d = c.d
    s.update({"input_proj.weight": (d, 512, 1, 1), "input_proj.bias": (d,),
              "input_proj_robot_state.weight": (d, c.state), "input_proj_robot_state.bias": (d,),
              "latent_out_proj.weight": (d, 32), "latent_out_proj.bias": (d,),
              "additional_pos_embed.weight": (2, d), "query_embed.weight": (c.chunk, d),
              "action_head.weight": (c.action, d), "action_head.bias": (c.action,)})
    for i in range(c.enc):
        s.update(layer_shapes(f"transformer.encoder.layers.{i}.", d, c.ff, False))
    for i in range(c.dec):
        s.update(layer_shapes(f"transformer.decoder.layers.{i}.", d, c.ff, True))
    s.update({"transformer.decoder.norm.weight": (d,), "transformer.decoder.norm.bias": (d,)})
    for i in range(c.enc):
        s.update(layer_shapes(f"encoder.layers.{i}.", d, c.ff, False))
    s.update({"cls_embed.weight": (1, d), "encoder_action_proj.weight": (d, c.action), "encoder_action_proj.bias": (d,),
              "encoder_prop_proj.weight": (d, c.state), "encoder_prop_proj.bias": (d,),
              "latent_proj.weight": (64, d), "latent_proj.bias": (64,), "pos_table": (1, 2 + c.chunk, d)})
    return s


@contextlib.contextmanager
def fake_omegaconf():
    """Stand-in classes registered as omegaconf.* for the time of writing a pickle."""
    names = {"omegaconf.dictconfig": ["DictConfig"], "omegaconf.listconfig": ["ListConfig"],
             "omegaconf.base": ["ContainerMetadata", "Metadata"], "omegaconf.nodes": ["AnyNode"]}
    saved = {k: sys.modules.get(k) for k in ["omegaconf", *names]}
    classes = {}
    try:
        sys.modules["omegaconf"] = types.ModuleType("omegaconf")
        for mod, clss in names.items():
            m = types.ModuleType(mod)
            for n in clss:
                cls = type(n, (), {})
                cls.__module__, cls.__qualname__ = mod, n
                setattr(m, n, cls)
                classes[n] = cls
            sys.modules[mod] = m
        yield classes
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _omegaconf(value: Any, classes: dict, parent: Any = None, key: Any = None) -> Any:
    """Plain value -> objects shaped like omegaconf 2.3's pickled DictConfig / ListConfig / AnyNode."""
    def meta(kind: str, object_type: Any) -> Any:
        m = classes[kind].__new__(classes[kind])
        m.__dict__.update(ref_type=typing.Any, object_type=object_type, optional=True, key=key, flags={},
                          flags_root=False, resolver_cache=collections.defaultdict(dict))
        if kind == "ContainerMetadata":
            m.__dict__.update(key_type=typing.Any, element_type=typing.Any)
        return m

    if isinstance(value, dict):
        node = classes["DictConfig"].__new__(classes["DictConfig"])
        node.__dict__.update(_metadata=meta("ContainerMetadata", dict), _parent=parent)
        node.__dict__["_content"] = {k: _omegaconf(v, classes, node, k) for k, v in value.items()}
        return node
    if isinstance(value, list):
        node = classes["ListConfig"].__new__(classes["ListConfig"])
        node.__dict__.update(_metadata=meta("ContainerMetadata", list), _parent=parent)
        node.__dict__["_content"] = [_omegaconf(v, classes, node, i) for i, v in enumerate(value)]
        return node
    leaf = classes["AnyNode"].__new__(classes["AnyNode"])
    leaf.__dict__.update(_metadata=meta("Metadata", None), _parent=parent, _val=value)
    return leaf


def behavior_ranges(c: BehaviorConfig, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for kind, dim in (("state", c.state), ("action", c.action)):
        lo = rng.uniform(-3, 0, dim)
        out[f"{kind}_min"], out[f"{kind}_max"] = lo, lo + rng.uniform(0.1, 3, dim)
    return out


def write_behavior(root: Path, c: BehaviorConfig | None = None, seed: int = 0, extra_hparams: dict | None = None,
                   ) -> dict[str, Any]:
    c = c or BehaviorConfig()
    (root / "ckpt").mkdir(parents=True, exist_ok=True)
    sd = collections.OrderedDict(random_tensors(behavior_shapes(c), seed))
    hp_plain = {
        "prop_dim": c.state, "prop_keys": ["qpos/torso", "qpos/left_arm", "qpos/right_arm", "eef/left_pos"],
        "action_dim": c.action,
        "action_keys": ["base", "torso", "left_arm", "left_gripper", "right_arm", "right_gripper"],
        "features": ["proprioception", "rgbd"],
        "obs_backbone": {"_target_": "il_lib.nn.features.MultiviewResNet18", "views": list(c.views),
                         "include_depth": True, "resnet_output_dim": 512, "use_shared_backbone": True},
        "pos_encoding": {"_target_": "il_lib.nn.transformers.build_position_encoding", "hidden_dim": c.d,
                         "position_embedding": "sine"},
        "num_queries": c.chunk, "hidden_dim": c.d, "dropout": 0.1, "n_heads": c.heads,
        "dim_feedforward": c.ff, "num_encoder_layers": c.enc, "num_decoder_layers": c.dec, "pre_norm": c.pre_norm,
        "kl_weight": 10, "temporal_ensemble": True, "lr": 7e-4, "use_cosine_lr": True, "lr_warmup_steps": 1000,
        "lr_cosine_steps": 300000, "lr_cosine_min": 5e-6, "lr_layer_decay": 1.0, "weight_decay": 0.1,
    }
    with fake_omegaconf() as classes:
        hp = {k: _omegaconf(v, classes) if isinstance(v, (dict, list)) else v for k, v in hp_plain.items()}
        hp.update(extra_hparams or {})
        first = next(iter(sd))
        ckpt = {
            "epoch": 12, "global_step": 34000, "pytorch-lightning_version": "2.4.0",
            "state_dict": sd,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 13, "completed": 12}}}},
            "callbacks": {"ModelCheckpoint{'monitor': 'val/l1', 'mode': 'min'}": {
                "monitor": "val/l1", "best_model_score": torch.tensor(0.0123), "best_model_path": "/runs/x/ckpt/e12.pth",
                "dirpath": "/runs/x/ckpt", "best_k_models": {"/runs/x/ckpt/e12.pth": torch.tensor(0.0123)}}},
            "optimizer_states": [{"state": {0: {"step": torch.tensor(34000.0), "exp_avg": torch.zeros_like(sd[first]),
                                                "exp_avg_sq": torch.zeros_like(sd[first])}},
                                  "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1,
                                                    "amsgrad": False, "params": [0]}]}],
            "lr_schedulers": [{"base_lrs": [7e-4], "last_epoch": 34000, "_step_count": 34001, "lr_lambdas": [None]}],
            "hparams_name": "kwargs",
            "hyper_parameters": hp,
        }
        torch.save(ckpt, root / "ckpt" / "last.pth")
    ranges = behavior_ranges(c, seed + 1)
    stats_path = root / "joint_ranges.json"
    stats_path.write_text(json.dumps({k: v.tolist() for k, v in ranges.items()}))
    return {"dir": root, "ckpt": root / "ckpt" / "last.pth", "state_dict": sd, "ranges": ranges,
            "stats_path": stats_path, "config": c, "hparams": hp_plain}


# --- inputs ------------------------------------------------------------------------------------

def raw_frames(rng: np.random.Generator, batch: int, n: int, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, size=(batch, n, h, w, 3), dtype=np.uint8)
