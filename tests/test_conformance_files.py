"""The committed conformance files are exactly what tools/make_conformance.py writes (a hand edit to a
case, or a generator change without regenerating, fails here). numpy only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_conformance.py"


def test_conformance_files_match_the_generator(capsys):
    spec = importlib.util.spec_from_file_location("make_conformance", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, capsys.readouterr().err
