"""Run every doctor check in report order: machine, backends, then the bundle (when one is given)."""

from __future__ import annotations

from pathlib import Path

from . import probes
from .backends import Backends, gpu_check, onnxruntime_check, pycuda_check, tensorrt_check, torch_check
from .bundle_checks import artifacts_check, engine_check, manifest_check
from .check import FAIL, Check
from .smoke import smoke_check
from .system import numpy_check, platform_check, python_check


def run_checks(bundle: str | Path | None = None) -> list[Check]:
    found = Backends(jetson=probes.jetson())
    checks = [platform_check(found.jetson), python_check(), numpy_check(found.jetson)]
    torch_line = torch_check(found)  # first: the gpu line also accepts torch.cuda as evidence
    checks += [gpu_check(found), tensorrt_check(found), pycuda_check(found), onnxruntime_check(found), torch_line]
    if bundle is None:
        return checks
    manifest, loaded = manifest_check(Path(bundle))
    checks.append(manifest)
    if loaded is None:
        return checks
    artifacts = artifacts_check(loaded)
    checks += [artifacts, engine_check(loaded, found)]
    if artifacts.status != FAIL:  # a damaged artifact would only be reported again as a load error
        checks.append(smoke_check(loaded))
    return checks
