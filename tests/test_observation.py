"""Observation validation: the exact messages of docs/observation-rules.md, in its order."""

from __future__ import annotations

import re

import numpy as np
import pytest

from act_edge.bundle import io_description
from act_edge.errors import ActEdgeError, ObservationError
from act_edge.observation import ObservationValidator
from act_edge.spec import ActSpec, CameraSpec


def make_spec(cams=(("top", 48, 64), ("wrist", 48, 64)), S=14, E=0, rgbd=False) -> ActSpec:
    cameras = [CameraSpec(n, h, w, channels=4 if rgbd else 3,
                          mean=(0.5,) * (4 if rgbd else 3), std=(0.2,) * (4 if rgbd else 3),
                          depth_range=(0.01, 10.0) if rgbd else None) for n, h, w in cams]
    return ActSpec(cameras=tuple(cameras), state_dim=S, action_dim=S, chunk_size=10, env_state_dim=E,
                   d_model=16, n_heads=2, dim_feedforward=32)


def validator(spec: ActSpec, max_batch: int = 4) -> ObservationValidator:
    return ObservationValidator(spec, io_description(spec)["inputs"], max_batch)


def good_obs(spec: ActSpec, rng: np.random.Generator, batch: int | None = None) -> dict:
    lead = () if batch is None else (batch,)
    obs = {"state": rng.normal(size=lead + (spec.state_dim,)).astype(np.float32),
           "images": {c.name: rng.integers(0, 256, lead + (c.height, c.width, 3), dtype=np.uint8)
                      for c in spec.cameras}}
    if spec.env_state_dim:
        obs["env_state"] = rng.normal(size=lead + (spec.env_state_dim,))
    if spec.cameras[0].channels == 4:
        obs["depth"] = {c.name: rng.uniform(0.1, 5, lead + (c.height, c.width)).astype(np.float32)
                        for c in spec.cameras}
    return obs


def reject(v: ObservationValidator, obs, message: str, batched: bool = False) -> None:
    with pytest.raises(ObservationError, match="^" + re.escape(message) + "$") as info:
        v.validate(obs, batched=batched)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ActEdgeError)
    assert "\n" not in str(info.value)


def test_accepts_good_single_and_batched_and_stacked() -> None:
    rng = np.random.default_rng(0)
    spec = make_spec(E=3)
    v = validator(spec)
    assert v.validate(good_obs(spec, rng)) == 1
    assert v.validate(good_obs(spec, rng, batch=3), batched=True) == 3
    obs = good_obs(spec, rng)
    obs["images"] = np.stack([obs["images"]["top"], obs["images"]["wrist"]])
    assert v.validate(obs) == 1
    obs["state"] = obs["state"].astype(np.float64)
    assert v.validate(obs) == 1


def test_messages_in_documented_order() -> None:
    rng = np.random.default_rng(1)
    spec = make_spec(E=3)
    v = validator(spec)
    reject(v, [1, 2], "observation: expected a dict, got list")
    obs = good_obs(spec, rng)
    obs["zeta"] = 1
    obs["alpha"] = 2
    del obs["state"]  # unknown keys are reported before missing ones, sorted
    reject(v, obs, "observation['alpha']: unknown field (expected one of ['env_state', 'images', 'state'])")
    obs = good_obs(spec, rng)
    del obs["state"]
    reject(v, obs, "state: missing (expected float32 array of shape (14,))")
    reject(v, obs, "state: missing (expected float32 array of shape (batch, 14))", batched=True)
    obs = good_obs(spec, rng)
    del obs["env_state"]
    reject(v, obs, "env_state: missing (expected float32 array of shape (3,))")
    obs = good_obs(spec, rng)
    del obs["images"]
    reject(v, obs, "images: missing (expected uint8 array of shape (2, 48, 64, 3))")
    obs = good_obs(spec, rng)
    obs["images"]["side"] = obs["images"].pop("wrist")
    reject(v, obs, "images['side']: unknown camera (expected one of ['top', 'wrist'])")
    obs = good_obs(spec, rng)
    del obs["images"]["wrist"]
    reject(v, obs, "images['wrist']: missing (expected uint8 array of shape (48, 64, 3))")
    reject(v, obs, "images['wrist']: missing (expected uint8 array of shape (batch, 48, 64, 3))", batched=True)
    # dtype before shape: a wrong-dtype wrist frame wins over a wrong-shape state
    obs = good_obs(spec, rng)
    obs["state"] = obs["state"][:5]
    obs["images"]["wrist"] = obs["images"]["wrist"].astype(np.float32)
    reject(v, obs, "images['wrist']: expected dtype uint8, got float32")
    obs["images"]["wrist"] = obs["images"]["wrist"].astype(np.uint8)
    reject(v, obs, "state: expected shape (14,), got (5,)")
    obs = good_obs(spec, rng)
    obs["state"] = obs["state"].astype(np.int64)
    reject(v, obs, "state: expected dtype float32, got int64")
    obs = good_obs(spec, rng)
    obs["images"]["top"] = obs["images"]["top"][:, :, :1]
    reject(v, obs, "images['top']: expected shape (48, 64, 3), got (48, 64, 1)")
    obs = good_obs(spec, rng)
    obs["env_state"] = obs["env_state"][None]
    reject(v, obs, "env_state: expected shape (3,), got (1, 3)")
    obs = good_obs(spec, rng)
    obs["images"] = np.stack([obs["images"]["top"]] * 3)
    reject(v, obs, "images: expected shape (2, 48, 64, 3), got (3, 48, 64, 3)")
    obs = good_obs(spec, rng)
    obs["state"] = [0.0] * 14
    reject(v, obs, "state: expected a numpy array, got list")


@pytest.mark.parametrize("value,text", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite(value: float, text: str, dtype) -> None:
    rng = np.random.default_rng(2)
    spec = make_spec(E=3)
    v = validator(spec)
    obs = good_obs(spec, rng)
    obs["state"] = obs["state"].astype(dtype)
    obs["state"][[7, 9]] = value
    reject(v, obs, f"state: non-finite value {text} at index 7")
    obs = good_obs(spec, rng)
    obs["env_state"][2] = value
    reject(v, obs, f"env_state: non-finite value {text} at index 2")
    obs = good_obs(spec, rng, batch=2)
    obs["state"][1, 3] = value
    reject(v, obs, f"state: non-finite value {text} at index 17", batched=True)


def test_huge_finite_values_are_accepted() -> None:
    rng = np.random.default_rng(3)
    spec = make_spec()
    v = validator(spec)
    obs = good_obs(spec, rng)
    obs["state"] = np.full(14, np.finfo(np.float32).max, dtype=np.float32)  # sums would overflow
    assert v.validate(obs) == 1


def test_batched_shapes() -> None:
    rng = np.random.default_rng(4)
    spec = make_spec()
    v = validator(spec, max_batch=4)
    obs = good_obs(spec, rng, batch=2)
    obs["images"]["wrist"] = obs["images"]["wrist"][:1]
    reject(v, obs, "images['wrist']: expected shape (2, 48, 64, 3), got (1, 48, 64, 3)", batched=True)
    obs = good_obs(spec, rng, batch=2)
    obs["images"]["top"] = obs["images"]["top"][:, :10]
    reject(v, obs, "images['top']: expected shape (batch, 48, 64, 3), got (2, 10, 64, 3)", batched=True)
    obs = good_obs(spec, rng)  # single obs passed as batched
    reject(v, obs, "state: expected shape (batch, 14), got (14,)", batched=True)
    reject(v, good_obs(spec, rng, batch=5), "state: batch 5 is outside 1..4", batched=True)
    reject(v, good_obs(spec, rng, batch=2), "state: expected shape (14,), got (2, 14)")


def test_multi_resolution_and_rgbd() -> None:
    rng = np.random.default_rng(5)
    spec = make_spec(cams=(("top", 48, 64), ("wrist", 24, 32)))
    v = validator(spec)
    assert v.validate(good_obs(spec, rng)) == 1
    obs = good_obs(spec, rng)
    obs["images"] = np.zeros((2, 48, 64, 3), np.uint8)
    reject(v, obs, "images: expected a dict of cameras (the cameras have different resolutions), got ndarray")
    spec = make_spec(rgbd=True)
    v = validator(spec)
    assert v.fields == ["state", "images", "depth"]
    obs = good_obs(spec, rng)
    assert v.validate(obs) == 1
    obs["depth"]["wrist"][3, 4] = np.nan
    reject(v, obs, "depth['wrist']: non-finite value nan at index 196")
    obs = good_obs(spec, rng)
    obs["depth"]["top"] = obs["depth"]["top"].astype(np.float64)
    reject(v, obs, "depth['top']: expected dtype float32, got float64")
    obs = good_obs(spec, rng)
    del obs["depth"]["top"]
    reject(v, obs, "depth['top']: missing (expected float32 array of shape (48, 64))")


def test_stage_copies_into_buffers() -> None:
    from act_edge.backends.base import allocate_io
    from act_edge.bundle import Bundle

    rng = np.random.default_rng(6)
    spec = make_spec(E=3)
    io = io_description(spec)
    bundle = Bundle(path=None, manifest={"io": io}, spec=spec)  # type: ignore[arg-type]
    bufs, _ = allocate_io(bundle, 4)
    v = validator(spec)
    obs = good_obs(spec, rng, batch=3)
    v.stage(obs, bufs, v.validate(obs, batched=True), batched=True)
    np.testing.assert_array_equal(bufs["images"][:3, 1], obs["images"]["wrist"])
    np.testing.assert_array_equal(bufs["images"][:3, 0], obs["images"]["top"])
    np.testing.assert_array_equal(bufs["state"][:3], obs["state"])
    np.testing.assert_array_equal(bufs["env_state"][:3], obs["env_state"].astype(np.float32))
    one = good_obs(spec, rng)
    v.stage(one, bufs, v.validate(one))
    np.testing.assert_array_equal(bufs["images"][0, 1], one["images"]["wrist"])
    np.testing.assert_array_equal(bufs["images"][1:3, 1], obs["images"]["wrist"][1:])  # rows past batch kept


def test_stage_rgbd_depth_and_stacked_batched() -> None:
    from act_edge.backends.base import allocate_io
    from act_edge.bundle import Bundle

    rng = np.random.default_rng(7)
    spec = make_spec(rgbd=True)
    bundle = Bundle(path=None, manifest={"io": io_description(spec)}, spec=spec)  # type: ignore[arg-type]
    bufs, _ = allocate_io(bundle, 4)
    assert set(bufs) == {"images", "depth", "state"}
    v = validator(spec)
    obs = good_obs(spec, rng, batch=2)
    v.stage(obs, bufs, v.validate(obs, batched=True), batched=True)
    np.testing.assert_array_equal(bufs["depth"][:2, 1], obs["depth"]["wrist"])
    np.testing.assert_array_equal(bufs["depth"][:2, 0], obs["depth"]["top"])
    spec = make_spec()
    bundle = Bundle(path=None, manifest={"io": io_description(spec)}, spec=spec)  # type: ignore[arg-type]
    bufs, _ = allocate_io(bundle, 4)
    v = validator(spec)
    obs = good_obs(spec, rng, batch=3)
    obs["images"] = np.stack([obs["images"]["top"], obs["images"]["wrist"]], axis=1)  # (B, N, H, W, 3)
    v.stage(obs, bufs, v.validate(obs, batched=True), batched=True)
    np.testing.assert_array_equal(bufs["images"][:3], obs["images"])


@pytest.mark.parametrize("value", [1e300, -1e300, 3.5e38, -1e39])
def test_float64_beyond_float32_range_is_refused(value: float) -> None:
    """The model reads float32: 1e300 would become inf in the cast after passing a finite check."""
    rng = np.random.default_rng(9)
    spec = make_spec(E=5)
    v = validator(spec)
    obs = good_obs(spec, rng)
    obs["state"] = obs["state"].astype(np.float64)
    obs["state"][6] = value
    reject(v, obs, f"state: value {value!r} at index 6 is outside the float32 range "
                   "(the model's input type; it would become inf)")
    obs = good_obs(spec, rng, batch=2)
    obs["env_state"][1, 2] = value
    obs["env_state"][1, 4] = np.nan  # a non-finite value is reported first, as before
    reject(v, obs, "env_state: non-finite value nan at index 9", batched=True)
    obs["env_state"][1, 4] = 0.5
    reject(v, obs, f"env_state: value {value!r} at index 7 is outside the float32 range "
                   "(the model's input type; it would become inf)", batched=True)
    obs = good_obs(spec, rng)  # float32's largest value itself survives the cast: accepted
    obs["state"] = obs["state"].astype(np.float64)
    obs["state"][6] = float(np.finfo(np.float32).max) * np.sign(value)
    assert v.validate(obs) == 1
