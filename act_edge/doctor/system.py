"""Checks of the machine itself: platform (Jetson or not), Python and numpy versions."""

from __future__ import annotations

import re
from typing import Any

from . import probes
from .check import FAIL, OK, WARN, Check


def version_tuple(text: str) -> tuple[int, ...]:
    """'1.26.4' -> (1, 26, 4); '2.13.0+cpu' -> (2, 13, 0); '2.0.0rc1' -> (2, 0, 0)."""
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0].split("rc")[0])[:3])


def platform_check(jetson: dict[str, Any] | None) -> Check:
    host = probes.host()
    where = f"{host['machine']}, {host['os']}" + (f", {host['cpu']}" if host.get("cpu") else "")
    if jetson is None:
        return Check(OK, "platform", f"not a Jetson ({where}): no Jetson model in /proc/device-tree/model, "
                                     "no /etc/nv_tegra_release", data={"jetson": None, **host})
    parts = [jetson.get("model") or "Jetson (model unreadable)",
             f"L4T {jetson['l4t']}" if jetson.get("l4t") else "L4T unreadable",
             f"JetPack {jetson['jetpack']}" if jetson.get("jetpack") else "JetPack package not installed",
             f"power mode {jetson['power_mode']}" if jetson.get("power_mode")
             else "power mode unreadable (nvpmodel -q)"]
    clocks = [f"{k} {jetson[key]:g} MHz" for k, key in (("GPU", "gpu_freq_mhz"), ("EMC", "emc_freq_mhz"))
              if jetson.get(key)]
    parts.append(", ".join(clocks) if clocks else "clocks unreadable")
    return Check(OK, "platform", ", ".join(parts), data={"jetson": jetson, **host})


def python_check() -> Check:
    have, floor = probes.python_version(), probes.python_floor()
    text, need = ".".join(map(str, have)), ".".join(map(str, floor))
    data = {"version": text, "required": f">={need}"}
    if tuple(have[:2]) < floor:
        return Check(FAIL, "python", f"{text}: act-edge needs >= {need}",
                     f"use Python >= {need} (JetPack 6: the system python3, 3.10)", data)
    return Check(OK, "python", f"{text} (act-edge needs >= {need})", data=data)


def numpy_check(jetson: dict[str, Any] | None) -> Check:
    have, floor = probes.numpy_version(), probes.numpy_floor()
    data = {"version": have, "required": f">={floor}"}
    if version_tuple(have) < version_tuple(floor):
        return Check(FAIL, "numpy", f"{have} is older than act-edge's floor {floor}",
                     f"pip install 'numpy>={floor}'", data)
    if jetson is not None and version_tuple(have) >= (2,):
        return Check(WARN, "numpy", f"{have} on a Jetson: JetPack's TensorRT bindings are built against numpy 1.x",
                     "keep JetPack's numpy: a venv made with --system-site-packages, then "
                     "pip uninstall numpy (docs/jetson.md)", data)
    return Check(OK, "numpy", f"{have} (act-edge needs >= {floor})", data=data)
