"""Post-steps from the manifest's `runtime.post_steps`, applied to each emitted action in robot units.

Only `snap_gripper` exists (docs/bundle-format.md); an unknown op is refused at load, never skipped,
and so is any value that could put a non-finite number into an action: indices are integers in
range (not bools; 6.0 is 6, 3.7 is refused), threshold/low/high finite numbers within float32,
low < high.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .errors import BundleError

KNOWN_OPS = ("snap_gripper",)
FLOAT32_MAX = float(np.finfo(np.float32).max)
SNAP_KEYS = ("indices", "threshold", "low", "high")


class PostSteps:
    """The manifest's post-steps, checked once; `apply(action)` edits an (..., A) array in place."""

    def __init__(self, steps: list[dict[str, Any]] | None, action_dim: int) -> None:
        # (index, threshold, low, high); float32 as in the C++ runtime, so a tie compares the same there
        self._snaps: list[tuple[int, np.float32, np.float32, np.float32]] = []
        if steps is None:
            return
        if not isinstance(steps, list):
            raise BundleError(f"manifest runtime.post_steps: expected a list of steps, got {_dump(steps)}")
        for n, step in enumerate(steps):
            where = f"manifest runtime.post_steps[{n}]"
            op = step.get("op") if isinstance(step, dict) else None
            if op not in KNOWN_OPS:
                raise BundleError(f"{where}: unknown op {op!r} (this runtime knows {list(KNOWN_OPS)}); "
                                  "upgrade act-edge rather than run the policy without it")
            lists = [_list_field(step, key, where) for key in SNAP_KEYS]
            idx, thr, low, high = lists
            if not len(idx) == len(thr) == len(low) == len(high):
                raise BundleError(f"{where}: indices/threshold/low/high have different lengths")
            for k, i in enumerate(idx):
                if not _is_number(i):
                    raise BundleError(f"{where}: index {i!r} is not an integer")
                if not 0 <= i < action_dim:  # before the integer test: the C++ reader's order
                    raise BundleError(f"{where}: index {i!r} is outside the action's 0..{action_dim - 1}")
                if isinstance(i, float) and not i.is_integer():  # 3.7 is not silently dimension 3
                    raise BundleError(f"{where}: index {i!r} is not an integer")
                for key, values in zip(SNAP_KEYS[1:], lists[1:]):
                    v = values[k]
                    if not _is_number(v):
                        raise BundleError(f"{where}: {key}[{k}] {v!r} is not a number")
                    if isinstance(v, float) and not math.isfinite(v):
                        raise BundleError(f"{where}: {key}[{k}] {v!r} is not a finite number")
                    if abs(v) > FLOAT32_MAX:
                        raise BundleError(f"{where}: {key}[{k}] {v!r} is outside the float32 range")
                if not low[k] < high[k]:
                    raise BundleError(f"{where}: low[{k}] {low[k]!r} is not below high[{k}] {high[k]!r}")
                self._snaps.append((int(i), np.float32(thr[k]), np.float32(low[k]), np.float32(high[k])))

    def __bool__(self) -> bool:
        return bool(self._snaps)

    def apply(self, actions: np.ndarray) -> np.ndarray:
        """Snap in place: a[..., i] = high if a[..., i] > threshold else low. Returns `actions`.

        The comparison is float32 against float32 on both paths: numpy 1.x would compare a float32
        scalar with a Python float in float64 and snap a value exactly at the threshold high."""
        if actions.ndim == 1:  # the control step: scalar work, no array temporaries
            for i, t, lo, hi in self._snaps:
                actions[i] = hi if np.float32(actions[i]) > t else lo
        else:
            for i, t, lo, hi in self._snaps:
                col = actions[..., i]
                np.copyto(col, np.where(col.astype(np.float32, copy=False) > t, hi, lo))
        return actions


def _list_field(step: dict[str, Any], key: str, where: str) -> list[Any]:
    prefix = f"{where}: snap_gripper needs indices, threshold, low, high ("
    if key not in step:
        raise BundleError(f"{prefix}{key!r})")
    value = step[key]
    if value is None or isinstance(value, (bool, int, float)):
        raise BundleError(f"{prefix}'{type(value).__name__}' object is not iterable)")
    if not isinstance(value, list):
        raise BundleError(f"{prefix}{key}: expected a list, got {_dump(value)})")
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _dump(value: Any) -> str:
    """Compact JSON, as the C++ runtime prints it (line separators escaped: messages are one line)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
