"""Facts about the machine a benchmark ran on: CPU, GPU, Jetson model/L4T/JetPack/power mode, clocks,
library versions. Every probe is best effort: a fact that cannot be read is None, never a crash.
Nothing here imports torch, onnxruntime or tensorrt (versions come from importlib.metadata).
"""

from __future__ import annotations

import glob
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("numpy", "onnxruntime", "onnxruntime-gpu", "torch", "tensorrt", "pycuda", "matplotlib")


def collect() -> dict[str, Any]:
    jetson = jetson_info()
    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu": {"model": cpu_model(), "cores": os.cpu_count(), "freq_mhz": cpu_freqs_mhz()},
        "gpu": gpu_info(),
        "jetson": jetson,
        "libraries": library_versions(),
    }


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def run_command(cmd: list[str], timeout: float = 5.0) -> str | None:
    """stdout of `cmd` (stripped) if it exists and exits 0 within `timeout`, else None."""
    if not shutil.which(cmd[0]):
        return None
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def cpu_model(cpuinfo: str | None = None) -> str | None:
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Model"):  # x86; older ARM kernels
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if m:
            return m.group(1).strip()
    return platform.processor() or None


def cpu_freqs_mhz() -> list[float] | None:
    """Current frequency per CPU (cpufreq scaling_cur_freq, kHz -> MHz), None where not exposed."""
    files = sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"),
                   key=lambda p: int(re.search(r"cpu(\d+)", p).group(1)))  # type: ignore[union-attr]
    vals = [_read(f) for f in files]
    out = [round(int(v) / 1e3, 1) for v in vals if v and v.isdigit()]
    return out or None


def gpu_info() -> dict[str, Any] | None:
    """nvidia-smi when present; torch.cuda only if torch is already imported (never imported here)."""
    out = run_command(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm",
                "--format=csv,noheader,nounits"])
    if out:
        parts = [p.strip() for p in out.splitlines()[0].split(",")]
        keys = ("name", "driver", "memory_total_mib", "sm_clock_mhz", "sm_clock_max_mhz")
        return {"source": "nvidia-smi", **dict(zip(keys, parts))}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return {"source": "torch.cuda", "name": p.name, "memory_total_mib": p.total_memory // 2**20,
                "compute_capability": f"{p.major}.{p.minor}"}
    return None


def jetson_info() -> dict[str, Any] | None:
    """Model, L4T release, JetPack, nvpmodel mode and clocks on a Jetson; None elsewhere."""
    model = _read("/proc/device-tree/model")
    release = _read("/etc/nv_tegra_release")
    if not release and not (model and "jetson" in model.lower()):
        return None
    return {
        "model": model,
        "l4t": (parse_l4t(release) if release else None) or l4t_from_package(),
        "jetpack": run_command(["dpkg-query", "-W", "-f=${Version}", "nvidia-jetpack"]),
        "power_mode": parse_nvpmodel(run_command(["nvpmodel", "-q"]) or ""),
        "gpu_freq_mhz": _devfreq_mhz("*gpu*") or _devfreq_mhz("*gv11b*") or _devfreq_mhz("*ga10b*"),
        "emc_freq_mhz": _first_int_mhz(["/sys/kernel/debug/bpmp/debug/clk/emc/rate"], hz=True),
    }


def parse_l4t(text: str) -> str | None:
    """'# R36 (release), REVISION: 4.3, GCID: ...' -> '36.4.3'."""
    m = re.search(r"R(\d+) \(release\), REVISION: ([\d.]+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def l4t_from_package() -> str | None:
    """L4T release from the nvidia-l4t-core package version ('36.4.3-20250107174145' -> '36.4.3')."""
    out = run_command(["dpkg-query", "-W", "-f=${Version}", "nvidia-l4t-core"])
    m = re.match(r"(\d+\.\d+(?:\.\d+)?)", out or "")
    return m.group(1) if m else None


def parse_nvpmodel(text: str) -> str | None:
    """'NV Power Mode: MAXN\\n0' -> 'MAXN (mode 0)'."""
    m = re.search(r"NV Power Mode:\s*(\S+)", text)
    if not m:
        return None
    mode = re.search(r"^\s*(\d+)\s*$", text, re.MULTILINE)
    return m.group(1) + (f" (mode {mode.group(1)})" if mode else "")


def _devfreq_mhz(pattern: str) -> float | None:
    for d in sorted(glob.glob(f"/sys/class/devfreq/{pattern}")):
        v = _read(os.path.join(d, "cur_freq"))
        if v and v.isdigit():
            return round(int(v) / 1e6, 1)
    return None


def _first_int_mhz(paths: list[str], hz: bool) -> float | None:
    for p in paths:
        v = _read(p)
        if v and v.isdigit():
            return round(int(v) / (1e6 if hz else 1e3), 1)
    return None


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "tensorrt" not in out:  # JetPack installs TensorRT's Python bindings as a system package
        trt = sys.modules.get("tensorrt")
        if trt is not None:
            out["tensorrt"] = getattr(trt, "__version__", "?")
    return out
