"""TensorRT build / verify / device helpers. Every module imports tensorrt lazily, inside functions.

Code here may touch a `trt.X` attribute only if X exists in every supported TensorRT version
(10.3, 10.13, 11.4; see tests/data/trt_api/) or inside a version guard that
tests/test_trt_conformance.py understands: `if trt_major(trt) >= 11:` (or `<`, `==`, ...; the
else branch counts too) or `if hasattr(trt.<chain>, "X"):`.
"""

from __future__ import annotations

SUPPORTED_MAJORS = (10, 11)


def trt_major(trt: object) -> int:
    """Major version of an imported tensorrt module ("10.3.0" -> 10)."""
    return int(str(getattr(trt, "__version__", "0")).split(".")[0])


def import_tensorrt():  # -> module
    """`import tensorrt`, or BackendUnavailable with the reason in one line."""
    from ..errors import BackendUnavailable

    try:
        import tensorrt as trt
    except Exception as exc:  # ImportError, or OSError from a wheel without its libraries
        raise BackendUnavailable(
            f"tensorrt is not importable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "on a Jetson use JetPack's system TensorRT (python3-libnvinfer), see docs/jetson.md"
        ) from None
    if trt_major(trt) not in SUPPORTED_MAJORS:
        raise BackendUnavailable(
            f"TensorRT {trt.__version__} is not supported (expected major version in {SUPPORTED_MAJORS})"
        )
    return trt
