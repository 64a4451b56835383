"""Family-loader tests: make the shared fixture writers and reference forwards importable."""

import sys
from pathlib import Path

for p in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
