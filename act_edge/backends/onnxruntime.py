"""onnxruntime backend: CPU or CUDA execution provider, inputs/outputs bound with IOBinding.

CPU: the graph reads the host staging buffers and writes the host output buffer directly (IOBinding
on raw pointers; upload/download are no-ops). CUDA: device input buffers per batch size (made on
first use of that size); `upload` copies the staged rows [:batch] into them; the output is bound
to the preallocated host buffer, so onnxruntime's device->host copy happens at the end of
`execute` and `download` only returns the view. IOBindings and device buffers are cached per batch
size, so a step allocates no buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bundle import ONNX_FP16, ONNX_FP32, Bundle
from ..device_name import parse_device
from ..errors import BackendUnavailable, BundleError
from ..manifest_schema import check_graph_io
from .base import Backend, allocate_io


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, bundle: Bundle, max_batch: int, device: str = "cpu", precision: str = "fp32",
                 intra_op_threads: int | None = None, allow_spinning: bool = False,
                 verify: bool = True) -> None:
        super().__init__(bundle, max_batch)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable(f"onnxruntime backend: cannot import onnxruntime ({exc})") from None
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"onnxruntime backend: precision must be 'fp32' or 'fp16', got {precision!r}")
        kind, device_id = parse_device(device)
        key = ONNX_FP16 if precision == "fp16" else ONNX_FP32
        path = bundle.artifact_path(key, verify=verify)  # BundleError on a sha256 mismatch
        if kind == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable(
                    "onnxruntime backend: CUDAExecutionProvider is not available in this onnxruntime "
                    f"(providers: {ort.get_available_providers()}); install onnxruntime-gpu or use device='cpu'")
            providers: list[Any] = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: load-time optimizer notes (fp16 graphs) are not actionable
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        # Spinning worker threads keep cores busy after each run, stealing them from the control loop
        # (measured on 2 cores: validate/ensemble stages 5-20x slower); off unless asked for.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "1" if allow_spinning else "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(f"{path}: onnxruntime cannot load it: {exc}") from None
        self._ort = ort
        self.device = "cpu" if kind == "cpu" else f"cuda:{device_id}"
        self.precision = precision
        self._device_kind, self._device_id = kind, device_id
        self._inputs, self._output = allocate_io(bundle, max_batch)
        graph_inputs = {i.name for i in self._session.get_inputs()}
        if graph_inputs != set(self._inputs):
            raise BundleError(f"{path}: graph inputs {sorted(graph_inputs)} differ from the manifest's "
                              f"{sorted(self._inputs)}")
        check_graph_io({"inputs": [(i.name, i.type, i.shape) for i in self._session.get_inputs()],
                        "outputs": [(o.name, o.type, o.shape) for o in self._session.get_outputs()]},
                       bundle.manifest["io"], str(path))
        self._output_name = bundle.manifest["io"]["outputs"][0]["name"]
        self._out_views = [self._output[:b] for b in range(max_batch + 1)]
        self._host_views = [{n: b[:k] for n, b in self._inputs.items()} for k in range(max_batch + 1)]
        self._device_inputs: dict[int, dict[str, Any]] = {}  # batch -> name -> OrtValue (CUDA only)
        self._bindings: dict[int, Any] = {}

    def _binding(self, batch: int) -> Any:
        binding = self._bindings.get(batch)
        if binding is not None:
            return binding
        if not 1 <= batch <= self.max_batch:
            raise ValueError(f"batch {batch} is outside 1..{self.max_batch}")
        binding = self._session.io_binding()
        if self._device_kind == "cuda":
            self._device_inputs[batch] = {
                name: self._ort.OrtValue.ortvalue_from_shape_and_type(
                    [batch, *buf.shape[1:]], buf.dtype, "cuda", self._device_id)
                for name, buf in self._inputs.items()}
        for name, buf in self._inputs.items():
            shape = [batch, *buf.shape[1:]]
            if self._device_kind == "cuda":
                ptr, dev = self._device_inputs[batch][name].data_ptr(), "cuda"
            else:
                ptr, dev = buf.ctypes.data, "cpu"  # rows [:batch] of a C-contiguous buffer are contiguous
            binding.bind_input(name, dev, self._device_id if dev == "cuda" else 0, buf.dtype, shape, ptr)
        out = self._output
        binding.bind_output(self._output_name, "cpu", 0, out.dtype, [batch, *out.shape[1:]], out.ctypes.data)
        self._bindings[batch] = binding
        return binding

    def upload(self, batch: int) -> None:
        self._binding(batch)  # creates the device buffers of this batch size on first use
        if self._device_kind == "cuda":
            host = self._host_views[batch]
            for name, value in self._device_inputs[batch].items():
                value.update_inplace(host[name])

    def execute(self, batch: int) -> None:
        self._session.run_with_iobinding(self._binding(batch))

    def download(self, batch: int) -> np.ndarray:
        return self._out_views[batch]

    def close(self) -> None:
        self._bindings.clear()
        self._device_inputs.clear()
        self._session = None  # type: ignore[assignment]
