"""Build a TensorRT plan from a bundle's ONNX: typing, optimization profile, workspace, DLA, timing cache.

Strongly typed (both 10.x and 11.x): the network keeps the ONNX's precisions exactly (fp16 convs and
matmuls, fp32 LayerNorm/Softmax/normalization/I-O in model.fp16.onnx). Weakly typed (10.x only, for
comparison): fp32 ONNX plus BuilderFlag.FP16, TensorRT picks per layer. No torch here; tensorrt is
imported inside the functions that need it.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..bundle import ONNX_FP16, ONNX_FP32
from ..errors import ActEdgeError, EngineBuildError
from . import trt_major

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildOptions:
    precision: str = "fp16"  # "fp16" | "fp32"
    typing: str = "strong"  # "strong" | "weak" (fp16 only, TensorRT 10.x only)
    max_batch: int = 1
    workspace_mib: int | None = None  # None: TensorRT's default (device memory)
    opt_level: int | None = None  # builder_optimization_level 0..5; None: TensorRT's default (3)
    dla_core: int | None = None
    timing_cache: Path | None = None  # None: default_timing_cache_path(...)

    def __post_init__(self) -> None:
        if self.precision not in ("fp16", "fp32"):
            raise ActEdgeError(f"precision {self.precision!r} is not fp16 or fp32")
        if self.typing not in ("strong", "weak"):
            raise ActEdgeError(f"typing {self.typing!r} is not strong or weak")
        if self.typing == "weak" and self.precision != "fp16":
            raise ActEdgeError("--weak-typing goes with --fp16 (fp32 ONNX + BuilderFlag.FP16)")
        if self.max_batch < 1:
            raise ActEdgeError(f"--max-batch must be >= 1, got {self.max_batch}")
        if self.opt_level is not None and not 0 <= self.opt_level <= 5:
            raise ActEdgeError(f"--opt-level must be 0..5, got {self.opt_level}")
        if self.workspace_mib is not None and self.workspace_mib < 1:
            raise ActEdgeError(f"--workspace must be >= 1 MiB, got {self.workspace_mib}")

    @property
    def onnx_artifact(self) -> str:
        """Which bundle ONNX this build parses."""
        return ONNX_FP16 if (self.precision, self.typing) == ("fp16", "strong") else ONNX_FP32


def profile_shapes(io_inputs: list[dict[str, Any]], max_batch: int) -> dict[str, tuple[tuple[int, ...], ...]]:
    """(min, opt, max) shapes per graph input: batch 1 / 1 / max_batch, other axes as in the manifest."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    out = {}
    for entry in io_inputs:
        dims = entry["shape"]
        if dims.count("batch") != 1 or dims[0] != "batch":
            raise ValueError(f"input {entry['name']!r}: expected the batch axis first, got shape {dims}")
        rest = tuple(int(d) for d in dims[1:])
        out[entry["name"]] = ((1, *rest), (1, *rest), (max_batch, *rest))
    return out


def default_timing_cache_path(trt_version: str, sm: str) -> Path:
    """Per-user cache shared by every bundle: timings depend on the GPU and TensorRT, not the model."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "act-edge" / "trt-timing" / f"trt{trt_version}-{sm}.cache"


def build_plan(trt: Any, onnx_path: Path, io_inputs: list[dict[str, Any]], opts: BuildOptions,
               timing_cache: Path, log: Log) -> bytes:
    """Parse `onnx_path` and build a serialized plan; the timing cache is read and written back."""
    major = trt_major(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if opts.typing == "strong":
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)).replace("\n", " ") for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT {trt.__version__} could not parse {onnx_path.name}: {errors}")

    config = builder.create_builder_config()
    if opts.workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mib << 20)
    if opts.opt_level is not None:
        config.builder_optimization_level = opts.opt_level
    if opts.precision == "fp32":
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32: TF32 matmuls would lose 13 mantissa bits
    if opts.typing == "weak":
        if trt_major(trt) < 11:
            config.set_flag(trt.BuilderFlag.FP16)
        else:
            raise EngineBuildError(
                f"weak typing (BuilderFlag.FP16) was removed in TensorRT 11; this is {trt.__version__}: "
                "build the strongly typed fp16 engine (drop --weak-typing)")
    if opts.dla_core is not None:
        if opts.dla_core >= builder.num_DLA_cores:
            raise EngineBuildError(f"--dla-core {opts.dla_core}: this device has {builder.num_DLA_cores} DLA cores")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = opts.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)  # layers DLA can't run (Softmax over long axes, ...) go to GPU
        if opts.max_batch > 1:
            log("note: DLA runs static shapes only; with batch 1..N the DLA layers fall back to the GPU "
                "(use --max-batch 1 for a DLA engine)")

    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile_shapes(io_inputs, opts.max_batch).items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)

    cache_bytes = timing_cache.read_bytes() if timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, False)  # ignore_mismatch=False: a cache from another GPU is rejected
    log(f"timing cache: {'loaded' if cache_bytes else 'new'} {timing_cache}")

    monitor = _progress_monitor(trt, log)
    if monitor is not None:
        config.progress_monitor = monitor

    typed = "strongly typed" if opts.typing == "strong" else "weakly typed (FP16 flag)"
    log(f"building {opts.precision} {typed} engine with TensorRT {trt.__version__} (major {major}), "
        f"batch 1..{opts.max_batch}; this takes minutes")
    t0 = time.monotonic()
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineBuildError(f"TensorRT {trt.__version__} failed to build {onnx_path.name} (see the log above)")
    log(f"built in {time.monotonic() - t0:.0f} s ({plan.nbytes / 1e6:.1f} MB)")

    from ..bundle import write_file_atomic

    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(timing_cache, bytes(config.get_timing_cache().serialize()))
    return bytes(plan)


def _progress_monitor(trt: Any, log: Log) -> Any:
    """An IProgressMonitor that logs phases (at most one line per second per phase), or None."""
    if not hasattr(trt, "IProgressMonitor"):
        return None

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._last: dict[str, float] = {}
            self._steps: dict[str, int] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self._steps[phase_name] = num_steps
            if parent_phase is None:
                log(f"  {phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name: str, step: int) -> bool:
            now = time.monotonic()
            if now - self._last.get(phase_name, 0.0) >= 1.0:
                self._last[phase_name] = now
                log(f"  {phase_name}: {step + 1}/{self._steps.get(phase_name, '?')}")
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            self._steps.pop(phase_name, None)

    return Monitor()


def describe_failure(exc: BaseException) -> str:
    """One line for an unexpected exception from inside TensorRT."""
    text = re.sub(r"\s+", " ", str(exc)).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def require_build_machine(device: str = "cuda:0") -> tuple[Any, Any]:
    """(tensorrt module, Machine), or BackendUnavailable saying which of the two is missing."""
    from . import import_tensorrt
    from .device import machine_info

    trt = import_tensorrt()
    return trt, machine_info(trt.__version__, device)
