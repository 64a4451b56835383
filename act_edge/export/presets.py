"""Presets mirroring real ACT setups, and seeded random-weight checkpoints for them (`act-edge init`)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ..spec import IMAGENET_MEAN, IMAGENET_STD, ActSpec, CameraSpec, Normalization
from .checkpoint import default_runtime


def _stats(rng: np.random.Generator, dim: int) -> Normalization:
    """Plausible joint statistics: means within +-1 rad, std 0.05..0.5 (original ACT clips std >= 1e-2)."""
    return Normalization("mean_std", mean=rng.uniform(-1, 1, dim), std=rng.uniform(0.05, 0.5, dim))


def aloha_sim(rng: np.random.Generator) -> ActSpec:
    """Original ACT sim tasks: one `top` camera 480x640, 14-dof bimanual, chunk 100, 4 enc / 1 dec."""
    return ActSpec(cameras=(CameraSpec("top", 480, 640),), state_dim=14, action_dim=14, chunk_size=100,
                   state_norm=_stats(rng, 14), action_norm=_stats(rng, 14), name="aloha-sim")


def aloha_real(rng: np.random.Generator) -> ActSpec:
    """Real ALOHA: 4 cameras 480x640 (high, low, left/right wrist), 14-dof, chunk 100."""
    cams = tuple(CameraSpec(n, 480, 640) for n in ("cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist"))
    return ActSpec(cameras=cams, state_dim=14, action_dim=14, chunk_size=100,
                   state_norm=_stats(rng, 14), action_norm=_stats(rng, 14), name="aloha-real")


def so100(rng: np.random.Generator) -> ActSpec:
    """LeRobot SO-100 arm: 2 cameras 480x640, 6-dof, chunk 50, pre-norm, MEAN_STD with eps 1e-8."""
    def norm(dim: int) -> Normalization:
        s = _stats(rng, dim)
        return Normalization("mean_std", mean=s.mean, std=s.std, eps=1e-8)
    cams = (CameraSpec("laptop", 480, 640), CameraSpec("phone", 480, 640))
    return ActSpec(cameras=cams, state_dim=6, action_dim=6, chunk_size=50, pre_norm=True,
                   state_norm=norm(6), action_norm=norm(6), name="so100")


def tiny(rng: np.random.Generator) -> ActSpec:
    """Test-sized: 2 cameras 64x96, d_model 32, 2 encoder layers, chunk 10, 5-dof state, 4-dof action."""
    cams = (CameraSpec("front", 64, 96), CameraSpec("wrist", 64, 96))
    return ActSpec(cameras=cams, state_dim=5, action_dim=4, chunk_size=10, d_model=32, n_heads=4,
                   dim_feedforward=64, n_encoder_layers=2, state_norm=_stats(rng, 5),
                   action_norm=_stats(rng, 4), name="tiny")


def behavior(rng: np.random.Generator) -> ActSpec:
    """BEHAVIOR-1K il_lib R1Pro: 3 RGB-D views 240x240 (il_lib eval crop/resize to 224 in the graph),
    state 37, action 23, chunk 20, 4 enc / 7 dec layers all used (hs[-1]), min-max joint ranges."""
    def ranges(dim: int) -> Normalization:
        lo = rng.uniform(-3.0, 0.0, dim)
        return Normalization("min_max", min=lo, max=lo + rng.uniform(0.1, 3.0, dim))
    transform = {"steps": [["center_crop", [224, 224]], ["resize", [256, 256]], ["center_crop", [224, 224]]],
                 "output_size": [224, 224]}
    cams = tuple(CameraSpec(n, 240, 240, channels=4, mean=IMAGENET_MEAN + (0.0,), std=IMAGENET_STD + (1.0,),
                            depth_range=(0.01, 10.0), eval_transform=transform)
                 for n in ("left_wrist", "right_wrist", "head"))
    return ActSpec(cameras=cams, state_dim=37, action_dim=23, chunk_size=20, n_decoder_layers=7,
                   state_norm=ranges(37), action_norm=ranges(23), name="behavior")


def state_only(rng: np.random.Generator) -> ActSpec:
    """LeRobot ACT without cameras (a keypoint task like PushT keypoints): observation.state 2 (agent x, y),
    observation.environment_state 16 (8 object keypoints x, y), action 2, chunk 100, LeRobot's defaults
    (d 512, 4 enc / 1 dec, post-norm, MEAN_STD with eps 1e-8). No backbone: 3 encoder tokens."""
    def norm(dim: int) -> Normalization:
        return Normalization("mean_std", mean=rng.uniform(50, 450, dim), std=rng.uniform(20, 150, dim), eps=1e-8)
    return ActSpec(cameras=(), state_dim=2, env_state_dim=16, action_dim=2, chunk_size=100,
                   state_norm=norm(2), env_state_norm=norm(16), action_norm=norm(2), name="state-only")


def simplified(rng: np.random.Generator) -> ActSpec:
    """"Simplified ACT" of course notes, their defaults: decoder-only, d_model 256, 4 heads, FF 512, 4 layers,
    no normalization; obs (the `state` input) 14, action 14, chunk 50 (task sizes the notes leave open)."""
    return ActSpec(cameras=(), state_dim=14, action_dim=14, chunk_size=50, d_model=256, n_heads=4,
                   dim_feedforward=512, n_encoder_layers=0, n_decoder_layers=4, architecture="decoder_only",
                   name="simplified")


PRESETS: dict[str, Callable[[np.random.Generator], ActSpec]] = {
    "aloha-sim": aloha_sim,
    "aloha-real": aloha_real,
    "so100": so100,
    "tiny": tiny,
    "behavior": behavior,
    "state-only": state_only,
    "simplified": simplified,
}


def preset_spec(name: str, seed: int = 0) -> ActSpec:
    if name not in PRESETS:
        raise KeyError(name)
    return PRESETS[name](np.random.default_rng(seed))


@torch.no_grad()
def random_weights(spec: ActSpec, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded random canonical weights with well-scaled activations (also in fp16).

    Convs: Kaiming normal (fan_out); BatchNorm: random running stats and affine near identity, so BN
    folding is exercised; linear layers and attention: PyTorch/xavier defaults; embeddings N(0, 0.02)-ish.
    """
    from .model import build_inference_model

    gen = torch.Generator().manual_seed(seed)
    model = build_inference_model(spec)
    for name, t in model.state_dict().items():
        if name.endswith("running_var"):
            t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
        elif name.endswith("running_mean"):
            t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
        elif t.ndim == 4:  # conv
            fan_out = t.shape[0] * t.shape[2] * t.shape[3]
            t.copy_(torch.randn(t.shape, generator=gen) * math.sqrt(2.0 / fan_out))
        elif name.startswith("backbone") and name.endswith(".weight"):  # BN gamma
            t.copy_(torch.rand(t.shape, generator=gen) * 0.4 + 0.3)
        elif name.startswith("backbone") and name.endswith(".bias"):  # BN beta
            t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
        elif t.ndim == 2:
            fan_in = t.shape[1]
            t.copy_((torch.rand(t.shape, generator=gen) * 2 - 1) * math.sqrt(3.0 / fan_in))
        elif name.startswith("norm") or ".norm" in name:
            t.copy_(1.0 + 0.1 * torch.randn(t.shape, generator=gen) if name.endswith("weight")
                    else 0.1 * torch.randn(t.shape, generator=gen))
        else:  # biases, latent token
            t.copy_(torch.randn(t.shape, generator=gen) * 0.05)
    return {k: v.clone() for k, v in model.state_dict().items()}


def random_checkpoint(name: str, seed: int = 0):
    """(spec, canonical weights, runtime defaults) for a preset."""
    spec = preset_spec(name, seed)
    return spec, random_weights(spec, seed), default_runtime(spec)
