"""Board power during a timed run: tegrastats, else the INA3221 sysfs rails, else "unavailable".

A background thread samples every `interval_ms`; `stop()` returns mean W over the samples. The
reported figure is the *board input* rail when the module has one (VDD_IN on Orin NX/Nano,
POM_5V_IN on Xavier/Nano), else the sum of every rail reported (AGX Orin: VDD_GPU_SOC + VDD_CPU_CV +
VIN_SYS_5V0 + ...), and the result says which.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

TOTAL_RAILS = ("VDD_IN", "POM_5V_IN")  # whole-module input rails, first found wins
# JetPack 5/6: "VDD_GPU_SOC 2381mW/2381mW"; JetPack 4: "POM_5V_IN 3012/2910" (mW, no unit)
_RAIL_MW = re.compile(r"\b([A-Z][A-Z0-9_]*) (\d+)mW/(\d+)mW")
_RAIL_OLD = re.compile(r"\b((?:POM|VDD)_[A-Z0-9_]+) (\d+)/(\d+)\b")


def parse_tegrastats_line(line: str) -> dict[str, float]:
    """Instantaneous power per rail in mW from one tegrastats line ({} if it has none)."""
    rails = {name: float(now) for name, now, _avg in _RAIL_MW.findall(line)}
    if not rails:
        rails = {name: float(now) for name, now, _avg in _RAIL_OLD.findall(line)}
    return rails


def board_power_w(rails: dict[str, float]) -> tuple[float, str] | None:
    """(watts, how) from a rail dict in mW: the module input rail, else the sum of all rails."""
    if not rails:
        return None
    for name in TOTAL_RAILS:
        if name in rails:
            return rails[name] / 1e3, name
    return sum(rails.values()) / 1e3, "sum of " + "+".join(sorted(rails))


class PowerSampler:
    """Start before the timed work, stop after it. `source` is None when nothing can be read."""

    def __init__(self, interval_ms: int = 100) -> None:
        self.interval_ms = interval_ms
        self.samples: list[float] = []  # W
        self.how = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self.source, self.reason = _pick_source()
        self._t0 = self._t1 = 0.0

    def start(self) -> "PowerSampler":
        if self.source is None:
            return self
        self._t0 = time.perf_counter()
        if self.source == "tegrastats":
            try:
                self._proc = subprocess.Popen([shutil.which("tegrastats") or "tegrastats", "--interval",
                                               str(self.interval_ms)], stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL, text=True)
            except OSError as exc:
                self.source, self.reason = None, f"unavailable: tegrastats failed to start ({exc})"
                return self
        target = self._tegrastats if self.source == "tegrastats" else self._ina3221
        self._thread = threading.Thread(target=target, name="act-edge-power", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._t1 = time.perf_counter()
        self._stop.set()
        if self._proc is not None:
            self._proc.terminate()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self.source is None:
            return {"available": False, "reason": self.reason}
        if not self.samples:
            return {"available": False, "reason": f"{self.source}: no power samples during the run"}
        return {"available": True, "source": self.source, "rail": self.how, "samples": len(self.samples),
                "interval_ms": self.interval_ms, "mean_w": sum(self.samples) / len(self.samples),
                "max_w": max(self.samples), "seconds": self._t1 - self._t0}

    # --- samplers (background thread) ---------------------------------------------------------
    def _tegrastats(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            got = board_power_w(parse_tegrastats_line(line))
            if got is not None:
                self.samples.append(got[0])
                self.how = got[1]
            if self._stop.is_set():
                break

    def _ina3221(self) -> None:
        rails = ina3221_rails()
        while not self._stop.wait(self.interval_ms / 1e3):
            got = board_power_w(read_ina3221(rails))
            if got is not None:
                self.samples.append(got[0])
                self.how = got[1] + " (INA3221 sysfs)"


def _pick_source() -> tuple[str | None, str]:
    if shutil.which("tegrastats"):
        return "tegrastats", ""
    if ina3221_rails():
        return "ina3221", ""
    return None, "unavailable: not a Jetson (no tegrastats, no INA3221 rails in sysfs)"


def ina3221_rails(root: str = "/sys/bus/i2c/drivers/ina3221") -> dict[str, tuple[Path, Path]]:
    """{rail label: (in*_input mV file, curr*_input mA file)} of every INA3221 channel found."""
    rails = {}
    for label_file in glob.glob(os.path.join(root, "*", "hwmon", "hwmon*", "in*_label")):
        p = Path(label_file)
        idx = p.name[2:-len("_label")]
        volt, curr = p.with_name(f"in{idx}_input"), p.with_name(f"curr{idx}_input")
        if volt.is_file() and curr.is_file():
            rails[p.read_text().strip()] = (volt, curr)
    return rails


def read_ina3221(rails: dict[str, tuple[Path, Path]]) -> dict[str, float]:
    """mW per rail (V in mV x I in mA / 1000)."""
    out = {}
    for name, (volt, curr) in rails.items():
        try:
            out[name] = float(volt.read_text()) * float(curr.read_text()) / 1e3
        except (OSError, ValueError):
            continue
    return out


def per_inference(power: dict[str, Any], inferences: int, seconds: float) -> dict[str, Any]:
    """Add mJ per inference (mean W x wall time of the timed run / inferences)."""
    if power.get("available") and inferences:
        power = {**power, "mj_per_inference": power["mean_w"] * seconds / inferences * 1e3}
    return power
