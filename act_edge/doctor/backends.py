"""Checks of what can run a bundle here: GPU, tensorrt, pycuda, onnxruntime, torch.

TensorRT and pycuda are needed on a Jetson (FAIL there), worth having where a GPU is visible (warn)
and not needed elsewhere (ok). onnxruntime is needed unless TensorRT and pycuda both work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BackendUnavailable
from . import probes
from .check import FAIL, OK, WARN, Check

TRT_FIX_JETSON = ("JetPack 6's TensorRT: sudo apt install nvidia-jetpack, and a venv made with "
                  "--system-site-packages (docs/jetson.md)")
TRT_FIX_DGPU = "pip install 'tensorrt>=10.3,<12'"


@dataclass
class Backends:
    """What the backend checks found, for the bundle checks that follow."""

    jetson: dict[str, Any] | None
    gpu: dict[str, Any] | None = None
    trt_version: str | None = None  # set only when tensorrt imports and is supported
    cuda: dict[str, Any] | None = None  # pycuda's device 0, when pycuda works
    ort: dict[str, Any] | None = None
    torch: dict[str, Any] | None = None

    @property
    def trt_usable(self) -> bool:
        return self.trt_version is not None and self.cuda is not None

    def optional_status(self) -> str:
        """Status of a missing GPU-side piece: FAIL on a Jetson, warn with a GPU, ok without one."""
        return FAIL if self.jetson is not None else WARN if self.gpu is not None else OK


def gpu_check(found: Backends) -> Check:
    gpu = probes.gpu()
    if gpu is None and found.torch and found.torch.get("cuda_available"):
        gpu = {"source": "torch.cuda", "name": found.torch["device"]}
    found.gpu = gpu
    if gpu is None:
        if found.jetson is not None:
            return Check(FAIL, "gpu", "no GPU visible (no nvidia-smi, no /dev/nvgpu, /dev/nvhost-gpu or /dev/nvidia*)",
                         "check the L4T install (sudo apt install nvidia-l4t-core) and that this user is in "
                         "the 'video' group: sudo usermod -aG video $USER")
        return Check(WARN, "gpu", "no NVIDIA GPU visible (no nvidia-smi, no /dev/nvidia*): policies run on CPU "
                                  "(onnxruntime)")
    name = gpu.get("name") or ", ".join(gpu.get("nodes", [])) or "?"
    driver = f", driver {gpu['driver']}" if gpu.get("driver") else ""
    return Check(OK, "gpu", f"{name}{driver} ({gpu.get('source')})", data=gpu)


def tensorrt_check(found: Backends) -> Check:
    status = found.optional_status()
    fix = TRT_FIX_JETSON if found.jetson is not None else TRT_FIX_DGPU
    if not probes.module_installed("tensorrt"):
        if status == OK:
            return Check(OK, "tensorrt", "not installed (not needed: no NVIDIA GPU here)")
        return Check(status, "tensorrt", "not installed: no TensorRT engines on this machine", fix)
    try:
        found.trt_version = probes.tensorrt()
    except BackendUnavailable as exc:
        version = probes.tensorrt_version_if_importable()
        if version is not None:  # imports, but a version act-edge does not support
            return Check(status if status != OK else WARN, "tensorrt", str(exc),
                         "TensorRT 10.3 or newer, major 10 or 11: " + fix,
                         data={"version": version, "supported": False})
        return Check(status if status != OK else WARN, "tensorrt", str(exc), fix)
    return Check(OK, "tensorrt", f"{found.trt_version} (supported: major 10 or 11, built and tested with 10.3+)",
                 data={"version": found.trt_version, "supported": True})


def pycuda_check(found: Backends) -> Check:
    status = found.optional_status()
    if not probes.module_installed("pycuda"):
        if status == OK:
            return Check(OK, "pycuda", "not installed (not needed: no NVIDIA GPU here)")
        return Check(status, "pycuda", "not installed: the TensorRT backend needs it",
                     "PATH=/usr/local/cuda/bin:$PATH pip install pycuda (needs the CUDA toolkit and python3-dev)")
    try:
        found.cuda = probes.pycuda()
    except BackendUnavailable as exc:
        return Check(status if status != OK else WARN, "pycuda", str(exc),
                     "a CUDA driver and GPU visible to this user (see the gpu line)")
    c = found.cuda
    return Check(OK, "pycuda", f"{c.get('version') or '?'}: {c['count']} CUDA device(s), {c['name']} "
                               f"(compute capability {c['compute_capability']})", data=c)


def onnxruntime_check(found: Backends) -> Check:
    try:
        found.ort = probes.onnxruntime()
    except BackendUnavailable as exc:
        if found.trt_usable:
            return Check(WARN, "onnxruntime", f"{exc}: no fallback when a bundle has no engine for this machine",
                         "pip install onnxruntime")
        return Check(FAIL, "onnxruntime", f"{exc}: no backend can run a bundle here (TensorRT is not usable either)",
                     "pip install onnxruntime")
    providers = ", ".join(found.ort["providers"])
    return Check(OK, "onnxruntime", f"{found.ort['version']}, providers {providers}", data=found.ort)


def torch_check(found: Backends) -> Check:
    try:
        found.torch = probes.torch()
    except BackendUnavailable as exc:
        return Check(WARN, "torch", str(exc), "reinstall torch, or uninstall it (the runtime does not need it)")
    t = found.torch
    if t is None:
        return Check(OK, "torch", "not installed (the runtime does not need it; export, bench --compare and "
                                  "backend 'torch' do)")
    cuda = (f"CUDA {t['cuda_build']}, device {t['device']}" if t["cuda_available"]
            else f"CUDA not available ({'CPU build' if not t['cuda_build'] else 'CUDA ' + t['cuda_build'] + ' build'})")
    return Check(OK, "torch", f"{t['version']}, {cuda}", data=t)
