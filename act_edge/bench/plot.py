"""One PNG: per-stage latency histogram and CDF, and the control-loop timeline (matplotlib, optional)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ActEdgeError

MISSING = "--plot needs matplotlib: pip install 'act-edge[plot]'"


def require_matplotlib() -> None:
    """Raise the one-line error before a long run rather than after it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ActEdgeError(MISSING) from None


def write_png(path: str | Path, result: dict[str, Any], extras: dict[str, Any]) -> None:
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 8), layout="constrained")
    grid = fig.add_gridspec(2, 2)
    _stages(fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), result, extras.get("stage_samples"))
    _timeline(fig.add_subplot(grid[1, :]), result.get("control_loop"), result.get("control_loops"))
    pol = result["policy"]
    fig.suptitle(f"act-edge bench: {Path(result['bundle']['path']).name} ({pol['backend']}, {pol['device']}, "
                 f"{pol['precision']}) on {result['device']['cpu']['model']}", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _stages(ax_hist, ax_cdf, result: dict[str, Any], samples: dict[str, np.ndarray] | None) -> None:
    if not samples:
        ax_hist.text(0.5, 0.5, "no per-step samples from this profiler", ha="center", transform=ax_hist.transAxes)
        return
    data = {k: np.asarray(v) / 1e3 for k, v in samples.items() if len(v)}  # ms
    lo = max(min(v[v > 0].min() for v in data.values() if (v > 0).any()), 1e-4)
    hi = max(v.max() for v in data.values())
    bins = np.geomspace(lo, hi * 1.01, 60)
    for name, v in data.items():
        v = v[v > 0]
        ax_hist.hist(v, bins=bins, histtype="step", label=name, linewidth=1.2)
        ax_cdf.plot(np.sort(v), np.arange(1, v.size + 1) / v.size, label=name)
    for ax in (ax_hist, ax_cdf):
        ax.set_xscale("log")
        ax.set_xlabel("ms per step (log)")
        ax.grid(alpha=0.3, which="both")
    ax_hist.set_ylabel("steps")
    ax_hist.set_title(f"per-stage latency ({result['latency']['method']})", fontsize=9)
    ax_cdf.set_ylabel("fraction of steps <= x")
    ax_cdf.set_title("per-stage CDF", fontsize=9)
    ax_cdf.legend(fontsize=8, loc="lower right")


def _timeline(ax, loop: dict[str, Any] | None, loops: dict[str, Any] | None = None) -> None:
    ax_age = None
    if not loop:
        ax.text(0.5, 0.5, "control loop not run (--duration 0)", ha="center", transform=ax.transAxes)
        return
    tl = loop["timeline"]
    t = np.asarray(tl["scheduled_ms"]) / 1e3
    dur = np.asarray(tl["duration_us"]) / 1e3
    late = np.asarray(tl["start_late_us"]) / 1e3
    over = np.asarray(tl["overran"], dtype=bool)
    ax.plot(t, dur, ".", markersize=3, label="step() duration")
    ax.plot(t, late, ".", markersize=2, alpha=0.6, label="start lateness (jitter)")
    ax.axhline(loop["period_ms"], color="k", linestyle="--", linewidth=1, label=f"period {loop['period_ms']:.2f} ms")
    if over.any():
        ax.plot(t[over], dur[over], "x", color="red", markersize=5, label=f"overran ({int(over.sum())})")
    ax.set_xlabel("scheduled tick time (s)")
    ax.set_ylabel("ms")
    ax.set_yscale("symlog", linthresh=max(loop["period_ms"] / 10, 0.01))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(loop["verdict"], fontsize=10, color="green" if loop["holds"] else "red")
    for mode, other in (loops or {}).items():
        ages = other.get("timeline", {}).get("chunk_age")
        if ages:  # the chunk age each tick used, per inference mode, on a second axis
            if ax_age is None:
                ax_age = ax.twinx()
                ax_age.set_ylabel("chunk age (ticks)")
            ts = np.asarray(other["timeline"]["scheduled_ms"]) / 1e3
            ax_age.step(ts, ages, where="post", linewidth=0.8, alpha=0.7, label=f"chunk age ({mode})")
    if ax_age is not None:
        ax_age.legend(fontsize=8, loc="upper left")
