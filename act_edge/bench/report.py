"""The bench result as a readable table and as a JSON file (schema: docs/bench-schema.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import write_file_atomic
from ..metrics import describe_pct_range

# Top-level keys every result has (docs/bench-schema.md documents each field).
REQUIRED = ("schema", "created", "act_edge_version", "config", "synthetic", "device", "bundle", "policy",
            "startup", "latency", "throughput", "power", "control_loop", "compare")


def write_json(path: str | Path, result: dict[str, Any]) -> None:
    write_file_atomic(path, (json.dumps(result, indent=1, default=_plain) + "\n").encode())


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-serializable: {type(obj).__name__}")


def _ms(us: float) -> str:
    ms = us / 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:.0f}"


def render(r: dict[str, Any]) -> str:
    dev, pol, st, b = r["device"], r["policy"], r["startup"], r["bundle"]
    lines = [f"act-edge bench  {b['path']}  ({pol['backend']}, {pol['device']}, {pol['precision']}"
             + (f"; {pol['mode']}" if pol.get("mode") else "") + ")"]
    cpu = dev["cpu"]
    gpu = dev["gpu"]["name"] if dev.get("gpu") else "none"
    load = dev.get("load_average_start")
    lines.append(f"device       {cpu['model']} ({cpu['cores']} cores), GPU {gpu}"
                 + (f"; load average {load[0]:.1f} at start, {dev['load_average_end'][0]:.1f} at end" if load else ""))
    if dev.get("jetson"):
        j = dev["jetson"]
        lines.append(f"jetson       {j['model']}, L4T {j['l4t']}, JetPack {j['jetpack']}, power mode "
                     f"{j['power_mode']}, GPU {j['gpu_freq_mhz']} MHz")
    lines.append("libraries    " + ", ".join(f"{k} {v}" for k, v in dev["libraries"].items()))
    art = b.get("artifact") or {}
    lines.append(f"bundle       manifest sha256 {b['manifest_sha256'][:12]}"
                 + (f", runs {art['path']}" if art.get("path") else "")
                 + (f" sha256 {art['sha256'][:12]}" if art.get("sha256") else ""))
    gpu_mem = (f"{st['gpu_memory_delta_mib']:+.0f} MiB GPU memory" if st["gpu_memory_delta_mib"] is not None
               else "GPU memory delta unavailable")
    rss = f"peak RSS {st['peak_rss_mib']:.0f} MiB; " if st.get("peak_rss_mib") is not None else ""
    lines.append(f"startup      load {st['load_ms']:.0f} ms + first action {st['first_action_ms']:.1f} ms = "
                 f"{st['load_to_first_action_ms']:.0f} ms; {rss}{gpu_mem}")
    lat = r.get("latency")  # None (with th, pw) when an earlier phase failed: see r["incomplete"]
    if lat:
        lines += ["", f"latency (ms; {lat['method']}; seed {r['synthetic']['seed']})",
                  f"  {'stage':<16}{'count':>7}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'mean':>10}{'std':>10}"]
        for name, s in lat["stages"].items():
            lines.append(f"  {name:<16}{s['count']:>7}" + "".join(f"{_ms(s[k + '_us']):>10}"
                                                              for k in ("p50", "p90", "p99", "max", "mean", "std")))
    th = r.get("throughput")
    if th:
        lines += ["", f"throughput   batch {th['batch']}: {th['inferences_per_s']:.2f} inferences/s "
                      f"({th['batches_per_s']:.2f} batches/s, p50 {th['batch_latency_p50_ms']:.1f} ms per batch)"]
    pw = r.get("power")
    if pw:
        lines.append(f"power        {pw['mean_w']:.2f} W mean ({pw['rail']}), {pw['mj_per_inference']:.1f} mJ/inference"
                     if pw.get("available") else f"power        {pw['reason']}")
    c = r.get("compare")
    if c:
        lines.append(f"compare      PyTorch eager {c['torch_median_ms']:.1f} ms vs bundle {c['bundle_median_ms']:.1f} ms "
                     f"(medians, {c['iters']} interleaved calls): {c['speedup']:.2f}x; max |action diff| "
                     f"{_sci(c['max_abs_action_diff'])} robot units ({_sci(c['max_abs_action_diff_normalized'])} "
                     f"normalized; {describe_pct_range(c)})")
    loops = r.get("control_loops") or {}
    loop = r.get("control_loop")
    if len(loops) > 1:
        lines += loop_table(loops)
    elif loop:
        lines.append(f"control loop {loop['hz']:g} Hz for {loop['duration_s']:.1f} s: achieved {loop['achieved_hz']:.1f} Hz, "
                     f"p99 |jitter| {loop['jitter_p99_abs_us']:.0f} us, step p99 {loop['step_p99_ms']:.2f} ms, "
                     f"{loop['missed_deadlines']}/{loop['ticks_scheduled']} deadlines missed "
                     f"({loop['overruns']} overruns, {loop['skipped_ticks']} skipped ticks)")
        if loop.get("chunk_age_max") is not None:
            lines.append(f"chunks       {loop.get('inference', 'sync')} inference: " + _chunk_text(loop))
        lines += ["", f"verdict      {loop['verdict']}"]
    bad = r.get("incomplete")
    if bad:
        lines += ["", f"incomplete   the {bad['phase']} phase failed ({bad['error']}); later phases did not run"]
    return "\n".join(lines)


def _chunk_text(loop: dict[str, Any]) -> str:
    rate = loop.get("inferences_per_s")
    return (f"chunk age p50 {loop['chunk_age_p50']:.0f} / p99 {loop['chunk_age_p99']:.0f} / max {loop['chunk_age_max']} "
            f"ticks, {'%.1f' % rate if rate is not None else '-'} inferences/s, {loop['starved_ticks']} starved ticks")


def loop_table(loops: dict[str, dict[str, Any]]) -> list[str]:
    """One table, a row per inference mode (`--inference both`), then each mode's verdict."""
    first = next(iter(loops.values()))
    out = ["", f"control loop {first['hz']:g} Hz, {first['ticks_scheduled']} ticks per mode (step and age columns: "
               "p50 / p99 / max)",
           f"  {'inference':<10}{'missed':>8}{'achieved Hz':>13}{'step ms':>24}{'chunk age (ticks)':>20}"
           f"{'infer/s':>9}{'starved':>9}"]
    for mode, lp in loops.items():
        step = f"{lp['step_p50_ms']:.2f} / {lp['step_p99_ms']:.2f} / {lp['step_max_ms']:.1f}"
        age = (f"{lp['chunk_age_p50']:.0f} / {lp['chunk_age_p99']:.0f} / {lp['chunk_age_max']}"
               if lp.get("chunk_age_max") is not None else "-")
        rate = lp.get("inferences_per_s")
        out.append(f"  {mode:<10}{lp['missed_deadlines']:>8}{lp['achieved_hz']:>13.1f}{step:>24}{age:>20}"
                   f"{'%.1f' % rate if rate is not None else '-':>9}{lp.get('starved_ticks', 0):>9}")
    out.append("")
    out += [f"verdict      {mode:<6} {lp['verdict']}" for mode, lp in loops.items()]
    return out


def check_schema(result: dict[str, Any]) -> list[str]:
    """Names of required top-level fields missing from a result (empty list when complete)."""
    return [k for k in REQUIRED if k not in result]


def _sci(value: float | None) -> str:
    return "n/a (non-finite actions)" if value is None else f"{value:.2e}"
