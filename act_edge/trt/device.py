"""The CUDA device this process runs on: name and compute capability, via pycuda (lazy)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ..device_name import parse_device
from ..engine_key import Machine
from ..errors import ArgumentError, BackendUnavailable


def cuda_index(device: str) -> int:
    """"cuda:1" -> 1, "cuda" -> 0 (act_edge.device_name.parse_device); anything else, "cpu" included,
    cannot run TensorRT."""
    try:
        kind, index = parse_device(device)
    except ArgumentError:
        kind, index = None, 0
    if kind != "cuda":
        raise BackendUnavailable(f"device {device!r} is not 'cuda' or 'cuda:<index>' (TensorRT runs on CUDA GPUs)")
    return index


def import_pycuda():  # -> pycuda.driver
    try:
        import pycuda.driver as cuda
    except Exception as exc:
        raise BackendUnavailable(
            f"pycuda is not importable ({type(exc).__name__}: {exc}); install it with `pip install pycuda`"
        ) from None
    try:
        cuda.init()
        count = cuda.Device.count()
    except Exception as exc:  # pycuda raises its own LogicError/RuntimeError without a driver
        raise BackendUnavailable(f"no CUDA GPU: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if count < 1:
        raise BackendUnavailable("no CUDA GPU: the CUDA driver reports 0 devices")
    return cuda


def machine_info(trt_version: str, device: str = "cuda:0") -> Machine:
    """This machine's engine-relevant identity (TensorRT version, GPU name, compute capability)."""
    cuda = import_pycuda()
    index = cuda_index(device)
    if index >= cuda.Device.count():
        raise BackendUnavailable(f"device {device!r}: only {cuda.Device.count()} CUDA device(s) present")
    dev = cuda.Device(index)
    major, minor = dev.compute_capability()
    return Machine(trt_version=trt_version, gpu_name=dev.name(), compute_capability=f"{major}.{minor}")


@contextlib.contextmanager
def device_context(device: str = "cuda:0") -> Iterator[None]:
    """Make `device`'s primary CUDA context current (TensorRT's builder uses whatever is current)."""
    cuda = import_pycuda()
    ctx = cuda.Device(cuda_index(device)).retain_primary_context()
    ctx.push()
    try:
        yield
    finally:
        cuda.Context.pop()
        ctx.detach()
