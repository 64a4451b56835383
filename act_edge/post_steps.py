"""Post-steps from the manifest's `runtime.post_steps`, applied to each emitted action in robot units.

Only `snap_gripper` exists (docs/bundle-format.md); an unknown op is refused at load, never skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BundleError

KNOWN_OPS = ("snap_gripper",)


class PostSteps:
    """The manifest's post-steps, checked once; `apply(action)` edits an (..., A) array in place."""

    def __init__(self, steps: list[dict[str, Any]] | None, action_dim: int) -> None:
        self._snaps: list[tuple[int, float, float, float]] = []  # (index, threshold, low, high)
        for n, step in enumerate(steps or []):
            where = f"manifest runtime.post_steps[{n}]"
            op = step.get("op") if isinstance(step, dict) else None
            if op not in KNOWN_OPS:
                raise BundleError(f"{where}: unknown op {op!r} (this runtime knows {list(KNOWN_OPS)}); "
                                  "upgrade act-edge rather than run the policy without it")
            try:
                idx, thr, low, high = (list(step[k]) for k in ("indices", "threshold", "low", "high"))
            except (KeyError, TypeError) as exc:
                raise BundleError(f"{where}: snap_gripper needs indices, threshold, low, high ({exc})") from None
            if not len(idx) == len(thr) == len(low) == len(high):
                raise BundleError(f"{where}: indices/threshold/low/high have different lengths")
            for i, t, lo, hi in zip(idx, thr, low, high):
                if not 0 <= int(i) < action_dim:
                    raise BundleError(f"{where}: index {i} is outside the action's 0..{action_dim - 1}")
                self._snaps.append((int(i), float(t), float(lo), float(hi)))

    def __bool__(self) -> bool:
        return bool(self._snaps)

    def apply(self, actions: np.ndarray) -> np.ndarray:
        """Snap in place: a[..., i] = high if a[..., i] > threshold else low. Returns `actions`."""
        if actions.ndim == 1:  # the control step: scalar work, no temporaries
            for i, t, lo, hi in self._snaps:
                actions[i] = hi if actions[i] > t else lo
        else:
            for i, t, lo, hi in self._snaps:
                col = actions[..., i]
                np.copyto(col, np.where(col > t, hi, lo))
        return actions
