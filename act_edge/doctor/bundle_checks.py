"""Checks of one bundle on this machine: manifest, artifact hashes, a TensorRT engine for this machine."""

from __future__ import annotations

import re
from pathlib import Path

from ..bundle import ONNX_FP16, ONNX_FP32, Bundle, load_bundle, sha256_file
from ..engine_key import Machine, find_engine
from ..errors import ActEdgeError, BundleError, EngineMismatch
from .backends import Backends
from .check import FAIL, OK, Check

REEXPORT = "re-export the bundle (act-edge export CKPT) or copy it again from where it was exported"


def manifest_check(path: Path) -> tuple[Check, Bundle | None]:
    try:
        bundle = load_bundle(path)
    except ActEdgeError as exc:
        return Check(FAIL, "manifest", str(exc), REEXPORT), None
    spec = bundle.spec
    return Check(OK, "manifest", f"{bundle.manifest.get('name', spec.name)}: {len(spec.cameras)} camera(s), "
                                 f"state {spec.state_dim}, action {spec.action_dim} x chunk {spec.chunk_size}, "
                                 f"max batch {bundle.manifest.get('max_batch', 1)}",
                 data={"name": bundle.manifest.get("name"), "max_batch": bundle.manifest.get("max_batch", 1)}), bundle


def artifacts_check(bundle: Bundle) -> Check:
    """sha256 of every artifact and engine file against the manifest; the first mismatch fails."""
    entries = [(key, e) for key, e in bundle.manifest.get("artifacts", {}).items()]
    entries += [(f"engines[{i}]", e) for i, e in enumerate(bundle.engines)]
    checked = []
    for key, entry in entries:
        try:
            if key.startswith("engines["):
                _check_engine_file(bundle, entry)
            else:
                bundle.artifact_path(key)
        except (BundleError, KeyError, TypeError) as exc:
            return Check(FAIL, "artifacts", f"{key}: {exc}" if not isinstance(exc, BundleError) else str(exc),
                         REEXPORT if not key.startswith("engines[") else
                         f"rebuild the engine: act-edge build-engine {bundle.path}",
                         data={"failed": key, "checked": checked})
        checked.append(entry["path"])
    return Check(OK, "artifacts", f"{len(checked)} file(s), sha256 as in the manifest: {', '.join(checked)}",
                 data={"checked": checked})


def _check_engine_file(bundle: Bundle, entry: dict) -> None:
    path = bundle.path / entry["path"]
    if not path.is_file():
        raise BundleError(f"{bundle.path}: engine file {entry['path']} is missing")
    got = sha256_file(path)
    if got != entry["sha256"]:
        raise BundleError(f"{path}: sha256 {got[:12]}... does not match the manifest's {entry['sha256'][:12]}... "
                          "(file modified or truncated)")


def engine_check(bundle: Bundle, found: Backends) -> Check:
    """The engine `Policy.load` would pick on this machine, or the build-engine command that makes one."""
    if not found.trt_usable:
        status = found.optional_status()
        return Check(status, "engine", "not checked: TensorRT and pycuda are not both usable here "
                                       "(see their lines); bundles run on onnxruntime",
                     "fix the tensorrt/pycuda lines, then run this again" if status == FAIL else None)
    cuda = found.cuda or {}
    machine = Machine(found.trt_version or "", cuda["name"], cuda["compute_capability"])
    artifacts = bundle.manifest.get("artifacts", {})
    precision = "fp16" if ONNX_FP16 in artifacts else "fp32"
    shas = {p: artifacts.get(k, {}).get("sha256", "") for p, k in (("fp16", ONNX_FP16), ("fp32", ONNX_FP32))}
    try:
        entry = find_engine(bundle.manifest, machine, str(bundle.path), precision=precision,
                            max_batch=int(bundle.manifest.get("max_batch", 1)),
                            onnx_sha256={k: v for k, v in shas.items() if v})
    except EngineMismatch as exc:
        message = str(exc)
        m = re.search(r"(act-edge build-engine .+)$", message)
        command = m.group(1) if m else f"act-edge build-engine {bundle.path}"
        finding = message[:m.start()].rstrip(" ;:") if m else message
        finding = re.sub(r";? ?(build one on this machine|rebuild it here)$", "", finding)
        finding = finding.removeprefix(f"{bundle.path}: ")
        return Check(FAIL, "engine", f"TensorRT {machine.trt_version} on {machine.gpu_name} "
                                     f"(sm{machine.compute_capability.replace('.', '')}): {finding}", command,
                     data={"command": command})
    except (KeyError, TypeError, ValueError) as exc:
        return Check(FAIL, "engine", f"unreadable engines[] record in the manifest ({exc})",
                     f"act-edge build-engine {bundle.path}")
    return Check(OK, "engine", f"{entry['path']}", data={"path": entry["path"], "key": entry.get("key")})
