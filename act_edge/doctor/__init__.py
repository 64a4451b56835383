"""`act-edge doctor`: is this machine (and optionally this bundle) ready to run a policy?

Runtime side: numpy only at import; each probe imports what it checks (onnxruntime, tensorrt, pycuda)
inside a function, and torch only where it is installed. One `Check` per line of the report.
"""

from .check import Check
from .report import exit_code, render_json, render_text
from .run import run_checks

__all__ = ["Check", "exit_code", "render_json", "render_text", "run_checks"]
