"""One PNG per episode: per action dimension, the demonstration, source and bundle executed actions,
and the errors (bundle - source, bundle - demonstration). matplotlib, imported here only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np


def write_pngs(directory: str | Path, result: dict[str, Any], traces: dict[str, dict[str, Any]]) -> list[Path]:
    """Write `replay_<episode>.png` per episode into `directory` (created); return the paths."""
    from ..bench.plot import require_matplotlib
    from ..bundle import write_file_atomic

    require_matplotlib()
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ep in result["episodes"]:
        tr = traces[ep["name"]]
        demo, bundle, source = tr["demonstration"], tr["bundle"], tr["source"]
        A = demo.shape[1]
        fig, axes = plt.subplots(A, 2, figsize=(13, 1.7 * A + 1), sharex=True, squeeze=False, layout="constrained")
        t = np.arange(demo.shape[0])
        for j in range(A):
            ax, ax_err = axes[j]
            ax.plot(t, demo[:, j], color="k", linewidth=1.0, label="demonstration")
            if source is not None:
                ax.plot(t, source[:, j], color="tab:blue", linewidth=1.0, label="source (eager)")
            ax.plot(t, bundle[:, j], color="tab:orange", linewidth=1.0, linestyle="--", label="bundle")
            ax.set_ylabel(f"dim {j}", fontsize=8)
            if source is not None:
                ax_err.plot(t, bundle[:, j] - source[:, j], color="tab:red", linewidth=0.9, label="bundle - source")
            ax_err.plot(t, bundle[:, j] - demo[:, j], color="tab:gray", linewidth=0.9, label="bundle - demonstration")
            ax_err.axhline(0.0, color="k", linewidth=0.5)
            for a in (ax, ax_err):
                a.grid(alpha=0.3)
                a.tick_params(labelsize=7)
        axes[0][0].set_title("executed actions (robot units)", fontsize=9)
        axes[0][1].set_title("error (robot units)", fontsize=9)
        axes[0][0].legend(fontsize=7, loc="upper right")
        axes[0][1].legend(fontsize=7, loc="upper right")
        axes[-1][0].set_xlabel("frame")
        axes[-1][1].set_xlabel("frame")
        pol = result["policy"]
        fig.suptitle(f"act-edge replay: {ep['name']} on {result['bundle']['name']} ({pol['backend']}, "
                     f"{pol['precision']})", fontsize=10)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        path = out_dir / f"replay_{_safe(ep['name'])}.png"
        write_file_atomic(path, buf.getvalue())
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
