"""Reading the runtime conformance files (tests/conformance/*.json, written by tools/make_conformance.py)
into numpy values, as the pytest readers use them. numpy only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DIR = Path(__file__).parent / "conformance"
_SPECIAL = {"nan": np.nan, "-nan": -np.nan, "inf": np.inf, "-inf": -np.inf}  # -nan: sign bit set
# A value of each Python type a case names with {"other": type name}.
_OTHER = {"list": [1.5, -0.5], "tuple": (1.5, -0.5), "NoneType": None, "int": 3, "str": "x", "dict": {}}


def load(name: str) -> dict[str, Any]:
    """The document of tests/conformance/<name>, version-checked."""
    path = DIR / name
    doc = json.loads(path.read_text())
    assert doc["version"] == 1, f"{path}: unknown version {doc['version']}"
    return doc


def array(enc: dict[str, Any]) -> np.ndarray:
    """{"dtype", "shape", "data"} -> a C-order array; "nan"/"-nan"/"inf"/"-inf" strings become those values."""
    data = [_SPECIAL[v] if isinstance(v, str) else v for v in enc["data"]]
    return np.array(data, dtype=np.float64 if enc["dtype"].startswith("float") else None) \
        .astype(enc["dtype"]).reshape(enc["shape"])


def value(enc: dict[str, Any]) -> Any:
    """An observation value: {array}, {cameras: {name: value}} or {other: type name}."""
    if "array" in enc:
        return array(enc["array"])
    if "cameras" in enc:
        return {name: value(v) for name, v in enc["cameras"].items()}
    return _OTHER[enc["other"]]


def observation(enc: dict[str, Any]) -> Any:
    if "not_a_mapping" in enc:
        return _OTHER[enc["not_a_mapping"]]
    return {name: value(v) for name, v in enc.items()}
