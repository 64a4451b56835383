"""The replay result as a readable text summary, and as JSON (docs/replay-schema.md)."""

from __future__ import annotations

from typing import Any

from ..bench.report import write_json  # noqa: F401  (atomic write, numpy scalars as plain numbers)

ROWS = (("open loop", "open_loop"), ("executed", "executed"))


def render(result: dict[str, Any]) -> str:
    pol, src = result["policy"], result["source"]
    how = (f"temporal ensemble k={pol['temporal_ensemble_coeff']}" if pol["temporal_ensemble_coeff"] is not None
           else f"chunk queue, {pol['n_action_steps']} actions per chunk")
    lines = [f"replay       {result['bundle']['name'] or result['bundle']['path']}: {pol['backend']} {pol['device']} "
             f"{pol['precision']}, {how}"]
    if src.get("skipped") or not src.get("kind"):
        lines.append(f"source       none: {src.get('skipped')}; bundle vs demonstration only")
    else:
        lines.append(f"source       {src['kind']}" + (f": {src['checkpoint']}" if src.get("checkpoint") else ""))
    lines.append(f"range        {result['action_range']['definition']} (the % figures divide by it)")
    for ep in result["episodes"]:
        lines.append(f"{ep['name']}  ({ep['layout']}{', JPEG frames' if ep['compressed_frames'] else ''}, "
                     f"{ep['frames']} frames)")
        lines += ["  " + line for line in _block(ep)]
        lines += [f"  note: {n}" for n in ep["notes"]]
    tot = result["total"]
    lines.append(f"total  ({tot['episodes']} episodes, {tot['frames']} frames)")
    lines += ["  " + line for line in _block(tot)]
    lines += _per_dim(tot)
    return "\n".join(lines)


def _block(figs: dict[str, Any]) -> list[str]:
    out = [f"{label:<13}{_summary(figs[key])}" for label, key in ROWS if figs[key] is not None]
    demo = figs["demonstration"]
    out.append(f"{'vs demo':<13}bundle {_summary(demo['bundle'])}")
    if demo["source"] is not None:
        out.append(f"{'':<13}source {_summary(demo['source'])}")
    return out


def _summary(s: dict[str, Any] | None) -> str:
    """The worst difference (in % of the range, where it is) and the largest per-dimension RMSE."""
    if s is None:
        return "-"
    w = s["worst"]
    where = f"dim {w['dim']}, frame {w['frame']}" + (f", row {w['row']}" if "row" in w else "")
    return (f"worst {w['pct']:.3g}% of range = {w['abs']:.3g} ({where}); rmse <= {max(s['rmse_pct']):.3g}% "
            f"of range")


def _per_dim(tot: dict[str, Any]) -> list[str]:
    cols = [("open loop max", tot["open_loop"], "max_abs", "max_pct"),
            ("executed max", tot["executed"], "max_abs", "max_pct"),
            ("demo rmse (bundle)", tot["demonstration"]["bundle"], "rmse", "rmse_pct")]
    cols = [c for c in cols if c[1] is not None]
    head = "  dim " + "".join(f"{name:>26}" for name, *_ in cols)
    rows = [head]
    for j in range(len(cols[0][1]["max_abs"])):
        rows.append(f"  {j:>3} " + "".join(f"{s[a][j]:>15.4g} {s[p][j]:>8.3g}% " for _, s, a, p in cols))
    return ["per action dimension (robot units, % of range):"] + rows
