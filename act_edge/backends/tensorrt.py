"""TensorRT backend: page-locked host buffers, device buffers, one stream, execute_async_v3, CUDA graphs.

Every buffer is allocated once for max_batch; the page-locked host arrays *are* the input buffers
the Policy writes into, so upload is one async copy per input. Tensor addresses are set once; the
input shapes only change when the batch does. With cuda_graph=True the enqueue for each batch size
is captured once (cuda-python) and replayed. tensorrt, pycuda and cuda-python are imported lazily.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..bundle import ONNX_FP16, ONNX_FP32, Bundle
from ..engine_key import EngineKey, check_compatible, find_engine
from ..errors import BackendUnavailable, BundleError
from .base import Backend


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, bundle: Bundle, max_batch: int, device: str = "cuda:0",
                 engine: str | Path | bytes | None = None, cuda_graph: bool = False,
                 precision: str | None = None, dla_core: int | None = None) -> None:
        super().__init__(bundle, max_batch)
        self._plan_dla_core = dla_core  # only for an in-memory plan; manifest engines carry their own
        from ..trt import import_tensorrt
        from ..trt.device import cuda_index, import_pycuda, machine_info

        trt = import_tensorrt()
        cuda = import_pycuda()
        self._cuda = cuda
        self._closed = False
        self._graphs: dict[int, Any] = {}
        self._cudart = _import_cudart() if cuda_graph else None
        self.device = device
        machine = machine_info(trt.__version__, device)
        plan, self.precision, self.engine_path, dla_core = self._select_plan(engine, machine, precision)

        self._ctx = cuda.Device(cuda_index(device)).retain_primary_context()
        self._device_bufs: dict[str, Any] = {}
        try:
            with self._current():
                logger = trt.Logger(trt.Logger.WARNING)
                self._runtime = trt.Runtime(logger)
                if dla_core is not None:
                    self._runtime.DLA_core = dla_core  # a DLA plan runs on the core it was built for
                self._engine = self._runtime.deserialize_cuda_engine(plan)
                if self._engine is None:
                    raise BackendUnavailable(f"TensorRT {trt.__version__} could not deserialize {self.engine_path}")
                self._context = self._engine.create_execution_context()
                self._stream = cuda.Stream()
                self._allocate(trt)
        except BaseException:
            with self._current():
                for buf in self._device_bufs.values():
                    buf.free()
            self._ctx.detach()
            self._closed = True
            raise
        self._batch = 0

    # --- load ----------------------------------------------------------------------------------
    def _select_plan(self, engine: str | Path | bytes | None, machine: Any,
                     precision: str | None) -> tuple[bytes, str, str, int | None]:
        """(plan, precision, description, DLA core) after the key check that gives the one-line error."""
        bundle = self.bundle
        if isinstance(engine, (bytes, bytearray)):  # a plan just built on this machine (verification)
            return bytes(engine), precision or "fp16", "<in-memory plan>", self._plan_dla_core
        shas = {p: bundle.manifest.get("artifacts", {}).get(k, {}).get("sha256", "")
                for p, k in (("fp16", ONNX_FP16), ("fp32", ONNX_FP32))}
        if engine is None:
            entry = find_engine(bundle.manifest, machine, str(bundle.path), precision=precision,
                                max_batch=self.max_batch, onnx_sha256={k: v for k, v in shas.items() if v})
        else:
            rel = str(Path(engine).resolve().relative_to(bundle.path.resolve())) if Path(engine).is_absolute() \
                else str(engine)
            matches = [e for e in bundle.engines if e["path"] == rel]
            if not matches:
                raise BackendUnavailable(f"{engine}: not an engine recorded in {bundle.path}/manifest.json")
            entry = matches[0]
            check_compatible(EngineKey.from_dict(entry["key"]), machine, str(bundle.path), entry["path"])
        key = EngineKey.from_dict(entry["key"])
        path = bundle.engine_file(entry)
        return path.read_bytes(), key.precision, entry["path"], key.dla_core

    def _allocate(self, trt: Any) -> None:
        cuda = self._cuda
        io = self.bundle.manifest["io"]
        expected = {e["name"]: e for e in io["inputs"] + io["outputs"]}
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        if sorted(names) != sorted(expected):
            # The bundle's engine contradicts its manifest: a bundle fault (as the C++ TrtPolicy says), not this machine's.
            raise BundleError(f"{self.engine_path}: engine I/O {sorted(names)} != manifest I/O {sorted(expected)}")
        for name in names:
            entry = expected[name]
            if self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                top = self._engine.get_tensor_profile_shape(name, 0)[2][0]  # profile 0: (min, opt, max)
                if top < self.max_batch:
                    raise BackendUnavailable(
                        f"{self.engine_path}: profile allows batch <= {top}, expected max batch {self.max_batch}; "
                        f"rebuild: act-edge build-engine {self.bundle.path} --max-batch {self.max_batch}")
            dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            if dtype != np.dtype(entry["dtype"]):
                raise BundleError(f"{self.engine_path}: tensor {name!r} is {dtype} in the engine, "
                                  f"{entry['dtype']} in the manifest")
            shape = tuple(self.max_batch if d == "batch" else int(d) for d in entry["shape"])
            host = cuda.pagelocked_empty(shape, dtype)
            host[...] = 0
            dev = cuda.mem_alloc(max(host.nbytes, 1))
            self._device_bufs[name] = dev
            self._context.set_tensor_address(name, int(dev))
            if self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self._inputs[name] = host
            else:
                self._output = host
                self._output_name = name
        # Keep the Policy's input order (manifest order), not the engine's.
        self._inputs = {e["name"]: self._inputs[e["name"]] for e in io["inputs"]}

    @contextlib.contextmanager
    def _current(self) -> Iterator[None]:
        self._ctx.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    # --- per step ------------------------------------------------------------------------------
    def upload(self, batch: int) -> None:
        if not 1 <= batch <= self.max_batch:
            raise ValueError(f"batch {batch} outside 1..{self.max_batch}")
        with self._current():
            if batch != self._batch:
                for name, host in self._inputs.items():
                    self._context.set_input_shape(name, (batch, *host.shape[1:]))
                self._batch = batch
            for name, host in self._inputs.items():
                self._cuda.memcpy_htod_async(self._device_bufs[name], host[:batch], self._stream)

    def execute(self, batch: int) -> None:
        if batch != self._batch:
            raise ValueError(f"execute({batch}) after upload({self._batch})")
        with self._current():
            if self._cudart is None:
                self._enqueue()
            else:
                self._launch_graph(batch)

    def download(self, batch: int) -> np.ndarray:
        assert self._output is not None
        with self._current():
            self._cuda.memcpy_dtoh_async(self._output[:batch], self._device_bufs[self._output_name], self._stream)
            self._stream.synchronize()
        return self._output[:batch]

    def _enqueue(self) -> None:
        if not self._context.execute_async_v3(self._stream.handle):
            raise RuntimeError(f"{self.engine_path}: execute_async_v3 failed (see the TensorRT log)")

    def _launch_graph(self, batch: int) -> None:
        cudart = self._cudart
        stream = cudart.cudaStream_t(self._stream.handle)
        graph_exec = self._graphs.get(batch)
        if graph_exec is None:
            self._enqueue()  # one plain run first: TensorRT finishes shape-dependent setup outside capture
            self._stream.synchronize()
            _check(cudart.cudaStreamBeginCapture(
                stream, cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture")
            self._enqueue()
            graph = _check(cudart.cudaStreamEndCapture(stream), "cudaStreamEndCapture")
            try:
                graph_exec = _check(cudart.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
            finally:
                cudart.cudaGraphDestroy(graph)  # the executable graph keeps what it needs
            self._graphs[batch] = graph_exec
        _check(cudart.cudaGraphLaunch(graph_exec, stream), "cudaGraphLaunch")

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        with self._current():
            self._stream.synchronize()
            for graph_exec in self._graphs.values():
                self._cudart.cudaGraphExecDestroy(graph_exec)
            self._graphs.clear()
            self._context = None  # before the memory it points at
            self._engine = None
            for buf in self._device_bufs.values():
                buf.free()
            self._device_bufs.clear()
        self._ctx.detach()

    def describe(self) -> str:
        graph = ", CUDA graph" if self._cudart is not None else ""
        return f"tensorrt ({self.device}, {self.precision}{graph}, {self.engine_path})"


def _import_cudart() -> Any:
    """cuda-python's runtime module (new `cuda.bindings` layout first), or BackendUnavailable."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise BackendUnavailable("cuda_graph=True needs cuda-python (`pip install cuda-python`)") from None
    return cudart


def _check(result: tuple, what: str) -> Any:
    err, *rest = result
    if int(err) != 0:
        raise RuntimeError(f"{what} failed: {err}")
    return rest[0] if len(rest) == 1 else (rest or None)
