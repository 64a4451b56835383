"""Action differences per action dimension: max |diff| and RMSE in robot units and in % of the range,
and the worst frame, accumulated over frames and episodes (numpy).

The range is act_edge.metrics.action_range (the one definition shared with export parity, engine
verification, the doctor and bench).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ErrorAccumulator:
    """Add (frames, ..., A) differences episode by episode; `stats()` summarizes what was added."""

    def __init__(self, action_range: np.ndarray) -> None:
        self.range = np.asarray(action_range, dtype=np.float64)
        A = self.range.shape[0]
        self.max_abs = np.zeros(A)
        self.sum_sq = np.zeros(A)
        self.count = 0  # values per dimension
        self.worst: dict[str, Any] | None = None

    def add(self, diff: np.ndarray, episode: str) -> None:
        """diff: (T, A) or (T, rows, A), robot units; frame = first axis."""
        d = np.abs(np.asarray(diff, dtype=np.float64))
        if d.size == 0:
            return
        flat = d.reshape(-1, d.shape[-1])
        np.maximum(self.max_abs, flat.max(axis=0), out=self.max_abs)
        self.sum_sq += (flat * flat).sum(axis=0)
        self.count += flat.shape[0]
        pct = d / self.range * 100.0
        i = np.unravel_index(int(np.argmax(pct)), pct.shape)
        if self.worst is None or pct[i] > self.worst["pct"]:
            self.worst = {"episode": episode, "frame": int(i[0]), "dim": int(i[-1]), "abs": float(d[i]),
                          "pct": float(pct[i])}
            if d.ndim == 3:
                self.worst["row"] = int(i[1])

    def stats(self) -> dict[str, Any] | None:
        if not self.count:
            return None
        rmse = np.sqrt(self.sum_sq / self.count)
        return {"max_abs": self.max_abs.tolist(), "rmse": rmse.tolist(),
                "max_pct": (self.max_abs / self.range * 100.0).tolist(), "rmse_pct": (rmse / self.range * 100.0).tolist(),
                "values_per_dim": self.count, "worst": dict(self.worst) if self.worst else None}
