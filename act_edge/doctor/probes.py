"""Everything the doctor reads from the machine, one function per fact (tests replace these).

Each probe returns facts or raises act_edge.errors.BackendUnavailable with the reason in one line;
none imports torch unless torch is installed (`module_installed` looks without importing).
"""

from __future__ import annotations

import glob
import importlib.util
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from ..bench import device_info
from ..errors import BackendUnavailable

# Device nodes that show an NVIDIA GPU to this process: dGPU (/dev/nvidia0...), Jetson iGPU.
GPU_NODES = ("/dev/nvidia[0-9]*", "/dev/nvgpu/igpu0/*", "/dev/nvhost-gpu", "/dev/nvhost-ctrl-gpu")
NUMPY_FLOOR_FALLBACK = "1.21.5"  # used when neither pyproject.toml nor the installed metadata says


def jetson() -> dict[str, Any] | None:
    return device_info.jetson_info()


def host() -> dict[str, Any]:
    return {"machine": platform.machine(), "os": f"{platform.system()} {platform.release()}",
            "cpu": device_info.cpu_model()}


def python_version() -> tuple[int, int, int]:
    return sys.version_info[:3]


def python_floor() -> tuple[int, int]:
    """`requires-python` of act-edge (">=3.10" -> (3, 10))."""
    spec = _project_field("requires-python") or ">=3.10"
    m = re.search(r">=\s*(\d+)\.(\d+)", spec)
    return (int(m.group(1)), int(m.group(2))) if m else (3, 10)


def numpy_version() -> str:
    import numpy

    return numpy.__version__


def numpy_floor() -> str:
    """The numpy lower bound act-edge declares (pyproject.toml of this checkout, else the installed metadata)."""
    deps = _project_field("dependencies") or ""
    m = re.search(r"numpy\s*>=\s*([\d.]+)", deps)
    if m:
        return m.group(1)
    try:
        reqs = metadata.requires("act-edge") or []
    except metadata.PackageNotFoundError:
        reqs = []
    for r in reqs:
        m = re.match(r"numpy\s*>=\s*([\d.]+)", r)
        if m:
            return m.group(1)
    return NUMPY_FLOOR_FALLBACK


def _project_field(name: str) -> str | None:
    """The raw text of a [project] field in the pyproject.toml beside this package (a checkout)."""
    path = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        text = path.read_text()
    except OSError:
        return None
    if 'name = "act-edge"' not in text:
        return None
    m = re.search(rf"^{re.escape(name)}\s*=\s*(\[[^\]]*\]|\"[^\"]*\")", text, re.MULTILINE)
    return m.group(1) if m else None


def module_installed(name: str) -> bool:
    """Whether `name` can be found, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def tensorrt() -> str:
    """tensorrt.__version__ if it imports and is a supported version; else BackendUnavailable."""
    from ..trt import import_tensorrt

    return str(import_tensorrt().__version__)


def tensorrt_version_if_importable() -> str | None:
    """The version of whatever `import tensorrt` gives, supported or not (None: not importable)."""
    try:
        import tensorrt as trt
    except Exception:
        return None
    return str(getattr(trt, "__version__", "?"))


def pycuda() -> dict[str, Any]:
    """CUDA devices as pycuda sees them: {count, name, compute_capability} of device 0."""
    from ..trt.device import import_pycuda

    cuda = import_pycuda()
    dev = cuda.Device(0)
    major, minor = dev.compute_capability()
    return {"version": _dist_version("pycuda"), "count": cuda.Device.count(), "name": dev.name(),
            "compute_capability": f"{major}.{minor}"}


def onnxruntime() -> dict[str, Any]:
    try:
        import onnxruntime as ort
    except Exception as exc:
        raise BackendUnavailable(f"not importable ({type(exc).__name__}: {_first_line(exc)})") from None
    return {"version": ort.__version__, "providers": list(ort.get_available_providers())}


def torch() -> dict[str, Any] | None:
    """torch facts, or None when torch is not installed (then it is never imported)."""
    if not module_installed("torch"):
        return None
    try:
        import torch as t
    except Exception as exc:
        raise BackendUnavailable(f"installed but not importable ({type(exc).__name__}: {_first_line(exc)})") from None
    cuda = bool(t.cuda.is_available())
    return {"version": t.__version__, "cuda_build": t.version.cuda, "cuda_available": cuda,
            "device": t.cuda.get_device_name(0) if cuda else None}


def gpu() -> dict[str, Any] | None:
    """The first NVIDIA GPU visible here: nvidia-smi, else device nodes; None when none is visible."""
    info = device_info.gpu_info()
    if info:
        return {"source": info.get("source"), "name": info.get("name"), "driver": info.get("driver")}
    nodes = sorted(n for pattern in GPU_NODES for n in glob.glob(pattern))
    if nodes:
        return {"source": "device nodes", "name": None, "nodes": nodes[:4]}
    return None


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
