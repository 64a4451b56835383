"""Write the runtime conformance cases shared by the Python and C++ runtimes (tests/conformance/*.json).

    python tools/make_conformance.py          # rewrites observation_cases.json, post_steps_cases.json,
                                              # ensemble_cases.json, finite_cases.json
    python tools/make_conformance.py --check  # exit 1 if a committed file differs from what this writes

The arrays are drawn from a fixed seed, so the output is reproducible; the files are committed and read
by tests/test_conformance_*.py (pytest) and cpp_bindings/tests/conformance.test.cpp (Catch2). Expected
messages are written here from the rules in docs/ (observation-rules.md, runtime-rules.md); expected
actions come from float64 references written here from the definitions, not from either runtime.
numpy only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "conformance"
VERSION = 1
F32_MAX = float(np.finfo(np.float32).max)
FINITE_TAIL = " (the ensemble/queue was not updated); check the observation's scale and the bundle"


# --- array encoding ---------------------------------------------------------------------------------

def enc_value(v: float) -> Any:
    if math.isnan(v):
        return "-nan" if math.copysign(1.0, v) < 0 else "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def arr(a: np.ndarray) -> dict[str, Any]:
    """{"dtype", "shape", "data"}: data flat in C order; nan/inf written as the strings "nan", "inf", "-inf"."""
    a = np.asarray(a)
    if a.dtype == np.float32 or a.dtype == np.float16:  # the shortest text that reads back as the same value
        data = [float(str(x)) if np.isfinite(x) else enc_value(float(x)) for x in a.reshape(-1)]
    elif a.dtype.kind == "f":
        data = [enc_value(float(x)) for x in a.reshape(-1)]
    else:
        data = [int(x) for x in a.reshape(-1)]
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": data}


# --- observation cases ------------------------------------------------------------------------------

SCHEMAS = {
    "two_cams": {
        "about": "two cameras of one resolution (a stacked images array is allowed), state 5",
        "max_batch": 4,
        "io_inputs": [
            {"name": "images", "dtype": "uint8", "shape": ["batch", 2, 6, 8, 3], "layout": "BNHWC",
             "cameras": ["top", "wrist"]},
            {"name": "state", "dtype": "float32", "shape": ["batch", 5], "layout": "BS", "units": "robot"}],
    },
    "mixed_res": {
        "about": "two cameras of different resolutions (no stacked array), state 3, env_state 2",
        "max_batch": 2,
        "io_inputs": [
            {"name": "images_6x8", "dtype": "uint8", "shape": ["batch", 1, 6, 8, 3], "layout": "BNHWC",
             "cameras": ["top"]},
            {"name": "images_4x5", "dtype": "uint8", "shape": ["batch", 1, 4, 5, 3], "layout": "BNHWC",
             "cameras": ["wrist"]},
            {"name": "state", "dtype": "float32", "shape": ["batch", 3], "layout": "BS", "units": "robot"},
            {"name": "env_state", "dtype": "float32", "shape": ["batch", 2], "layout": "BS", "units": "robot"}],
    },
    "rgbd": {
        "about": "one RGB-D camera, state 4, env_state 2",
        "max_batch": 3,
        "io_inputs": [
            {"name": "images", "dtype": "uint8", "shape": ["batch", 1, 4, 6, 3], "layout": "BNHWC", "cameras": ["cam"]},
            {"name": "depth", "dtype": "float32", "shape": ["batch", 1, 4, 6], "layout": "BNHW", "cameras": ["cam"]},
            {"name": "state", "dtype": "float32", "shape": ["batch", 4], "layout": "BS", "units": "robot"},
            {"name": "env_state", "dtype": "float32", "shape": ["batch", 2], "layout": "BS", "units": "robot"}],
    },
    "camera_less": {
        "about": "no cameras (a LeRobot state-only policy): state 3, env_state 2",
        "max_batch": 3,
        "io_inputs": [
            {"name": "state", "dtype": "float32", "shape": ["batch", 3], "layout": "BS", "units": "robot"},
            {"name": "env_state", "dtype": "float32", "shape": ["batch", 2], "layout": "BS", "units": "robot"}],
    },
    "env_only": {
        "about": "no cameras and no robot state: env_state 4 only (the batch comes from env_state)",
        "max_batch": 2,
        "io_inputs": [
            {"name": "env_state", "dtype": "float32", "shape": ["batch", 4], "layout": "BS", "units": "robot"}],
    },
}


class Obs:
    """Builds observations (random values) for one schema; fields kept in insertion order."""

    def __init__(self, rng: np.random.Generator, schema: str) -> None:
        self.rng = rng
        self.io = SCHEMAS[schema]["io_inputs"]

    def cams(self) -> list[tuple[str, tuple[int, int]]]:
        out = []
        for e in self.io:
            if e["dtype"] == "uint8":
                out += [(c, (e["shape"][2], e["shape"][3])) for c in e["cameras"]]
        return out

    def dim(self, name: str) -> int | None:
        for e in self.io:
            if e["name"] == name:
                return e["shape"][1]
        return None

    def u8(self, shape: tuple[int, ...]) -> dict[str, Any]:
        return {"array": arr(self.rng.integers(0, 256, shape, dtype=np.uint8))}

    def f(self, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
        return self.rng.uniform(-2, 2, shape).astype(dtype)

    def good(self, batch: int | None = None, stacked: bool = False, state_dtype: str = "float32") -> dict[str, Any]:
        lead = () if batch is None else (batch,)
        obs: dict[str, Any] = {}
        if self.dim("state"):
            obs["state"] = {"array": arr(self.f(lead + (self.dim("state"),), state_dtype))}
        cams = self.cams()
        if not cams:
            pass
        elif stacked:
            h, w = cams[0][1]
            obs["images"] = self.u8(lead + (len(cams), h, w, 3))
        else:
            obs["images"] = {"cameras": {c: self.u8(lead + (h, w, 3)) for c, (h, w) in cams}}
        if any(e["name"] == "depth" for e in self.io):
            obs["depth"] = {"cameras": {c: {"array": arr(self.rng.uniform(0.1, 3, lead + (h, w)).astype(np.float32))}
                                        for c, (h, w) in cams}}
        if self.dim("env_state"):
            obs["env_state"] = {"array": arr(self.f(lead + (self.dim("env_state"),), "float64"))}
        return obs


def with_value(field: dict[str, Any], index: int, value: float) -> dict[str, Any]:
    a = dict(field["array"])
    data = list(a["data"])
    data[index] = enc_value(value)
    return {"array": {**a, "data": data}}


def observation_cases() -> dict[str, Any]:
    rng = np.random.default_rng(20260412)
    cases: list[dict[str, Any]] = []

    def case(name: str, schema: str, obs: Any, expect: Any, batched: bool = False, **extra: Any) -> None:
        c = {"name": name, "schema": schema, "batched": batched, "obs": obs}
        c["expect"] = {"batch": expect} if isinstance(expect, int) else {"error": expect}
        c.update(extra)
        cases.append(c)

    two, mixed, rgbd = Obs(rng, "two_cams"), Obs(rng, "mixed_res"), Obs(rng, "rgbd")
    # accepted
    case("ok_dict", "two_cams", two.good(), 1)
    case("ok_stacked", "two_cams", two.good(stacked=True), 1)
    case("ok_float64_state", "two_cams", two.good(state_dtype="float64"), 1)
    g = two.good(state_dtype="float64")
    g["state"] = with_value(g["state"], 3, F32_MAX)
    case("ok_float32_max_itself", "two_cams", g, 1)
    g = two.good(state_dtype="float64")
    g["state"] = with_value(g["state"], 0, -F32_MAX)
    case("ok_minus_float32_max", "two_cams", g, 1)
    case("ok_batched_dict", "two_cams", two.good(batch=3), 3, batched=True)
    case("ok_batched_stacked", "two_cams", two.good(batch=2, stacked=True), 2, batched=True)
    case("ok_batched_at_max_batch", "two_cams", two.good(batch=4), 4, batched=True)
    case("ok_batched_one", "two_cams", two.good(batch=1), 1, batched=True)
    case("ok_mixed_res", "mixed_res", mixed.good(), 1)
    case("ok_mixed_res_batched", "mixed_res", mixed.good(batch=2), 2, batched=True)
    case("ok_rgbd", "rgbd", rgbd.good(), 1)
    case("ok_rgbd_batched", "rgbd", rgbd.good(batch=3), 3, batched=True)
    g = two.good()
    g = {"images": g["images"], "state": g["state"]}
    case("ok_field_order_free", "two_cams", g, 1)

    # 1. not a mapping (Python only: a C++ Observation is always a set of named fields)
    case("s01_not_a_mapping", "two_cams", {"not_a_mapping": "list"}, "observation: expected a dict, got list",
         cpp=False, reason="a C++ Observation is a list of named fields: it cannot be anything but a mapping")
    case("s01_not_a_mapping_batched", "two_cams", {"not_a_mapping": "NoneType"},
         "observation: expected a dict, got NoneType", batched=True, cpp=False,
         reason="a C++ Observation is a list of named fields: it cannot be anything but a mapping")
    # 2. unknown top-level key: the first in sorted order, before any missing one
    g = two.good()
    g["zz_extra"] = {"other": "int"}
    g["aa_extra"] = {"array": arr(two.f((2,)))}
    case("s02_unknown_field_first_sorted", "two_cams", g,
         "observation['aa_extra']: unknown field (expected one of ['images', 'state'])")
    g = two.good(batch=2)
    del g["state"]
    g["depth"] = {"cameras": {}}
    case("s02_unknown_before_missing", "two_cams", g,
         "observation['depth']: unknown field (expected one of ['images', 'state'])", batched=True)
    g = mixed.good()
    g["proprio"] = {"array": arr(mixed.f((3,)))}
    case("s02_unknown_field_lists_env_state", "mixed_res", g,
         "observation['proprio']: unknown field (expected one of ['env_state', 'images', 'state'])")
    # 3. missing top-level key, in the order state, images, depth, env_state
    g = two.good()
    del g["state"]
    case("s03_missing_state", "two_cams", g, "state: missing (expected float32 array of shape (5,))")
    g = two.good(batch=2)
    del g["state"]
    case("s03_missing_state_batched", "two_cams", g, "state: missing (expected float32 array of shape (batch, 5))",
         batched=True)
    g = two.good()
    del g["images"]
    case("s03_missing_images_stackable", "two_cams", g, "images: missing (expected uint8 array of shape (2, 6, 8, 3))")
    g = two.good(batch=2)
    del g["images"]
    case("s03_missing_images_batched", "two_cams", g,
         "images: missing (expected uint8 array of shape (batch, 2, 6, 8, 3))", batched=True)
    g = mixed.good()
    del g["images"], g["env_state"]
    case("s03_missing_images_mixed_res", "mixed_res", g,
         "images: missing (expected dict of uint8 arrays per camera 'top': (6, 8, 3), 'wrist': (4, 5, 3))")
    g = rgbd.good()
    del g["depth"], g["env_state"]
    case("s03_missing_depth", "rgbd", g, "depth: missing (expected dict of float32 arrays per camera 'cam': (4, 6))")
    g = rgbd.good(batch=2)
    del g["env_state"]
    case("s03_missing_env_state_batched", "rgbd", g,
         "env_state: missing (expected float32 array of shape (batch, 2))", batched=True)
    # 4. images / depth containers
    g = two.good()
    g["images"] = {"other": "list"}
    case("s04_images_a_list", "two_cams", g, "images: expected a dict of cameras or a uint8 array, got list")
    g = two.good(batch=2)
    g["images"] = {"other": "int"}
    case("s04_images_an_int_batched", "two_cams", g, "images: expected a dict of cameras or a uint8 array, got int",
         batched=True)
    g = mixed.good()
    g["images"] = {"array": arr(rng.integers(0, 256, (2, 6, 8, 3), dtype=np.uint8))}
    case("s04_stacked_with_mixed_resolutions", "mixed_res", g,
         "images: expected a dict of cameras (the cameras have different resolutions), got ndarray")
    g = rgbd.good()
    g["depth"] = {"array": arr(rng.uniform(0, 2, (1, 4, 6)).astype(np.float32))}
    case("s04_depth_an_array", "rgbd", g, "depth: expected a dict of cameras, got ndarray")
    g = rgbd.good(batch=2)
    g["depth"] = {"other": "str"}
    case("s04_depth_a_str_batched", "rgbd", g, "depth: expected a dict of cameras, got str", batched=True)
    g = rgbd.good()
    g["images"] = {"other": "NoneType"}
    g["depth"] = {"other": "list"}
    case("s04_images_before_depth", "rgbd", g, "images: expected a dict of cameras or a uint8 array, got NoneType")
    # 5. unknown camera (first in sorted order)
    g = two.good()
    g["images"]["cameras"]["side"] = two.u8((6, 8, 3))
    g["images"]["cameras"]["back"] = two.u8((6, 8, 3))
    case("s05_unknown_camera_first_sorted", "two_cams", g,
         "images['back']: unknown camera (expected one of ['top', 'wrist'])")
    g = rgbd.good()
    g["depth"]["cameras"]["wrist"] = {"array": arr(rgbd.f((4, 6)))}
    case("s05_unknown_depth_camera", "rgbd", g, "depth['wrist']: unknown camera (expected one of ['cam'])")
    g = two.good()
    del g["images"]["cameras"]["top"]
    g["images"]["cameras"]["side"] = two.u8((6, 8, 3))
    case("s05_unknown_before_missing_camera", "two_cams", g,
         "images['side']: unknown camera (expected one of ['top', 'wrist'])")
    # 6. missing camera (manifest order)
    g = two.good()
    del g["images"]["cameras"]["wrist"]
    case("s06_missing_camera", "two_cams", g, "images['wrist']: missing (expected uint8 array of shape (6, 8, 3))")
    g = two.good(batch=2)
    g["images"]["cameras"] = {}
    case("s06_missing_cameras_manifest_order_batched", "two_cams", g,
         "images['top']: missing (expected uint8 array of shape (batch, 6, 8, 3))", batched=True)
    g = rgbd.good()
    g["depth"]["cameras"] = {}
    case("s06_missing_depth_camera", "rgbd", g, "depth['cam']: missing (expected float32 array of shape (4, 6))")
    # 7. not an array / 8. wrong dtype (checked together, field by field in check order)
    g = two.good()
    g["state"] = {"other": "list"}
    case("s07_state_a_list", "two_cams", g, "state: expected a numpy array, got list")
    g = two.good()
    g["images"]["cameras"]["wrist"] = {"other": "list"}
    case("s07_camera_a_list", "two_cams", g, "images['wrist']: expected a numpy array, got list")
    g = two.good()
    g["state"] = {"cameras": {"joints": g["state"]}}  # a mapping where a vector belongs
    case("s07_state_a_dict", "two_cams", g, "state: expected a numpy array, got dict")
    g = mixed.good(batch=2)
    g["env_state"] = {"cameras": {"a": g["env_state"], "b": g["state"]}}
    case("s07_env_state_a_dict_batched", "mixed_res", g, "env_state: expected a numpy array, got dict", batched=True)
    g = mixed.good(batch=2)
    g["env_state"] = {"other": "tuple"}
    case("s07_env_state_a_tuple_batched", "mixed_res", g, "env_state: expected a numpy array, got tuple", batched=True)
    g = two.good()
    g["state"] = {"array": arr(rng.integers(-5, 5, (5,), dtype=np.int64))}
    case("s08_state_int64", "two_cams", g, "state: expected dtype float32, got int64")
    g = two.good()
    g["state"] = {"array": arr(two.f((5,), "float16"))}
    case("s08_state_float16", "two_cams", g, "state: expected dtype float32, got float16")
    g = two.good()
    g["images"]["cameras"]["top"] = {"array": arr(two.f((6, 8, 3)))}
    case("s08_camera_float32", "two_cams", g, "images['top']: expected dtype uint8, got float32")
    g = two.good(stacked=True)
    g["images"] = {"array": arr(rng.integers(0, 256, (2, 6, 8, 3), dtype=np.int64))}
    case("s08_stacked_int64", "two_cams", g, "images: expected dtype uint8, got int64")
    g = rgbd.good(batch=2)
    g["depth"]["cameras"]["cam"] = {"array": arr(rgbd.f((2, 4, 6), "float64"))}
    case("s08_depth_float64_batched", "rgbd", g, "depth['cam']: expected dtype float32, got float64", batched=True)
    g = two.good()
    g["state"] = {"array": arr(rng.integers(-5, 5, (5,), dtype=np.int64))}
    g["images"]["cameras"]["top"] = {"other": "list"}
    case("s07_s08_field_by_field", "two_cams", g, "state: expected dtype float32, got int64")
    g = two.good()
    g["state"] = {"array": arr(two.f((4,)))}
    g["images"]["cameras"]["top"] = {"other": "list"}
    case("s08_before_any_shape", "two_cams", g, "images['top']: expected a numpy array, got list")
    # 9. shape
    g = two.good()
    g["state"] = {"array": arr(two.f((6,)))}
    case("s09_state_shape", "two_cams", g, "state: expected shape (5,), got (6,)")
    g = two.good()
    g["state"] = {"array": arr(two.f((1, 5)))}
    case("s09_state_with_batch_axis_unbatched", "two_cams", g, "state: expected shape (5,), got (1, 5)")
    g = two.good()
    g["images"]["cameras"]["wrist"] = two.u8((8, 6, 3))
    case("s09_camera_transposed", "two_cams", g, "images['wrist']: expected shape (6, 8, 3), got (8, 6, 3)")
    g = two.good(stacked=True)
    g["images"] = two.u8((1, 6, 8, 3))
    case("s09_stacked_one_camera_short", "two_cams", g, "images: expected shape (2, 6, 8, 3), got (1, 6, 8, 3)")
    g = two.good(batch=3)
    g["state"] = {"array": arr(two.f((3, 6)))}
    case("s09_batched_state_shape", "two_cams", g, "state: expected shape (batch, 5), got (3, 6)", batched=True)
    g = two.good(batch=3)
    g["state"] = {"array": arr(two.f((5,)))}
    case("s09_batched_state_without_batch_axis", "two_cams", g, "state: expected shape (batch, 5), got (5,)",
         batched=True)
    g = rgbd.good()
    g["depth"]["cameras"]["cam"] = {"array": arr(rgbd.f((4, 6, 1)))}
    case("s09_depth_shape", "rgbd", g, "depth['cam']: expected shape (4, 6), got (4, 6, 1)")
    g = mixed.good()
    g["env_state"] = {"array": arr(mixed.f((3,), "float64"))}
    case("s09_env_state_shape", "mixed_res", g, "env_state: expected shape (2,), got (3,)")
    g = two.good()
    g["state"] = {"array": arr(two.f((6,)))}
    g["images"]["cameras"]["top"] = {"array": arr(two.f((6, 8, 3)))}
    case("s08_before_s09", "two_cams", g, "images['top']: expected dtype uint8, got float32")
    # 10. batched: batch differs from state's
    g = two.good(batch=3)
    g["images"]["cameras"]["wrist"] = two.u8((2, 6, 8, 3))
    case("s10_camera_batch_differs", "two_cams", g, "images['wrist']: expected shape (3, 6, 8, 3), got (2, 6, 8, 3)",
         batched=True)
    g = mixed.good(batch=2)
    g["env_state"] = {"array": arr(mixed.f((1, 2), "float64"))}
    case("s10_env_state_batch_differs", "mixed_res", g, "env_state: expected shape (2, 2), got (1, 2)", batched=True)
    g = two.good(batch=3)
    g["images"]["cameras"]["top"] = two.u8((2, 6, 8, 3))
    g["images"]["cameras"]["wrist"] = two.u8((3, 8, 6, 3))
    case("s09_s10_field_by_field", "two_cams", g, "images['top']: expected shape (3, 6, 8, 3), got (2, 6, 8, 3)",
         batched=True)
    # 11. batched: batch outside 1..max_batch
    case("s11_batch_above_max", "two_cams", two.good(batch=5), "state: batch 5 is outside 1..4", batched=True)
    case("s11_batch_zero", "two_cams", two.good(batch=0), "state: batch 0 is outside 1..4", batched=True)
    g = two.good(batch=5)
    g["images"]["cameras"]["top"] = two.u8((5, 6, 7, 3))
    case("s10_shape_before_s11", "two_cams", g, "images['top']: expected shape (batch, 6, 8, 3), got (5, 6, 7, 3)",
         batched=True)
    # 12. non-finite value (state, depth, env_state; flat index)
    g = two.good()
    g["state"] = with_value(g["state"], 2, math.nan)
    case("s12_state_nan", "two_cams", g, "state: non-finite value nan at index 2")
    g = two.good(state_dtype="float64")
    g["state"] = with_value(g["state"], 4, -math.inf)
    case("s12_state_float64_minus_inf", "two_cams", g, "state: non-finite value -inf at index 4")
    g = two.good(batch=3)
    g["state"] = with_value(g["state"], 7, math.inf)
    case("s12_batched_state_flat_index", "two_cams", g, "state: non-finite value inf at index 7", batched=True)
    g = rgbd.good()
    g["depth"]["cameras"]["cam"] = with_value(g["depth"]["cameras"]["cam"], 13, math.inf)
    g["env_state"] = with_value(g["env_state"], 0, math.nan)
    case("s12_depth_before_env_state", "rgbd", g, "depth['cam']: non-finite value inf at index 13")
    g = mixed.good(batch=2)
    g["env_state"] = with_value(g["env_state"], 3, math.nan)
    case("s12_env_state_batched", "mixed_res", g, "env_state: non-finite value nan at index 3", batched=True)
    g = two.good(state_dtype="float64")
    g["state"] = with_value(g["state"], 1, 1e300)
    g["state"] = with_value(g["state"], 3, math.nan)
    case("s12_nan_before_beyond_float32", "two_cams", g, "state: non-finite value nan at index 3")
    g = two.good(batch=5)
    g["state"] = with_value(g["state"], 0, math.nan)
    case("s11_before_s12", "two_cams", g, "state: batch 5 is outside 1..4", batched=True)
    # 13. float64 beyond float32's range
    g = two.good(state_dtype="float64")
    g["state"] = with_value(g["state"], 1, 1e300)
    case("s13_state_1e300", "two_cams", g,
         "state: value 1e+300 at index 1 is outside the float32 range (the model's input type; it would become inf)")
    g = mixed.good(batch=2)
    g["env_state"] = with_value(g["env_state"], 2, -3.5e38)
    case("s13_env_state_batched", "mixed_res", g,
         "env_state: value -3.5e+38 at index 2 is outside the float32 range (the model's input type; it would become inf)",
         batched=True)
    g = rgbd.good()
    g["env_state"] = with_value(g["env_state"], 1, 4e38)
    case("s13_env_state", "rgbd", g,
         "env_state: value 4e+38 at index 1 is outside the float32 range (the model's input type; it would become inf)")

    # camera-less bundles (appended last: the cases above keep their random data)
    cl, env = Obs(rng, "camera_less"), Obs(rng, "env_only")
    no_cams = "this bundle has no cameras"
    case("ok_camera_less", "camera_less", cl.good(), 1)
    case("ok_camera_less_batched", "camera_less", cl.good(batch=3), 3, batched=True)
    case("ok_env_only", "env_only", env.good(), 1)
    case("ok_env_only_batched", "env_only", env.good(batch=2), 2, batched=True)
    g = cl.good()
    g["images"] = {"cameras": {"top": cl.u8((6, 8, 3))}}
    case("cl_images_given", "camera_less", g, "observation['images']: unknown field: " + no_cams
         + " (expected one of ['env_state', 'state'])")
    g = cl.good(batch=2)
    g["images"] = cl.u8((2, 1, 6, 8, 3))
    case("cl_images_array_given_batched", "camera_less", g, "observation['images']: unknown field: " + no_cams
         + " (expected one of ['env_state', 'state'])", batched=True)
    g = cl.good()
    del g["env_state"]
    case("cl_missing_env_state", "camera_less", g, "env_state: missing (expected float32 array of shape (2,))")
    g = cl.good(batch=2)
    g["state"] = with_value(g["state"], 4, float("nan"))
    case("cl_state_nan_batched", "camera_less", g, "state: non-finite value nan at index 4", batched=True)
    g = cl.good(batch=4)
    case("cl_over_max_batch", "camera_less", g, "state: batch 4 is outside 1..3", batched=True)
    g = env.good()
    g["state"] = {"array": arr(env.f((3,)))}
    case("env_only_state_given", "env_only", g, "observation['state']: unknown field: this bundle has no robot-state input (expected one of ['env_state'])")
    g = env.good(batch=2)
    g["env_state"] = {"array": arr(env.f((2, 5)))}
    case("env_only_shape_batched", "env_only", g, "env_state: expected shape (batch, 4), got (2, 5)", batched=True)
    g = env.good()
    g["env_state"] = with_value(g["env_state"], 2, float("-inf"))
    case("env_only_inf", "env_only", g, "env_state: non-finite value -inf at index 2")

    schema_errors = [
        {"name": "unknown_input", "io_inputs": SCHEMAS["two_cams"]["io_inputs"] + [
            {"name": "proprio", "dtype": "float32", "shape": ["batch", 3]}],
         "error_type": "BundleError",
         "error": "manifest io.inputs: unknown input 'proprio' (this runtime knows images*, depth*, state, env_state)"},
    ]
    return {"version": VERSION,
            "about": "Observation validation (docs/observation-rules.md), shared by the Python and C++ runtimes. "
                     "Each case validates `obs` against `schemas[schema]` (manifest io.inputs; max_batch bounds a "
                     "batched observation) and expects {batch: n} (accepted) or {error: the exact one-line "
                     "ObservationError message}. obs: field -> {array: {dtype, shape, data}} | {cameras: {name: "
                     "value}} | {other: type name} (a non-array value of that Python type); {not_a_mapping: type "
                     "name} is an observation that is not a dict. data is flat, C order; \"nan\", \"-nan\", \"inf\", "
                     "\"-inf\" stand for those values. cpp: false marks a case the C++ API cannot express (reason says why). "
                     "schema_errors: io.inputs a runtime refuses with BundleError. Written by tools/make_conformance.py.",
            "schemas": SCHEMAS, "cases": cases, "schema_errors": schema_errors}


# --- post-steps ---------------------------------------------------------------------------------------

def snap_reference(actions: np.ndarray, snaps: list[tuple[int, float, float, float]]) -> np.ndarray:
    out = actions.astype(np.float32).copy()
    for i, t, lo, hi in snaps:
        col = out[..., i]
        out[..., i] = np.where(col > np.float32(t), np.float32(hi), np.float32(lo))
    return out


def post_steps_cases() -> dict[str, Any]:
    rng = np.random.default_rng(20260413)
    cases: list[dict[str, Any]] = []
    W = "manifest runtime.post_steps[0]: "

    def snap(indices: Any, threshold: Any, low: Any, high: Any) -> dict[str, Any]:
        return {"op": "snap_gripper", "indices": indices, "threshold": threshold, "low": low, "high": high}

    def apply_case(name: str, dim: int, steps: Any, shape: tuple[int, ...], snaps: list, ties: bool = False) -> None:
        a = rng.uniform(-1, 1, shape + (dim,)).astype(np.float32)
        if ties:  # values exactly at each threshold (ties go to low) and one float32 step either side
            for i, t, _, _ in snaps:
                t32 = np.float32(t)
                rows = a.reshape(-1, dim)
                rows[0::3, i] = t32
                rows[1::3, i] = np.nextafter(t32, np.float32(np.inf))
                rows[2::3, i] = np.nextafter(t32, np.float32(-np.inf))
        cases.append({"name": name, "action_dim": dim, "post_steps": steps, "actions": arr(a),
                      "expect": {"actions": arr(snap_reference(a, snaps))}})

    apply_case("apply_one_snap_action", 5, [snap([1], [0.0], [-2.0], [2.0])], (), [(1, 0.0, -2.0, 2.0)])
    apply_case("apply_chunk", 5, [snap([1, 3], [0.0, 0.04], [-2.0, 0.0], [2.0, 0.08])], (6,),
               [(1, 0.0, -2.0, 2.0), (3, 0.04, 0.0, 0.08)])
    apply_case("apply_ties_go_low", 4, [snap([0, 2], [0.1, -0.3], [0, -1], [1, 1])], (8,),
               [(0, 0.1, 0.0, 1.0), (2, -0.3, -1.0, 1.0)], ties=True)
    apply_case("apply_two_steps_in_order", 4,
               [snap([2], [0.0], [-1.0], [1.0]), snap([2], [0.5], [3.0], [4.0])], (5,),
               [(2, 0.0, -1.0, 1.0), (2, 0.5, 3.0, 4.0)])
    apply_case("apply_batched_chunks", 3, [snap([0], [0.25], [-0.5], [0.5])], (2, 4), [(0, 0.25, -0.5, 0.5)])
    apply_case("apply_integral_float_index", 7, [snap([6.0], [0.0], [0], [1])], (3,), [(6, 0.0, 0.0, 1.0)])
    apply_case("apply_none", 3, None, (4,), [])
    apply_case("apply_empty_list", 3, [], (), [])

    def bad(name: str, dim: int, steps: Any, message: str) -> None:
        cases.append({"name": name, "action_dim": dim, "post_steps": steps, "expect": {"error": message}})

    bad("bool_index", 5, [snap([True], [0], [0], [1])], W + "index True is not an integer")
    bad("bool_index_false", 5, [snap([False], [0], [0], [1])], W + "index False is not an integer")
    bad("fractional_index", 5, [snap([3.7], [0], [0], [1])], W + "index 3.7 is not an integer")
    bad("string_index", 5, [snap(["1"], [0], [0], [1])], W + "index '1' is not an integer")
    bad("index_out_of_range", 5, [snap([5], [0], [0], [1])], W + "index 5 is outside the action's 0..4")
    bad("negative_index", 5, [snap([-1], [0], [0], [1])], W + "index -1 is outside the action's 0..4")
    bad("fractional_index_out_of_range", 5, [snap([7.5], [0], [0], [1])], W + "index 7.5 is outside the action's 0..4")
    bad("unknown_op", 5, [{"op": "clip", "indices": [0]}],
        W + "unknown op 'clip' (this runtime knows ['snap_gripper']); upgrade act-edge rather than run the policy "
            "without it")
    bad("op_missing", 5, [{"indices": [0]}],
        W + "unknown op None (this runtime knows ['snap_gripper']); upgrade act-edge rather than run the policy "
            "without it")
    bad("step_not_an_object", 5, ["snap_gripper"],
        W + "unknown op None (this runtime knows ['snap_gripper']); upgrade act-edge rather than run the policy "
            "without it")
    bad("not_a_list", 5, {"op": "snap_gripper"},
        "manifest runtime.post_steps: expected a list of steps, got {\"op\":\"snap_gripper\"}")
    bad("key_missing", 5, [{"op": "snap_gripper", "indices": [0], "threshold": [0], "low": [0]}],
        W + "snap_gripper needs indices, threshold, low, high ('high')")
    bad("indices_a_number", 5, [snap(3, [0], [0], [1])],
        W + "snap_gripper needs indices, threshold, low, high ('int' object is not iterable)")
    bad("threshold_null", 5, [snap([0], None, [0], [1])],
        W + "snap_gripper needs indices, threshold, low, high ('NoneType' object is not iterable)")
    bad("low_a_string", 5, [snap([0], [0], "0", [1])],
        W + "snap_gripper needs indices, threshold, low, high (low: expected a list, got \"0\")")
    bad("lengths_differ", 5, [snap([0, 1], [0], [0], [1])], W + "indices/threshold/low/high have different lengths")
    bad("threshold_a_string", 5, [snap([0], ["0.5"], [0], [1])], W + "threshold[0] '0.5' is not a number")
    bad("high_a_bool", 5, [snap([0], [0], [0], [True])], W + "high[0] True is not a number")
    bad("low_beyond_float32", 5, [snap([0, 1], [0, 0], [0, -1e39], [1, 1])],
        W + "low[1] -1e+39 is outside the float32 range")
    bad("low_not_below_high", 5, [snap([2], [0.5], [1.0], [1.0])], W + "low[0] 1.0 is not below high[0] 1.0")
    unknown_op = " (this runtime knows ['snap_gripper']); upgrade act-edge rather than run the policy without it"
    bad("op_case_differs", 5, [{"op": "Snap_Gripper"}], W + "unknown op 'Snap_Gripper'" + unknown_op)
    bad("op_a_number", 5, [{"op": 3}], W + "unknown op 3" + unknown_op)
    bad("op_a_float", 5, [{"op": 2.5}], W + "unknown op 2.5" + unknown_op)
    bad("op_a_list", 5, [{"op": ["snap_gripper"]}], W + "unknown op ['snap_gripper']" + unknown_op)
    bad("op_with_quote", 5, [{"op": "it's"}], W + "unknown op \"it's\"" + unknown_op)
    bad("step_a_number", 5, [7], W + "unknown op None" + unknown_op)
    bad("no_snap_keys", 5, [{"op": "snap_gripper"}], W + "snap_gripper needs indices, threshold, low, high ('indices')")
    bad("indices_a_string", 5, [snap("14", [0], [0], [1])],
        W + "snap_gripper needs indices, threshold, low, high (indices: expected a list, got \"14\")")
    bad("threshold_an_object", 5, [snap([0], {"a": 1}, [0], [1])],
        W + "snap_gripper needs indices, threshold, low, high (threshold: expected a list, got {\"a\":1})")
    bad("huge_index", 5, [snap([1e20], [0], [0], [1])], W + "index 1e+20 is outside the action's 0..4")
    bad("low_a_string_value", 5, [snap([0, 1], [0, 0], [0.0, "x"], [1, 1])], W + "low[1] 'x' is not a number")
    bad("second_step_bad", 5, [snap([0], [0], [0], [1]), snap([9], [0], [0], [1])],
        "manifest runtime.post_steps[1]: index 9 is outside the action's 0..4")
    return {"version": VERSION,
            "about": "runtime.post_steps (docs/runtime-rules.md, Post-steps), shared by the Python and C++ runtimes: "
                     "`post_steps` (the manifest value) for an action of `action_dim` values either applies to "
                     "`actions` ({dtype, shape, data}, float32) giving expect.actions exactly, or is refused at "
                     "load with expect.error, the exact one-line BundleError text. Written by tools/make_conformance.py.",
            "cases": cases}


# --- finite checks ------------------------------------------------------------------------------------

def finite_cases() -> dict[str, Any]:
    rng = np.random.default_rng(20260414)
    cases = []

    def case(name: str, shape: tuple[int, ...], bad: list[tuple[tuple[int, ...], float]], where: str | None) -> None:
        a = rng.standard_normal(shape).astype(np.float32)
        for idx, v in bad:
            a[idx] = v
        first = None
        if bad:
            flat = [np.ravel_multi_index(idx, shape) for idx, _ in bad]
            first = bad[int(np.argmin(flat))][1]
        expect: Any = "ok"
        if where is not None:
            what = "nan" if math.isnan(first) else ("inf" if first > 0 else "-inf")
            expect = {"error": f"model output: non-finite action {what} at {where}{FINITE_TAIL}"}
        cases.append({"name": name, "actions": arr(a), "expect": expect})

    case("finite_chunk", (8, 5), [], None)
    case("finite_batch_of_chunks", (3, 8, 5), [], None)
    big = float(np.finfo(np.float32).max)
    case("float32_max_is_finite", (4, 3), [((1, 2), big), ((3, 0), -big)], None)
    case("tiny_and_subnormal_are_finite", (2, 3), [((0, 1), float(np.finfo(np.float32).tiny)), ((1, 2), 1e-45)], None)
    case("nan_in_chunk", (8, 5), [((4, 1), math.nan)], "(4, 1)")
    case("inf_first_row", (8, 5), [((0, 0), math.inf)], "(0, 0)")
    case("minus_inf_last_value", (8, 5), [((7, 4), -math.inf)], "(7, 4)")
    case("first_in_c_order_wins", (8, 5), [((5, 0), math.nan), ((2, 3), math.inf), ((6, 1), -math.inf)], "(2, 3)")
    case("batched_chunks", (3, 8, 5), [((2, 0, 1), math.nan), ((1, 7, 4), -math.inf)], "(1, 7, 4)")
    case("one_action", (5,), [((3,), math.inf)], "(3,)")
    case("negative_nan_prints_nan", (5, 3), [((4, 1), -math.nan)], "(4, 1)")
    case("batch_of_one", (1, 6, 4), [((0, 5, 3), math.nan)], "(0, 5, 3)")
    return {"version": VERSION,
            "about": "The finite check on model output (docs/runtime-rules.md, Finite checks), shared by the Python "
                     "and C++ runtimes: `actions` (float32) passes (expect \"ok\") or is refused with expect.error, "
                     "the exact one-line ActionError text naming the first non-finite value in C order and its "
                     "index. Written by tools/make_conformance.py.",
            "cases": cases}


# --- ensemble and queue schedules ----------------------------------------------------------------------

def ensemble_reference(C: int, coeff: float, events: list[dict[str, Any]], chunks: dict[int, np.ndarray]) -> None:
    """Fill each pop/update event's expect from the definition: the action for tick t is
    sum_i exp(k (t - t0_i)) row_i[t - t0_i] / sum_i exp(k (t - t0_i)) over the added chunks i with
    t0_i <= t < t0_i + C (float64, weights relative to the oldest to stay in range); a tick none covers
    repeats the last action (starved), or is an error before any action since reset."""
    t = 0
    added: list[tuple[int, np.ndarray]] = []
    last = None
    for ev in events:
        op = ev["op"]
        if op == "reset":
            t, added, last = 0, [], None
            continue
        if ev.get("refused"):
            continue
        if op in ("add", "update"):
            added.append((t - ev.get("age", 0), chunks[ev["chunk_id"]].astype(np.float64)))
        if op in ("pop", "update"):
            live = [(t0, c) for t0, c in added if t0 <= t < t0 + C]
            if live:
                ages = np.array([t - t0 for t0, _ in live], dtype=np.float64)
                logw = coeff * ages
                w = np.exp(logw - logw.max())
                rows = np.stack([c[t - t0] for t0, c in live])
                last = (w[:, None] * rows).sum(0) / w.sum()
                ev["expect"] = {"action": [float(str(x)) for x in last.astype(np.float32)], "starved": False}
            elif last is not None:
                ev["expect"] = {"action": [float(str(x)) for x in last.astype(np.float32)], "starved": True}
            else:
                ev["expect"] = {"empty": True}
                continue  # nothing changes: the tick is not counted
            t += 1


def ensemble_cases() -> dict[str, Any]:
    rng = np.random.default_rng(20260415)
    cases: list[dict[str, Any]] = []

    def ensemble(name: str, C: int, A: int, coeff: float, schedule: list[Any]) -> None:
        """schedule: "u" update, ("a", age) add, "p" pop, "r" reset, ("u!", kind) / ("a!", age, kind[, row])
        a chunk with nan/inf (kind; in `row` if given, e.g. a row of a tick already passed) refused."""
        chunks: dict[int, np.ndarray] = {}
        events: list[dict[str, Any]] = []
        for s in schedule:
            s = (s,) if isinstance(s, str) else s
            op = s[0]
            if op in ("u", "a", "u!", "a!"):
                cid = len(chunks)
                c = rng.standard_normal((C, A)).astype(np.float32)
                ev: dict[str, Any] = {"op": "update" if op[0] == "u" else "add", "chunk_id": cid}
                if op[0] == "a":
                    ev["age"] = s[1]
                if op.endswith("!"):
                    kind = s[2] if op == "a!" else s[1]
                    r, col = divmod(int(rng.integers(0, C * A)), A)
                    if op == "a!" and len(s) > 3:
                        r = s[3]
                    c[r, col] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[kind]
                    ev["refused"] = True
                    ev["expect"] = {"error": f"model output: non-finite action {kind} at ({r}, {col}){FINITE_TAIL}"}
                chunks[cid] = c
                events.append(ev)
            elif op == "p":
                events.append({"op": "pop"})
            elif op == "r":
                events.append({"op": "reset"})
        ensemble_reference(C, coeff, events, chunks)
        cases.append({"name": name, "kind": "ensemble", "chunk_size": C, "action_dim": A, "coeff": enc_value(coeff),
                      "chunks": [arr(chunks[i]) for i in range(len(chunks))], "events": events})

    sync = ["u"] * 12
    ensemble("sync_act_default", 5, 3, 0.01, sync)
    ensemble("sync_plain_mean", 4, 2, 0.0, ["u"] * 9)
    ensemble("sync_newer_weigh_more", 4, 3, -0.2, ["u"] * 9)
    ensemble("sync_chunk_one", 1, 3, 0.01, ["u"] * 4)
    ensemble("sync_chunk_one_huge_coeff", 1, 2, 1e9, ["u"] * 4)
    ensemble("sync_reset_mid_episode", 4, 3, 0.01, ["u"] * 6 + ["r"] + ["u"] * 5)
    ensemble("refused_chunk_leaves_state", 4, 3, 0.01, ["u", "u", ("u!", "nan"), "u", ("u!", "-inf"), "u", "u"])
    ensemble("refused_first_chunk", 3, 2, 0.01, [("u!", "inf"), "u", "u"])
    # async arrival: a chunk predicted `age` ticks ago is used from its row `age`
    ensemble("async_late_chunks", 5, 3, 0.01,
             [("a", 0), "p", "p", ("a", 2), "p", ("a", 1), "p", "p", "p", ("a", 3), ("a", 0), "p", "p"])
    ensemble("async_starved_repeats_last", 3, 2, 0.01, [("a", 0), "p", "p", "p", "p", "p", ("a", 1), "p", "p"])
    ensemble("async_too_old_adds_nothing", 3, 2, 0.5, [("a", 0), "p", ("a", 3), ("a", 7), "p", "p", "p"])
    ensemble("async_pop_before_any_chunk", 4, 2, 0.01, ["p", ("a", 1), "p", "p", "r", "p"])
    ensemble("async_mixed_with_update", 4, 3, -0.1, ["u", "u", ("a", 1), "p", "u", ("a", 2), ("a", 0), "p", "u"])
    ensemble("async_refused_chunk", 4, 2, 0.01, [("a", 0), "p", ("a!", 1, "nan"), "p", ("a", 0), "p"])
    ensemble("async_refused_in_a_passed_row", 4, 2, 0.01, [("a", 0), "p", ("a!", 2, "inf", 0), "p", ("a!", 5, "-inf"),
                                                           ("a", 1), "p"])
    # limits: |k| (C - 1) <= 600 on both runtimes (float64 sums above 60 in Python, above 30 in C++)
    ensemble("limit_span_45", 10, 3, 5.0, ["u"] * 14 + [("a", 3), "p", "p"])
    ensemble("limit_span_300", 6, 2, 60.0, ["u"] * 9 + [("a", 2), "p", ("a", 1), "p", "p"])
    ensemble("limit_span_600_exactly", 4, 2, 200.0, ["u"] * 7 + [("a", 1), "p", "p"])
    ensemble("limit_span_600_negative", 3, 2, -300.0, ["u"] * 6 + [("a", 2), ("a", 0), "p", "p"])
    ensemble("limit_span_600_long_chunk", 61, 1, 10.0, ["u"] * 66 + [("a", 5), "p"])

    def refused(name: str, C: int, coeff: float, message: str) -> None:
        cases.append({"name": name, "kind": "ensemble", "chunk_size": C, "action_dim": 2, "coeff": enc_value(coeff),
                      "expect": {"error": message}})

    refused("limit_span_above_600", 4, 200.5,
            "temporal_ensemble_coeff 200.5 with chunk 4: weights span exp(602), beyond float64; use |coeff| <= 200")
    refused("limit_negative_above_600", 11, -60.01,
            "temporal_ensemble_coeff -60.01 with chunk 11: weights span exp(600), beyond float64; use |coeff| <= 60")
    refused("limit_act_chunk_100", 100, 7.0,
            "temporal_ensemble_coeff 7.0 with chunk 100: weights span exp(693), beyond float64; use |coeff| <= 6.06")
    refused("coeff_nan", 4, math.nan, "temporal_ensemble_coeff must be finite, got nan")
    refused("coeff_inf", 4, math.inf, "temporal_ensemble_coeff must be finite, got inf")

    def queue(name: str, C: int, A: int, n: int, schedule: str) -> None:
        """schedule: "u" push a chunk, "p" pop, "r" reset, "!" a chunk with nan (refused; the nan is in the
        last row, which the queue never executes when n_action_steps < chunk_size)."""
        chunks, events = [], []
        queued: list[np.ndarray] = []
        for s in schedule:
            if s in "u!":
                c = rng.standard_normal((C, A)).astype(np.float32)
                ev: dict[str, Any] = {"op": "push", "chunk_id": len(chunks)}
                if s == "!":
                    r, col = C - 1, int(rng.integers(0, A))
                    c[r, col] = np.nan
                    ev["refused"] = True
                    ev["expect"] = {"error": f"model output: non-finite action nan at ({r}, {col}){FINITE_TAIL}"}
                else:
                    queued = [c[i] for i in range(n)]
                chunks.append(c)
                events.append(ev)
            elif s == "p":
                if queued:
                    events.append({"op": "pop", "expect": {"action": [float(str(x)) for x in queued.pop(0)]}})
                else:
                    events.append({"op": "pop", "expect": {"empty": True}})
            elif s == "r":
                queued = []
                events.append({"op": "reset"})
            events[-1]["needs_chunk_after"] = not queued
        cases.append({"name": name, "kind": "queue", "chunk_size": C, "action_dim": A, "n_action_steps": n,
                      "chunks": [arr(c) for c in chunks], "events": events})

    queue("queue_whole_chunk", 4, 3, 4, "upppp" + "upp")
    queue("queue_first_n", 6, 2, 3, "uppp" + "upppp")
    queue("queue_one_step", 3, 2, 1, "upupup")
    queue("queue_reset_empties", 5, 2, 4, "upprpup")
    queue("queue_refused_chunk_keeps_queue", 5, 3, 3, "up!ppp!upp")
    return {"version": VERSION,
            "about": "Temporal ensemble and chunk queue schedules (docs/runtime-rules.md), shared by the Python and "
                     "C++ runtimes. ensemble: TemporalEnsemble(chunk_size, action_dim, coeff) then `events` in order: "
                     "update {chunk_id} (add at age 0, then pop), add {chunk_id, age} (predicted `age` ticks before "
                     "the current tick: used from its row `age`), pop, reset. A pop/update expects {action, starved} "
                     "(starved: no added chunk covers the tick, the last action repeats) or {empty: true} (no action "
                     "since reset: Python RuntimeError, C++ PopResult::empty); an event with refused: true carries a "
                     "chunk with nan/inf, refused with expect.error (exact ActionError text) and no state change. "
                     "A case with expect.error instead of events: the constructor refuses the coefficient "
                     "(ValueError / std::invalid_argument, exact text). queue: ChunkQueue(chunk_size, action_dim, "
                     "n_action_steps): push {chunk_id}, pop (expect {action} or {empty: true}), reset; "
                     "needs_chunk_after after each event. Actions compare within atol; expected actions come from a "
                     "float64 reference of the definition. Written by tools/make_conformance.py.",
            "atol": 2e-6, "cases": cases}


# --- async steppers (Policy inference="async", C++ AsyncStepper) -------------------------------------
def async_reference(case: dict[str, Any], chunks: list[np.ndarray]) -> dict[str, Any]:
    """The async step() schedule (docs/async.md), float64. Per step: fold the chunk that finished (age =
    t - t0; the largest age seen is the latency, kept across resets; a chunk requested before a reset is
    dropped); the episode's first step requests a chunk and waits for it (age 0); otherwise, with no
    request in flight and a chunk due, request one at this tick; then this tick's action: the ensemble
    over the arrived chunks covering t (none: the last action repeats, starved), or the queue's row
    t - t0 of the newest chunk (past row C-1 the last action repeats, starved). Due: the
    ensemble always; the queue when n_action_steps - (t - t0) <= margin (given, else latency + 1). A
    chunk reaching the queue C or more ticks late covers nothing and is not taken. The test driver lets
    request i finish at the end of step (its tick + latency[i]); a reset first lets the request in
    flight finish (so that it is dropped)."""
    C, k, n = case["chunk_size"], float(case.get("coeff") or 0.0), case.get("n_action_steps")
    queue = case["mode"] == "queue"
    latency_of = case["latency"]
    resets = set(case.get("reset_before", []))
    t, latency = 0, 0
    arrived: list[tuple[int, np.ndarray]] = []
    newest = -1
    last = None
    requests: list[int] = []  # episode tick of each request, in order
    in_flight: tuple[int, int] | None = None  # (request index, t0)
    made_at: dict[int, int] = {}  # request index -> the step that made it
    finished: tuple[int, int] | None = None
    stale: set[int] = set()
    actions, starved_flags = [], []

    def fold(req: tuple[int, int]) -> None:
        nonlocal latency, newest
        i, t0 = req
        if i in stale:
            return
        age = t - t0
        latency = max(latency, age)
        if queue and age >= C:
            return
        arrived.append((t0, chunks[i].astype(np.float64)))
        newest = max(newest, t0)

    for step in range(case["steps"]):
        if step in resets:
            if in_flight is not None:
                stale.add(in_flight[0])
                in_flight = None
            if finished is not None:
                stale.add(finished[0])
                finished = None
            t, arrived, newest, last = 0, [], -1, None
        if finished is not None:
            fold(finished)
            finished = None
        if newest < 0:
            requests.append(t)
            fold((len(requests) - 1, t))  # waited for: age 0
        elif in_flight is None:
            margin = case["refill_margin"] if case.get("refill_margin") is not None else latency + 1
            if not queue or n - (t - newest) <= margin:
                requests.append(t)
                in_flight = (len(requests) - 1, t)
                made_at[in_flight[0]] = step
        if queue:
            row = t - newest
            starved = row >= C
            if not starved:
                last = dict(arrived)[newest][row]
        else:
            live = [(t0, c) for t0, c in arrived if t0 <= t < t0 + C]
            starved = not live
            if live:
                ages = np.array([t - t0 for t0, _ in live], dtype=np.float64)
                w = np.exp(k * ages - (k * ages).max())
                last = (w[:, None] * np.stack([c[t - t0] for t0, c in live])).sum(0) / w.sum()
        actions.append([float(str(x)) for x in np.asarray(last).astype(np.float32)])
        starved_flags.append(bool(starved))
        if in_flight is not None and step >= made_at[in_flight[0]] + latency_of[in_flight[0]]:
            finished, in_flight = in_flight, None
        t += 1
    return {"actions": actions, "starved": starved_flags, "request_ticks": requests}


def async_cases() -> dict[str, Any]:
    rng = np.random.default_rng(20261202)
    cases: list[dict[str, Any]] = []

    def stepper(name: str, mode: str, C: int, A: int, steps: int, latency: list[int], coeff: float | None = None,
                n: int | None = None, margin: int | None = None, reset_before: list[int] | None = None) -> None:
        latency = [latency[i % len(latency)] if i < len(latency) else latency[1 + (i - 1) % (len(latency) - 1)]
                   for i in range(steps + 1)]  # the pattern repeats (after its first, waited-for request)
        chunks = [rng.standard_normal((C, A)).astype(np.float32) for _ in range(len(latency))]
        case: dict[str, Any] = {"name": name, "kind": "async", "mode": mode, "chunk_size": C, "action_dim": A,
                                "steps": steps}
        if mode == "ensemble":
            case["coeff"] = coeff
        else:
            case["n_action_steps"], case["refill_margin"] = n, margin
        case["latency"] = latency
        if reset_before:
            case["reset_before"] = reset_before
        case["expect"] = async_reference(case, chunks)
        case["chunks"] = [arr(c) for c in chunks[:len(case["expect"]["request_ticks"])]]
        case["latency"] = latency[:len(case["expect"]["request_ticks"])]
        cases.append(case)

    stepper("ensemble_latency_2", "ensemble", 6, 3, 14, [0] + [2] * 8, coeff=0.01)
    stepper("ensemble_random_latency", "ensemble", 5, 2, 24, [0, 0, 3, 1, 6, 2, 0, 4, 1, 5, 0, 2, 3, 1], coeff=-0.2)
    stepper("ensemble_starves_then_recovers", "ensemble", 3, 2, 12, [0, 5, 0, 1, 0, 2], coeff=0.5)
    stepper("ensemble_reset_drops_in_flight", "ensemble", 4, 2, 14, [0, 1, 4, 0, 1, 2, 0, 1, 0], coeff=0.01,
            reset_before=[5])
    stepper("queue_on_time", "queue", 8, 3, 30, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1], n=4, margin=2)
    stepper("queue_late_runs_rows_past_n", "queue", 8, 2, 24, [0, 3, 1, 2, 0, 3, 1], n=3, margin=0)
    stepper("queue_late_past_row_c_starves", "queue", 5, 2, 22, [0, 7, 0, 2, 9, 1], n=3, margin=0)
    stepper("queue_measured_margin", "queue", 10, 2, 40, [0, 3, 3, 3, 3, 3, 3, 3], n=8, margin=None)
    stepper("queue_reset_drops_in_flight", "queue", 6, 2, 20, [0, 4, 0, 1, 2, 1, 0, 1], n=4, margin=1,
            reset_before=[4])
    return {"version": VERSION,
            "about": "Async step() schedules (docs/async.md): the Python Policy(inference=\"async\") and the C++ "
                     "AsyncStepper driven by the same test script. Per case: a model whose i-th request returns "
                     "chunks[i] and finishes when the driver lets it: at the end of the step that is latency[i] "
                     "steps after the step that requested it (0: the same step; the episode's first request is "
                     "waited for inside step()). reset_before: steps before which the driver lets the request in "
                     "flight finish, then calls reset() (that chunk must be dropped). mode ensemble (coeff) or queue "
                     "(n_action_steps, refill_margin; null = measured latency + 1). expect: the action of each step "
                     "(atol), whether it was starved (the last action repeated), and the episode tick of each "
                     "request in order. Written by tools/make_conformance.py.",
            "atol": 2e-6, "cases": cases}


FILES = {"observation_cases.json": observation_cases, "post_steps_cases.json": post_steps_cases,
         "finite_cases.json": finite_cases, "ensemble_cases.json": ensemble_cases,
         "async_cases.json": async_cases}


def render(doc: dict[str, Any]) -> str:
    """One case per line: diffs stay readable, the file stays small."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    lines = [json.dumps(head, indent=1, allow_nan=False)[:-2] + ",", ' "cases": [']
    lines += ["  " + json.dumps(c, allow_nan=False) + ("," if i < len(doc["cases"]) - 1 else "")
              for i, c in enumerate(doc["cases"])]
    return "\n".join(lines) + "\n ]\n}\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args(argv)
    stale = []
    for name, make in FILES.items():
        text = render(make())
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)} (run python tools/make_conformance.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
