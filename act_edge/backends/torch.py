"""torch backend: the exporter's reference model (eager fp32; on CUDA optionally fp16 autocast + CUDA graph).

It loads the source checkpoint (the `checkpoint=` argument, else the manifest's `source.path` in
`source.format`, checked against the manifest's source hashes) with `act_edge.export.checkpoint.load_checkpoint` and runs
`act_edge.export.model.build_inference_model(spec)`, which takes the same named tensors as the ONNX graph.
Host buffers are shared with torch (`torch.from_numpy`), so on CPU staging writes straight into the
model's inputs and the result is copied into the preallocated output buffer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import Bundle, sha256_file
from ..device_name import parse_device
from ..errors import BackendUnavailable, BundleError
from .base import Backend, allocate_io


def _verify_source(bundle: Bundle, path: Path) -> None:
    """Check a checkpoint against the manifest's source hashes: `source.files` {file name: sha256}
    (names relative to the checkpoint directory, or to the checkpoint file's folder), or
    `source.sha256` (a hex string for one file, or such a mapping)."""
    source = bundle.manifest.get("source", {})
    want = source.get("files", source.get("sha256"))
    if want is None:
        return
    files = {"": want} if isinstance(want, str) else dict(want)
    base = path if path.is_dir() else path.parent
    for rel, digest in files.items():
        f = (base / rel) if rel else path
        if not f.is_file():
            raise BundleError(f"{f}: checkpoint file named by the manifest's source hashes is missing")
        got = sha256_file(f)
        if got != digest:
            raise BundleError(f"{f}: sha256 {got[:12]}... does not match the manifest's source hash "
                              f"{digest[:12]}... (not the checkpoint this bundle was exported from)")


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, bundle: Bundle, max_batch: int, device: str = "cpu", precision: str = "fp32",
                 checkpoint: str | os.PathLike | None = None, cuda_graph: bool = True,
                 verify: bool = True, checkpoint_options: dict[str, Any] | None = None) -> None:
        super().__init__(bundle, max_batch)
        try:
            import torch

            from ..export.checkpoint import load_checkpoint
            from ..export.model import build_inference_model
        except ImportError as exc:
            raise BackendUnavailable(f"torch backend: needs torch and act_edge.export ({exc})") from None
        kind, device_id = parse_device(device)
        if kind == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("torch backend: CUDA requested but torch.cuda.is_available() is False")
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"torch backend: precision must be 'fp32' or 'fp16', got {precision!r}")
        if precision == "fp16" and kind == "cpu":
            raise ValueError("torch backend: fp16 runs on CUDA only; use precision='fp32' on CPU")
        if checkpoint is None:
            src = bundle.manifest.get("source", {}).get("path")
            if not src:
                raise BundleError(f"{bundle.path}: the manifest has no source.path; pass checkpoint=")
            path = Path(src)
            if verify:
                _verify_source(bundle, path)
        else:
            path = Path(checkpoint)
        fmt = bundle.manifest.get("source", {}).get("format") if checkpoint is None else None
        loaded = load_checkpoint(path, format=fmt, **(checkpoint_options or {}))
        self._torch = torch
        self.device = "cpu" if kind == "cpu" else f"cuda:{device_id}"
        self.precision = precision
        dev = torch.device(self.device)
        model = build_inference_model(bundle.spec)  # the bundle's spec: the graph the bundle was made from
        try:
            model.load_state_dict({k: v.float() for k, v in loaded.state_dict.items()}, strict=True)
        except RuntimeError as exc:
            raise BundleError(f"{path}: weights do not fit the bundle's spec: {str(exc).splitlines()[0]}") from None
        self._model = model.eval().to(dev)
        self._inputs, self._output = allocate_io(bundle, max_batch)
        if kind == "cuda":  # page-locked host buffers (fast, DMA-able copies); numpy views share them
            self._inputs = {n: torch.zeros(b.shape, dtype=torch.from_numpy(b).dtype, pin_memory=True).numpy()
                            for n, b in self._inputs.items()}
            self._output = torch.zeros(self._output.shape, dtype=torch.float32, pin_memory=True).numpy()
        self._host_t = {n: torch.from_numpy(b) for n, b in self._inputs.items()}  # shares memory
        self._out_host_t = torch.from_numpy(self._output)
        self._dev_t = self._host_t if kind == "cpu" else {
            n: torch.empty(t.shape, dtype=t.dtype, device=dev) for n, t in self._host_t.items()}
        self._dev_out = self._out_host_t if kind == "cpu" else torch.empty(
            self._output.shape, dtype=torch.float32, device=dev)
        self._cuda = kind == "cuda"
        self._use_graph = self._cuda and cuda_graph
        self._graphs: dict[int, Any] = {}
        self._out_views = [self._output[:b] for b in range(max_batch + 1)]

    def _forward(self, batch: int) -> Any:
        torch = self._torch
        kwargs = {n: t[:batch] for n, t in self._dev_t.items()}
        with torch.inference_mode():
            if self.precision == "fp16":
                # no autocast weight cache: a cached cast made during capture would be freed after it
                with torch.autocast("cuda", dtype=torch.float16, cache_enabled=not self._use_graph):
                    out = self._model(**kwargs)
            else:
                out = self._model(**kwargs)
            self._dev_out[:batch].copy_(out)

    def upload(self, batch: int) -> None:
        if self._cuda:
            for n, t in self._dev_t.items():
                t[:batch].copy_(self._host_t[n][:batch], non_blocking=False)

    def execute(self, batch: int) -> None:
        if not self._use_graph:
            self._forward(batch)
            return
        graph = self._graphs.get(batch)
        if graph is None:
            torch = self._torch
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    self._forward(batch)  # warm-up before capture (cuDNN autotune, allocator)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._forward(batch)
            self._graphs[batch] = graph
        graph.replay()

    def download(self, batch: int) -> np.ndarray:
        if self._cuda:
            self._out_host_t[:batch].copy_(self._dev_out[:batch])
        return self._out_views[batch]

    def close(self) -> None:
        self._graphs.clear()
        self._model = None
