"""TensorRT engine identity: the key an engine is built for, its file name, and the compatibility check.

A serialized TensorRT plan only runs with the TensorRT version and the GPU it was built with, so each
engine in a bundle is recorded with an `EngineKey` and looked up by the machine's key. Pure Python:
this module never imports tensorrt (the runtime imports it only after an engine is chosen).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .errors import EngineMismatch

PRECISIONS = ("fp16", "fp32")
TYPINGS = ("strong", "weak")  # strong: precision exactly as in the ONNX; weak: fp32 ONNX + FP16 flag
ENGINES_DIR = "engines"


@dataclass(frozen=True)
class Machine:
    """What the runtime side knows about where it runs."""

    trt_version: str  # tensorrt.__version__, e.g. "10.3.0"
    gpu_name: str  # CUDA device name, e.g. "Orin"
    compute_capability: str  # "8.7"


@dataclass(frozen=True)
class EngineKey:
    """Everything a plan depends on. Two engines with equal keys are interchangeable."""

    trt_version: str
    gpu_name: str
    compute_capability: str  # "major.minor"
    precision: str  # "fp16" | "fp32"
    typing: str  # "strong" | "weak"
    onnx_sha256: str  # of the ONNX file the plan was parsed from
    max_batch: int
    dla_core: int | None = None  # None: GPU engine

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if self.typing not in TYPINGS:
            raise ValueError(f"typing {self.typing!r} is not one of {TYPINGS}")
        if self.typing == "weak" and self.precision != "fp16":
            raise ValueError("weak typing only means something for fp16 (fp32 ONNX + BuilderFlag.FP16)")
        if not re.fullmatch(r"\d+\.\d+", self.compute_capability):
            raise ValueError(f"compute_capability {self.compute_capability!r} is not 'major.minor'")
        if not re.fullmatch(r"[0-9a-f]{64}", self.onnx_sha256):
            raise ValueError(f"onnx_sha256 {self.onnx_sha256[:16]!r}... is not a sha256 hex digest")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")

    @property
    def machine(self) -> Machine:
        return Machine(self.trt_version, self.gpu_name, self.compute_capability)

    @property
    def sm(self) -> str:
        return "sm" + self.compute_capability.replace(".", "")

    def filename(self) -> str:
        """Bundle-relative path, e.g. engines/model.fp16-strong.sm87-orin.trt10.3.0.b8.1a2b3c4d.engine"""
        gpu = re.sub(r"[^a-z0-9]+", "-", self.gpu_name.lower()).strip("-")[:32] or "gpu"
        dla = f".dla{self.dla_core}" if self.dla_core is not None else ""
        return (f"{ENGINES_DIR}/model.{self.precision}-{self.typing}.{self.sm}-{gpu}{dla}"
                f".trt{self.trt_version}.b{self.max_batch}.{self.onnx_sha256[:8]}.engine")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EngineKey":
        return cls(**data)

    def describe(self) -> str:
        dla = f", DLA core {self.dla_core}" if self.dla_core is not None else ""
        return (f"TensorRT {self.trt_version} on {self.gpu_name} ({self.sm}), {self.precision} "
                f"{self.typing}ly typed, max batch {self.max_batch}{dla}")

    def rebuild_command(self, bundle: str) -> str:
        parts = ["act-edge build-engine", _quote(bundle), f"--{self.precision}"]
        if self.typing == "weak":
            parts.append("--weak-typing")
        parts.append(f"--max-batch {self.max_batch}")
        if self.dla_core is not None:
            parts.append(f"--dla-core {self.dla_core}")
        return " ".join(parts)


def _quote(path: str) -> str:
    return f"'{path}'" if re.search(r"\s", path) else path


def release(version: str) -> str:
    """major.minor.patch of a TensorRT version: "10.13.3.9" -> "10.13.3" (the build number is ignored:
    the C++ runtime reads its version from getInferLibVersion(), which has no build number)."""
    return ".".join(version.split(".")[:3])


def mismatch_reasons(key: EngineKey, machine: Machine) -> list[str]:
    """'expected X, found Y' fragments where an engine cannot run on `machine` (empty: it can)."""
    out = []
    if release(key.trt_version) != release(machine.trt_version):
        out.append(f"TensorRT {machine.trt_version} (engine built with {key.trt_version})")
    if (key.gpu_name, key.compute_capability) != (machine.gpu_name, machine.compute_capability):
        out.append(f"GPU {machine.gpu_name} sm{machine.compute_capability.replace('.', '')} "
                   f"(engine built on {key.gpu_name} {key.sm})")
    return out


def check_compatible(key: EngineKey, machine: Machine, bundle: str, engine_path: str = "") -> None:
    """Raise EngineMismatch with one line (expected / found / rebuild command) if `key` can't run here."""
    reasons = mismatch_reasons(key, machine)
    if reasons:
        what = f"engine {engine_path}" if engine_path else "engine"
        raise EngineMismatch(
            f"{what} does not match this machine: expected {'; '.join(reasons)}; "
            f"rebuild it here: {key.rebuild_command(bundle)}"
        )


def onnx_sha256_of(manifest: dict[str, Any]) -> dict[str, str]:
    """precision -> sha256 of the bundle's ONNX for it (artifacts onnx_fp16 / onnx_fp32, where present)."""
    artifacts = manifest.get("artifacts") or {}
    out = {}
    for precision, name in (("fp16", "onnx_fp16"), ("fp32", "onnx_fp32")):
        sha = (artifacts.get(name) or {}).get("sha256")
        if sha:
            out[precision] = sha
    return out


def check_request(precision: str | None, typing: str | None, max_batch: int) -> None:
    """ValueError (one line) for an engine request no engine can satisfy whatever the bundle holds."""
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"engine request: precision '{precision}' is not one of fp16, fp32")
    if typing is not None and typing not in TYPINGS:
        raise ValueError(f"engine request: typing '{typing}' is not one of strong, weak")
    if typing == "weak" and precision == "fp32":
        raise ValueError("engine request: weak typing only means something for fp16 (fp32 ONNX + BuilderFlag.FP16)")
    if max_batch < 1:
        raise ValueError(f"engine request: max_batch must be >= 1, got {max_batch}")


def find_engine(
    manifest: dict[str, Any],
    machine: Machine,
    bundle: str,
    *,
    precision: str | None = None,
    typing: str | None = None,
    max_batch: int = 1,
    onnx_sha256: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest `engines[]` entry to load on `machine`, or EngineMismatch saying why none fits.

    The rule (docs/bundle-format.md, "Engine selection"; C++ select_engine ports it; the cases in
    tests/conformance/engine_selection_cases.json hold both to it): drop engines parsed from another
    ONNX than the bundle's; keep the requested precision/typing (None: any); keep those built for
    this TensorRT release and GPU; keep those whose max_batch >= `max_batch`; pick fp16 strong, then
    fp16 weak, then fp32, a GPU engine before a DLA one, then the smallest max_batch, then the first
    listed. `onnx_sha256` maps precision -> sha256 of the bundle's ONNX for it (None: read from the
    manifest's artifacts, onnx_sha256_of). A request no engine can satisfy is a ValueError.
    """
    check_request(precision, typing, max_batch)
    if onnx_sha256 is None:
        onnx_sha256 = onnx_sha256_of(manifest)
    want_precision = precision or "fp16"
    want_typing = typing or "strong"
    entries = [(e, EngineKey.from_dict(e["key"])) for e in manifest.get("engines", [])]
    if onnx_sha256:
        stale = [(e, k) for e, k in entries if onnx_sha256.get(k.precision if k.typing == "strong" else "fp32")
                 not in (None, k.onnx_sha256)]
        entries = [x for x in entries if x not in stale]
    wanted = [(e, k) for e, k in entries
              if (precision is None or k.precision == precision) and (typing is None or k.typing == typing)]
    rebuild = EngineKey(machine.trt_version, machine.gpu_name, machine.compute_capability, want_precision,
                        want_typing, "0" * 64, max(max_batch, int(manifest.get("max_batch", 1))))
    if not wanted:
        have = ", ".join(k.describe() for _, k in entries) or "none"
        raise EngineMismatch(
            f"{bundle}: no TensorRT engine for {want_precision} {want_typing}ly typed (bundle has: {have}); "
            f"build one on this machine: {rebuild.rebuild_command(bundle)}"
        )
    runnable = [(e, k) for e, k in wanted if not mismatch_reasons(k, machine)]
    big_enough = [(e, k) for e, k in runnable if k.max_batch >= max_batch]
    if big_enough:
        order = {("fp16", "strong"): 0, ("fp16", "weak"): 1, ("fp32", "strong"): 2}
        # GPU before DLA (the DLA is the slower, opt-in choice), then the smallest sufficient profile.
        return min(big_enough, key=lambda x: (order[(x[1].precision, x[1].typing)], x[1].dla_core is not None,
                                              x[1].max_batch))[0]
    if runnable:
        e, k = max(runnable, key=lambda x: x[1].max_batch)
        raise EngineMismatch(
            f"engine {e['path']} allows batch <= {k.max_batch}, expected max batch {max_batch}; "
            f"rebuild it here: {EngineKey(**{**k.to_dict(), 'max_batch': max_batch}).rebuild_command(bundle)}"
        )
    e, k = wanted[0]
    check_compatible(k, machine, bundle, e["path"])
    raise AssertionError("unreachable")  # pragma: no cover
