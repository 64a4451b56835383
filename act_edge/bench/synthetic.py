"""Seeded synthetic observations: uint8 frames, state within the manifest's stats, never zeros.
A camera-less bundle gets no `images` field, a state-less one no `state`.

A pool of `size` observations is generated up front and cycled, so generating them is never timed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends.base import allocate_io
from ..bundle import Bundle
from ..observation import ObservationValidator
from ..synthetic_inputs import sample_vector


def make_pool(bundle: Bundle, size: int, seed: int) -> list[dict[str, Any]]:
    """`size` single observations in the Policy's dict form, from np.random.default_rng(seed)."""
    spec = bundle.spec
    rng = np.random.default_rng(seed)
    image_inputs = [e for e in bundle.manifest["io"]["inputs"] if e["dtype"] == "uint8"]
    pool = []
    for _ in range(size):
        obs: dict[str, Any] = {"state": sample_vector(spec.state_norm, [spec.state_dim], rng)} if spec.state_dim else {}
        images, depth = {}, {}
        for entry in image_inputs:
            _, _, h, w, c = entry["shape"]  # (batch, N, H, W, 3)
            for cam in entry["cameras"]:
                images[cam] = rng.integers(1, 256, size=(h, w, c), dtype=np.uint8)  # 1..255: never zeros
                if spec.cameras[0].channels == 4:
                    lo, hi = spec.cameras[0].depth_range
                    depth[cam] = rng.uniform(lo, hi, size=(h, w)).astype(np.float32)
        if spec.cameras:  # a camera-less bundle takes no `images` field
            obs["images"] = images
        if depth:
            obs["depth"] = depth
        if spec.env_state_dim:
            obs["env_state"] = sample_vector(spec.env_state_norm, [spec.env_state_dim], rng)
        pool.append(obs)
    return pool


def stack(observations: list[dict[str, Any]]) -> dict[str, Any]:
    """Batched observation (leading batch axis on every array) from single ones."""
    first = observations[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, dict):
            out[key] = {cam: np.stack([o[key][cam] for o in observations]) for cam in value}
        else:
            out[key] = np.stack([o[key] for o in observations])
    return out


def graph_inputs(bundle: Bundle, obs: dict[str, Any]) -> dict[str, np.ndarray]:
    """One observation -> the graph's named inputs at batch 1, staged as the Policy stages them
    (ObservationValidator.stage into buffers of the manifest's shapes)."""
    buffers, _ = allocate_io(bundle, 1)
    ObservationValidator(bundle.spec, bundle.manifest["io"]["inputs"], 1).stage(obs, buffers, 1)
    return buffers
