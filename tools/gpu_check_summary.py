"""Summary of a tools/gpu_check.sh run: reads its output folder, writes summary.json and summary.md.

    python tools/gpu_check_summary.py OUTDIR [--dry-run 0|1]

Inputs (each optional; what is missing is said so): phases.tsv (name, status, seconds, note),
preflight.json, doctor.json, gpu-tests.xml (pytest junit), bench-<preset>.json (docs/bench-schema.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def phases(dest: Path) -> list[dict[str, Any]]:
    out = []
    path = dest / "phases.tsv"
    for line in path.read_text().splitlines() if path.is_file() else []:
        name, status, seconds, note = (line.split("\t") + ["", "", ""])[:4]
        out.append({"name": name, "status": status, "seconds": int(seconds or 0), "note": note})
    return out


def gpu_tests(dest: Path) -> dict[str, Any] | None:
    path = dest / "gpu-tests.xml"
    if not path.is_file():
        return None
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                reason = (node.get("message") or "").splitlines()[0][:300] if node.get("message") else ""
                break
        cases.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                      "seconds": float(case.get("time") or 0), "reason": reason})
    counts = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "error", "skipped")}
    return {"counts": counts, "cases": cases}


def bench(path: Path) -> dict[str, Any]:
    r = json.loads(path.read_text())
    stages = r.get("latency", {}).get("stages", {})
    loop = r.get("control_loop") or {}
    cmp_ = r.get("compare") or {}
    return {
        "preset": path.stem.removeprefix("bench-"),
        "policy": r.get("policy"),
        "gpu": (r.get("device", {}).get("gpu") or {}).get("name"),
        "infer_p50_ms": _ms(stages.get("infer", {}).get("p50_us")),
        "infer_p99_ms": _ms(stages.get("infer", {}).get("p99_us")),
        "step_p50_ms": _ms(stages.get("total", {}).get("p50_us")),
        "step_p99_ms": _ms(stages.get("total", {}).get("p99_us")),
        "inferences_per_s": (r.get("throughput") or {}).get("inferences_per_s"),
        "control_loop": loop.get("verdict"),
        "eager_fp32_median_ms": cmp_.get("torch_median_ms"),
        "bundle_median_ms": cmp_.get("bundle_median_ms"),
        "speedup_vs_eager_fp32": cmp_.get("speedup"),
        "max_abs_action_diff_normalized": cmp_.get("max_abs_action_diff_normalized"),
    }


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def summarize(dest: Path, dry_run: bool) -> dict[str, Any]:
    def load(name: str) -> Any:
        p = dest / name
        try:
            return json.loads(p.read_text()) if p.is_file() else None
        except json.JSONDecodeError:
            return {"unreadable": str(p)}

    doctor = load("doctor.json")
    ph = phases(dest)
    return {
        "schema": "act-edge-gpu-check/1",
        "dry_run": dry_run,
        "preflight": load("preflight.json"),
        "phases": ph,
        "all_phases_ok": bool(ph) and all(p["status"] == "ok" for p in ph),
        "doctor": [f"{c['status']} {c['name']}: {c['finding']}" for c in doctor["checks"]]
        if doctor and "checks" in doctor else None,
        "gpu_tests": gpu_tests(dest),
        "bench": [bench(p) for p in sorted(dest.glob("bench-*.json"))],
    }


def markdown(s: dict[str, Any]) -> str:
    pre = s.get("preflight") or {}
    cuda = pre.get("cuda") or {}
    lines = [f"# GPU check{' (CPU DRY RUN: no GPU figures)' if s['dry_run'] else ''}", "",
             f"Device: {cuda.get('device') or 'no CUDA device'}; torch {pre.get('torch')} (CUDA {cuda.get('build')}), "
             f"torchvision {pre.get('torchvision')}, onnx {pre.get('onnx')}, onnxruntime {pre.get('onnxruntime')}, "
             f"numpy {pre.get('numpy')}", "", "| phase | status | s | note |", "| --- | --- | ---: | --- |"]
    lines += [f"| {p['name']} | {p['status']} | {p['seconds']} | {p['note']} |" for p in s["phases"]]
    t = s.get("gpu_tests")
    lines += ["", "## gpu tests", ""]
    if t is None:
        lines.append("not run (no gpu-tests.xml)")
    else:
        c = t["counts"]
        lines.append(f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, {c['skipped']} skipped")
        lines += [""] + [f"- {x['outcome']}: `{x['test']}`" + (f" ({x['reason']})" if x["reason"] else "")
                         for x in t["cases"]]
    lines += ["", "## act-edge bench (torch backend vs PyTorch eager fp32, same run)", ""]
    if not s["bench"]:
        lines.append("no bench results")
    else:
        lines += ["| preset | backend | infer p50 / p99 ms | step p50 / p99 ms | eager fp32 median ms | "
                  "speed-up | max diff (norm.) | control loop |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        for b in s["bench"]:
            pol = b["policy"] or {}
            lines.append(f"| {b['preset']} | {pol.get('backend')} {pol.get('device')} {pol.get('precision')} | "
                         f"{_f(b['infer_p50_ms'])} / {_f(b['infer_p99_ms'])} | {_f(b['step_p50_ms'])} / "
                         f"{_f(b['step_p99_ms'])} | {_f(b['eager_fp32_median_ms'])} | {_f(b['speedup_vs_eager_fp32'], 'x')} | "
                         f"{_f(b['max_abs_action_diff_normalized'])} | {b['control_loop']} |")
    if s.get("doctor"):
        lines += ["", "## act-edge doctor", ""] + [f"- {d}" for d in s["doctor"]]
    return "\n".join(lines) + "\n"


def _f(v: float | None, suffix: str = "") -> str:
    return "-" if v is None else f"{v:.3g}{suffix}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--dry-run", default="0", choices=("0", "1"))
    args = ap.parse_args(argv)
    s = summarize(args.dest, args.dry_run == "1")
    (args.dest / "summary.json").write_text(json.dumps(s, indent=2) + "\n")
    (args.dest / "summary.md").write_text(markdown(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
