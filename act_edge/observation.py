"""Observation validation and staging, driven by the bundle's `io` entries.

The rules and the exact messages are in docs/observation-rules.md (the C++ runtime mirrors them).

Validation reads only the observation; `stage()` then copies it into the backend's input buffers.
Neither allocates arrays on the single-observation path (the finite test is a max and a min
reduction: both propagate nan and keep +-inf). The model takes float32: a float64 value beyond
float32's range (1e300) would become inf in the cast, so it is refused like inf itself.
"""

from __future__ import annotations

import sys

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ObservationError
from .spec import ActSpec

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_U8 = np.dtype(np.uint8)
_F32 = np.dtype(np.float32)
_max = np.maximum.reduce
_min = np.minimum.reduce
_F32_MAX = float(np.finfo(np.float32).max)


def _shape_str(shape: tuple[Any, ...]) -> str:
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


@dataclass
class _Camera:
    name: str
    input_name: str  # graph input holding this camera ("images", "images_480x640", "depth", ...)
    index: int  # position in that input's N axis
    shape: tuple[int, ...]  # (H, W, 3) for colour, (H, W) for depth


class ObservationValidator:
    """Checks observations against one bundle's inputs and stages them into host buffers."""

    def __init__(self, spec: ActSpec | None, io_inputs: list[dict[str, Any]], max_batch: int) -> None:
        self.spec = spec
        self.max_batch = max_batch
        self.camera_names = spec.camera_names if spec is not None else \
            [c for e in io_inputs if e["dtype"] == "uint8" for c in e["cameras"]]
        self.images: list[_Camera] = []
        self.depth: list[_Camera] = []
        self.vectors: dict[str, tuple[str, int]] = {}  # field -> (input name, dim)
        image_inputs = []
        for entry in io_inputs:
            name, shape = entry["name"], entry["shape"]
            if entry["dtype"] == "uint8":
                image_inputs.append(name)
                for i, cam in enumerate(entry["cameras"]):
                    self.images.append(_Camera(cam, name, i, tuple(int(d) for d in shape[2:])))
            elif "cameras" in entry:
                for i, cam in enumerate(entry["cameras"]):
                    self.depth.append(_Camera(cam, name, i, tuple(int(d) for d in shape[2:])))
            elif name in ("state", "env_state"):
                self.vectors[name] = (name, int(shape[1]))
            else:
                raise ValueError(f"bundle input {name!r} is not one this runtime knows how to feed")
        order = {c: i for i, c in enumerate(self.camera_names)}
        self.images.sort(key=lambda c: order[c.name])
        self.depth.sort(key=lambda c: order[c.name])
        # A stacked (N, H, W, 3) images array is allowed when all cameras are in one graph input.
        self.stacked_input = image_inputs[0] if len(image_inputs) == 1 else None
        self.stacked_shape = (len(self.images), *self.images[0].shape) if self.stacked_input else None
        self.fields = (["state"] if "state" in self.vectors else []) + (["images"] if self.images else []) + \
                      (["depth"] if self.depth else []) + (["env_state"] if "env_state" in self.vectors else [])
        # Fields a camera-less (or state-less) bundle does not take: named with the reason.
        self._absent_reason = {} if self.images else {"images": "this bundle has no cameras",
                                                      "depth": "this bundle has no cameras"}
        if "state" not in self.vectors:
            self._absent_reason["state"] = "this bundle has no robot-state input"
        self._fields_set = frozenset(self.fields)
        self._expected_fields = repr(sorted(self.fields))
        self._cam_list = repr(self.camera_names)
        self._image_set = frozenset(c.name for c in self.images)
        self._depth_set = frozenset(c.name for c in self.depth)
        self._descs_dict = self._descriptors(stacked=False)
        self._descs_stacked = self._descriptors(stacked=True) if self.stacked_input else []
        # Indices of the float fields (finite check), for dict-images [0] and stacked [1] layouts.
        self._finite_idx = tuple(tuple(i for i, d in enumerate(descs) if d[5])
                                 for descs in (self._descs_dict, self._descs_stacked))

    # ---------------------------------------------------------------------------------------------
    def validate(self, obs: Any, batched: bool = False) -> int:
        """Raise ObservationError for the first rule `obs` breaks; return its batch size (1 if single)."""
        if not isinstance(obs, Mapping):
            raise ObservationError(f"observation: expected a dict, got {type(obs).__name__}")
        fields = self._fields_set
        if len(obs) != len(fields) or not fields.issuperset(obs):
            unknown = [k for k in obs if k not in fields]
            if unknown:
                key = sorted(unknown, key=str)[0]
                reason = self._absent_reason.get(key) if isinstance(key, str) else None
                raise ObservationError(f"observation[{key!r}]: unknown field"
                                       f"{': ' + reason if reason else ''} (expected one of {self._expected_fields})")
            for field in self.fields:
                if field not in obs:
                    raise ObservationError(f"{field}: missing (expected {self._missing_hint(field, batched)})")

        images = obs["images"] if self.images else None
        if images is None:  # a camera-less bundle
            descs = self._descs_dict
        elif isinstance(images, np.ndarray):
            if self.stacked_shape is None:
                raise ObservationError(
                    "images: expected a dict of cameras (the cameras have different resolutions), got ndarray")
            descs = self._descs_stacked
        elif isinstance(images, Mapping):
            self._check_cameras("images", images, batched)
            descs = self._descs_dict
        else:
            raise ObservationError(
                f"images: expected a dict of cameras or a uint8 array, got {type(images).__name__}")
        if self.depth:
            depth = obs["depth"]
            if not isinstance(depth, Mapping):
                raise ObservationError(f"depth: expected a dict of cameras, got {type(depth).__name__}")
            self._check_cameras("depth", depth, batched)
        # The arrays, in the order of `descs`: (label, source, key, dtypes, shape, check_finite).
        arrs = [obs[key] if src is None else obs[src][key] for _, src, key, _, _, _ in descs]
        i = 0
        for arr in arrs:
            if type(arr) is not np.ndarray and not isinstance(arr, np.ndarray):
                raise ObservationError(f"{descs[i][0]}: expected a numpy array, got {type(arr).__name__}")
            if arr.dtype not in descs[i][3]:
                raise ObservationError(f"{descs[i][0]}: expected dtype {descs[i][3][0]}, got {arr.dtype}")
            i += 1
        batch = 1
        if batched:
            first = arrs[0]  # state, or env_state in a state-less bundle
            if first.ndim >= 1:
                batch = first.shape[0]
        i = 0
        for arr in arrs:
            label, _, _, _, shape, _ = descs[i]
            i += 1
            if batched:
                if arr.shape[1:] != shape or arr.ndim != len(shape) + 1:
                    raise ObservationError(
                        f"{label}: expected shape {_shape_str(('batch',) + shape)}, got {_shape_str(arr.shape)}")
                if arr.shape[0] != batch:
                    raise ObservationError(
                        f"{label}: expected shape {_shape_str((batch,) + shape)}, got {_shape_str(arr.shape)}")
            elif arr.shape != shape:
                raise ObservationError(f"{label}: expected shape {_shape_str(shape)}, got {_shape_str(arr.shape)}")
        if batched and not 1 <= batch <= self.max_batch:
            raise ObservationError(f"{descs[0][0]}: batch {batch} is outside 1..{self.max_batch}")
        for i in self._finite_idx[descs is self._descs_stacked]:
            flat = arrs[i].reshape(-1)
            # max/min propagate nan and keep +-inf, raise no FP flags and allocate nothing; a nan
            # fails both comparisons, and so does a float64 value the float32 cast would make inf.
            if not (-_F32_MAX <= _min(flat) and _max(flat) <= _F32_MAX):
                _reject_value(descs[i][0], flat)
        return batch

    def _descriptors(self, stacked: bool) -> list[tuple[str, str | None, str, tuple[np.dtype, ...], tuple[int, ...], bool]]:
        d: list[tuple[str, str | None, str, tuple[np.dtype, ...], tuple[int, ...], bool]] = []
        if "state" in self.vectors:
            d.append(("state", None, "state", FLOAT_DTYPES, (self.vectors["state"][1],), True))
        if stacked:
            d.append(("images", None, "images", (_U8,), self.stacked_shape, False))  # type: ignore[arg-type]
        else:
            d.extend((f"images[{c.name!r}]", "images", c.name, (_U8,), c.shape, False) for c in self.images)
        d.extend((f"depth[{c.name!r}]", "depth", c.name, (_F32,), c.shape, True) for c in self.depth)
        if "env_state" in self.vectors:
            d.append(("env_state", None, "env_state", FLOAT_DTYPES, (self.vectors["env_state"][1],), True))
        return d

    def _check_cameras(self, field: str, given: Mapping[str, Any], batched: bool) -> None:
        known = self._image_set if field == "images" else self._depth_set
        if len(given) == len(known) and known.issuperset(given):
            return
        dtype = "uint8" if field == "images" else "float32"
        unknown = sorted((k for k in given if k not in known), key=str)
        if unknown:
            raise ObservationError(f"{field}[{unknown[0]!r}]: unknown camera (expected one of {self._cam_list})")
        for cam in (self.images if field == "images" else self.depth):
            if cam.name not in given:
                raise ObservationError(
                    f"{field}[{cam.name!r}]: missing (expected {dtype} array of shape "
                    f"{_shape_str((('batch',) if batched else ()) + cam.shape)})")

    def _missing_hint(self, field: str, batched: bool) -> str:
        lead: tuple[Any, ...] = ("batch",) if batched else ()
        if field in self.vectors:
            return f"float32 array of shape {_shape_str(lead + (self.vectors[field][1],))}"
        if field == "images":
            if self.stacked_shape is not None:
                return f"uint8 array of shape {_shape_str(lead + self.stacked_shape)}"
            return "dict of uint8 arrays per camera " + ", ".join(
                f"{c.name!r}: {_shape_str(lead + c.shape)}" for c in self.images)
        return "dict of float32 arrays per camera " + ", ".join(
            f"{c.name!r}: {_shape_str(lead + c.shape)}" for c in self.depth)

    # ---------------------------------------------------------------------------------------------
    def stage(self, obs: Mapping[str, Any], buffers: Mapping[str, np.ndarray], batch: int,
              batched: bool = False) -> None:
        """Copy a validated observation into host input buffers (rows [:batch])."""
        if batched:
            if "state" in self.vectors:
                np.copyto(buffers["state"][:batch], obs["state"])
            if "env_state" in self.vectors:
                np.copyto(buffers["env_state"][:batch], obs["env_state"])
            images = obs["images"] if self.images else {}
            if isinstance(images, np.ndarray):
                np.copyto(buffers[self.stacked_input][:batch], images)  # type: ignore[index]
            else:
                for c in self.images:
                    np.copyto(buffers[c.input_name][:batch, c.index], images[c.name])
            for c in self.depth:
                np.copyto(buffers[c.input_name][:batch, c.index], obs["depth"][c.name])
            return
        if "state" in self.vectors:
            np.copyto(buffers["state"][0], obs["state"])
        if "env_state" in self.vectors:
            np.copyto(buffers["env_state"][0], obs["env_state"])
        images = obs["images"] if self.images else {}
        if isinstance(images, np.ndarray):
            np.copyto(buffers[self.stacked_input][0], images)  # type: ignore[index]
        else:
            for c in self.images:
                np.copyto(buffers[c.input_name][0, c.index], images[c.name])
        for c in self.depth:
            np.copyto(buffers[c.input_name][0, c.index], obs["depth"][c.name])


def _reject_value(label: str, flat: np.ndarray) -> None:
    """The error for a float field holding nan/inf, else a value beyond float32 (float64 input only)."""
    bad = ~np.isfinite(flat)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ObservationError(f"{label}: non-finite value {float(flat[j])} at index {j}")
    j = int(np.flatnonzero(np.abs(flat) > _F32_MAX)[0])
    raise ObservationError(f"{label}: value {float(flat[j])} at index {j} is outside the float32 range "
                           "(the model's input type; it would become inf)")


def validate_observation(io_inputs: list[dict[str, Any]], obs: Any, batched: bool = False,
                         max_batch: int | None = None) -> int:
    """Validate one observation against a manifest's `io.inputs` (the C++ runtime's entry point
    has the same signature); returns the batch size, raises ObservationError."""
    validator = ObservationValidator(None, io_inputs, max_batch or sys.maxsize)
    return validator.validate(obs, batched=batched)
