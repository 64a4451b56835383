"""Observation rules for camera-less bundles (docs/observation-rules.md): no `images` field, `images` (or
`depth`) given is an error naming it, a state-less bundle names `state` the same way; the Python and
C++ runtimes give the same message for every case. numpy only (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from act_edge.bundle import io_description
from act_edge.errors import ObservationError
from act_edge.observation import validate_observation
from act_edge.spec import ActSpec

S, E = 6, 10
WITH_STATE = io_description(ActSpec(cameras=(), state_dim=S, env_state_dim=E, action_dim=4, chunk_size=5))["inputs"]
ENV_ONLY = io_description(ActSpec(cameras=(), state_dim=0, env_state_dim=E, action_dim=4, chunk_size=5))["inputs"]


def obs(io, batch: int | None = None, seed: int = 0, **extra) -> dict:
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    out = {e["name"]: rng.normal(size=lead + tuple(e["shape"][1:])).astype(np.float32) for e in io}
    out.update(extra)
    return out


def frame(batch=None):
    return np.random.default_rng(1).integers(0, 256, (() if batch is None else (batch,)) + (48, 64, 3), dtype=np.uint8)


def _nan_env(io):
    o = obs(io)
    o["env_state"][7] = np.nan
    return o


NO_CAMERAS = "unknown field: this bundle has no cameras"
NO_STATE = "unknown field: this bundle has no robot-state input"
# (io inputs, observation, batched, max_batch, message)
BAD = [
    (WITH_STATE, obs(WITH_STATE, images={"top": frame()}), False, None,
     f"observation['images']: {NO_CAMERAS} (expected one of ['env_state', 'state'])"),
    (WITH_STATE, obs(WITH_STATE, images={}), False, None,
     f"observation['images']: {NO_CAMERAS} (expected one of ['env_state', 'state'])"),
    (WITH_STATE, obs(WITH_STATE, 2, images=np.stack([frame(2)], 1)), True, None,
     f"observation['images']: {NO_CAMERAS} (expected one of ['env_state', 'state'])"),
    (WITH_STATE, obs(WITH_STATE, depth={"top": np.ones((48, 64), np.float32)}), False, None,
     f"observation['depth']: {NO_CAMERAS} (expected one of ['env_state', 'state'])"),
    (ENV_ONLY, obs(ENV_ONLY, images={"top": frame()}), False, None,
     f"observation['images']: {NO_CAMERAS} (expected one of ['env_state'])"),
    (ENV_ONLY, obs(ENV_ONLY, state=np.ones(S, np.float32)), False, None,
     f"observation['state']: {NO_STATE} (expected one of ['env_state'])"),
    (WITH_STATE, obs(WITH_STATE, joints=np.ones(3, np.float32)), False, None,
     "observation['joints']: unknown field (expected one of ['env_state', 'state'])"),
    (WITH_STATE, {"state": obs(WITH_STATE)["state"]}, False, None,
     f"env_state: missing (expected float32 array of shape ({E},))"),
    (ENV_ONLY, {}, True, None, f"env_state: missing (expected float32 array of shape (batch, {E}))"),
    (ENV_ONLY, obs(ENV_ONLY, 5), True, 4, "env_state: batch 5 is outside 1..4"),
    (WITH_STATE, obs(WITH_STATE, 5), True, 4, "state: batch 5 is outside 1..4"),
    (ENV_ONLY, obs(ENV_ONLY), True, None, f"env_state: expected shape (batch, {E}), got ({E},)"),
    (WITH_STATE, {"state": obs(WITH_STATE, 2)["state"], "env_state": obs(WITH_STATE, 3)["env_state"]}, True, None,
     f"env_state: expected shape (2, {E}), got (3, {E})"),
    (ENV_ONLY, _nan_env(ENV_ONLY), False, None, "env_state: non-finite value nan at index 7"),
    (ENV_ONLY, {"env_state": obs(ENV_ONLY)["env_state"].astype(np.int64)}, False, None,
     "env_state: expected dtype float32, got int64"),
]
GOOD = [
    (WITH_STATE, obs(WITH_STATE), False),
    (WITH_STATE, obs(WITH_STATE, 3), True),
    (ENV_ONLY, obs(ENV_ONLY), False),
    (ENV_ONLY, {"env_state": obs(ENV_ONLY, 2)["env_state"].astype(np.float64)}, True),
]


def test_camera_less_io_has_no_image_input():
    assert [e["name"] for e in WITH_STATE] == ["state", "env_state"]
    assert [e["name"] for e in ENV_ONLY] == ["env_state"]


@pytest.mark.parametrize("io, observation, batched, max_batch, message", BAD)
def test_python_rejects_with_the_documented_message(io, observation, batched, max_batch, message):
    with pytest.raises(ObservationError) as info:
        validate_observation(io, observation, batched=batched, max_batch=max_batch)
    assert str(info.value) == message


@pytest.mark.parametrize("io, observation, batched", GOOD)
def test_python_accepts_observations_without_images(io, observation, batched):
    want = observation["env_state"].shape[0] if batched else 1
    assert validate_observation(io, observation, batched=batched) == want


def test_images_to_a_camera_bundle_still_uses_the_plain_message():
    """The 'has no cameras' reason is only for camera-less bundles; a camera bundle's unknown field is unchanged."""
    io = io_description(ActSpec(cameras=(), state_dim=S, env_state_dim=E, action_dim=4, chunk_size=5))["inputs"]
    cam_io = [{"name": "images", "dtype": "uint8", "shape": ["batch", 1, 48, 64, 3], "layout": "BNHWC",
               "cameras": ["top"]}] + io
    with pytest.raises(ObservationError, match=r"^observation\['depth'\]: unknown field \(expected one of"):
        validate_observation(cam_io, obs(io, images={"top": frame()}, depth={}))


# --- C++ parity ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cpp():
    from cpp_build import build_cpp, import_cpp

    return import_cpp(build_cpp())


def _cpp_max(max_batch):
    return {} if max_batch is None else {"max_batch": max_batch}


@pytest.mark.parametrize("io, observation, batched, max_batch, message", BAD)
def test_cpp_gives_the_same_message(cpp, io, observation, batched, max_batch, message):
    assert cpp.check_observation(io, observation, batched, **_cpp_max(max_batch)) == message
    with pytest.raises(cpp.ObservationError) as info:
        cpp.validate_observation(json.dumps(io), observation, batched, **_cpp_max(max_batch))
    assert str(info.value) == message


@pytest.mark.parametrize("io, observation, batched", GOOD)
def test_cpp_accepts_observations_without_images(cpp, io, observation, batched):
    assert cpp.check_observation(io, observation, batched) is None


def test_cpp_schema_refuses_io_without_any_observation_input(cpp):
    """state alone (no images, no env_state) is not a bundle LeRobot or act-edge makes: refused in one line."""
    only_state = [{"name": "state", "dtype": "float32", "shape": ["batch", 6], "layout": "BS"}]
    with pytest.raises(Exception, match="no images and no env_state input"):
        cpp.check_observation(only_state, {"state": np.ones(6, np.float32)}, False)
