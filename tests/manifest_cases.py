"""The shared manifest conformance data (tests/conformance/manifest_cases.json): the base bundle it
starts from and the mutations it applies, as the Python tests run them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from act_edge.bundle import MANIFEST
from bundles import SyntheticBundle, build_synthetic_bundle, synthetic_spec

CASES_FILE = Path(__file__).parent / "conformance" / "manifest_cases.json"


def load_cases() -> dict[str, Any]:
    doc = json.loads(CASES_FILE.read_text())
    assert doc["version"] == 1, f"{CASES_FILE}: unknown version {doc['version']}"
    return doc


def make_base(dest: Path) -> SyntheticBundle:
    """The base bundle the cases describe (`base` in the JSON file)."""
    base = load_cases()["base"]
    return build_synthetic_bundle(dest, spec=synthetic_spec(chunk=8, dof=5), runtime=base["runtime"],
                                  max_batch=base["max_batch"], fp16=base["fp16"])


def apply_mutations(bundle_dir: Path, mutate: list[dict[str, Any]]) -> None:
    """Apply a case's ops to the bundle's manifest.json and files."""
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    raws: dict[str, str] = {}
    for op in mutate:
        kind = op["op"]
        if kind in ("set", "set_raw", "delete"):
            *parents, last = op["path"]
            node = manifest
            for key in parents:
                node = node[key]
            if kind == "delete":
                del node[last]
                continue
            value = op.get("value")
            if kind == "set_raw":
                value = f"\x00raw{len(raws)}\x00"
                raws[json.dumps(value)] = op["raw"]
            if isinstance(node, list) and last == len(node):
                node.append(value)
            else:
                node[last] = value
        elif kind == "copy_file":
            target = bundle_dir / op["to"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bundle_dir / op["from"], target)
        elif kind == "symlink":
            link = bundle_dir / op["link"]
            if link.exists() or link.is_symlink():
                link.unlink()
            os.symlink(op["target"], link)
        elif kind == "mkdir":
            (bundle_dir / op["path"]).mkdir(parents=True)
        else:
            raise ValueError(f"unknown op {kind!r}")
    text = json.dumps(manifest, indent=1)
    for placeholder, raw in raws.items():
        text = text.replace(placeholder, raw)
    (bundle_dir / MANIFEST).write_text(text)
