"""Backend choice: an explicit name, or "auto" = TensorRT engine for this machine, else onnxruntime
with CUDA, else onnxruntime on CPU. Each candidate imports its engine lazily; one that cannot run
here raises BackendUnavailable (or ImportError) and the next is tried."""

from __future__ import annotations

from typing import Any

from ..bundle import ONNX_FP16, Bundle
from ..device_name import parse_device
from ..errors import ArgumentError, BackendUnavailable
from .base import Backend

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")


def _tensorrt(bundle: Bundle, max_batch: int, device: str, precision: str | None, **kw: Any) -> Backend:
    try:
        from .tensorrt import TensorRTBackend
    except ImportError as exc:
        raise BackendUnavailable(f"tensorrt backend: not importable ({exc})") from None
    return TensorRTBackend(bundle, max_batch, device=device, precision=precision, **kw)


def _onnxruntime(bundle: Bundle, max_batch: int, device: str, precision: str | None, **kw: Any) -> Backend:
    from .onnxruntime import OnnxRuntimeBackend

    if precision is None:  # fp16 only where it pays: on a GPU, when the bundle has the fp16 graph
        has16 = ONNX_FP16 in bundle.manifest.get("artifacts", {})
        precision = "fp16" if device.startswith("cuda") and has16 else "fp32"
    return OnnxRuntimeBackend(bundle, max_batch, device=device, precision=precision, **kw)


def _torch(bundle: Bundle, max_batch: int, device: str, precision: str | None, **kw: Any) -> Backend:
    from .torch import TorchBackend

    return TorchBackend(bundle, max_batch, device=device, precision=precision or "fp32", **kw)


def _cuda_in_onnxruntime() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


def open_backend(bundle: Bundle, backend: str = "auto", device: str | None = None,
                 precision: str | None = None, max_batch: int = 1,
                 options: dict[str, Any] | None = None) -> tuple[Backend, list[str]]:
    """Open a backend; returns it and, for "auto", why the ones before it were skipped.

    `options` go to the backend's constructor (for "auto": to onnxruntime only, e.g. intra_op_threads).
    """
    options = options or {}
    if backend not in BACKENDS:
        raise ArgumentError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if device is not None:
        parse_device(device)  # "gpu", "cuda:x", 0 ... are refused here, before "auto" could fall back to the CPU
    if backend == "tensorrt":
        return _tensorrt(bundle, max_batch, device or "cuda:0", precision, **options), []
    if backend == "onnxruntime":
        dev = device or ("cuda:0" if _cuda_in_onnxruntime() else "cpu")
        return _onnxruntime(bundle, max_batch, dev, precision, **options), []
    if backend == "torch":
        return _torch(bundle, max_batch, device or "cpu", precision, **options), []
    skipped: list[str] = []
    if device is None or device.startswith("cuda"):
        try:
            return _tensorrt(bundle, max_batch, device or "cuda:0", precision), skipped
        except BackendUnavailable as exc:
            skipped.append(str(exc))
        if _cuda_in_onnxruntime():
            try:
                return _onnxruntime(bundle, max_batch, device or "cuda:0", precision, **options), skipped
            except BackendUnavailable as exc:
                skipped.append(str(exc))
        else:
            skipped.append("onnxruntime CUDA: CUDAExecutionProvider not available")
        if device is not None:
            raise BackendUnavailable(f"no backend can run on {device}: " + "; ".join(skipped))
    return _onnxruntime(bundle, max_batch, "cpu", precision, **options), skipped
