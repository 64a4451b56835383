"""Optional packages: whether one imports here, and the one line that says how to install it.

The runtime needs numpy only; the export side (init, export, inspecting a checkpoint, bench --compare)
needs torch, onnx and onnxruntime. No package is imported at module level.
"""

from __future__ import annotations

import importlib

from .errors import DependencyMissing

# How to install each package (the `export` extra names them; torch from PyTorch's CPU index, since
# the PyPI wheel pulls the CUDA build).
INSTALL = {
    "torch": "pip install torch --index-url https://download.pytorch.org/whl/cpu "
             "(CPU build; on a Jetson: NVIDIA's torch wheel for your JetPack)",
    "onnx": "pip install 'onnx>=1.15'",
    "onnxruntime": "pip install 'onnxruntime>=1.17'",
}


def missing_line(what: str, package: str, exc: BaseException | None = None) -> str:
    """`<what> needs <package>, which does not import here (<why>): <install line>`."""
    why = str(exc).splitlines()[0] if exc is not None and str(exc) else "not installed"
    install = INSTALL.get(package, f"pip install {package}")
    return f"{what} needs {package}, which does not import here ({why}): {install}"


def require(what: str, *packages: str) -> None:
    """Import each package; the first that fails raises DependencyMissing (one line, the install command)."""
    for package in packages:
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise DependencyMissing(missing_line(what, package, exc)) from None


def missing_package(exc: ImportError) -> str | None:
    """The optional package an ImportError is about (torch, onnx, onnxruntime), else None."""
    root = (exc.name or "").split(".")[0]
    return root if root in INSTALL else None
