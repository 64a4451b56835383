"""The backend interface the Policy drives: staged host buffers -> upload -> execute -> download.

A backend allocates every buffer once, at load, for `max_batch`. Per control step the Policy
writes the observation into `input_buffer(name)[:batch]`, then calls upload, execute and download
(each timed as its own profiler stage); nothing is allocated on that path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..bundle import Bundle


class Backend(ABC):
    """One loaded model. Subclasses set `name`, `device` and `precision` and fill `_inputs`/`_output`."""

    name: str = "base"

    def __init__(self, bundle: Bundle, max_batch: int) -> None:
        self.bundle = bundle
        self.max_batch = max_batch
        self.device = "cpu"
        self.precision = "fp32"
        self._inputs: dict[str, np.ndarray] = {}  # host staging buffers, (max_batch, ...)
        self._output: np.ndarray | None = None  # host output buffer, (max_batch, chunk, A) float32

    def input_buffer(self, name: str) -> np.ndarray:
        """Preallocated host buffer for graph input `name`, shape (max_batch, ...)."""
        return self._inputs[name]

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    @abstractmethod
    def upload(self, batch: int) -> None:
        """Make the first `batch` rows of every input buffer visible to the device."""

    @abstractmethod
    def execute(self, batch: int) -> None:
        """Run the graph on the uploaded inputs."""

    @abstractmethod
    def download(self, batch: int) -> np.ndarray:
        """Bring the actions to the host; returns a view (batch, chunk, A) of a preallocated buffer,
        valid until the next call."""

    def close(self) -> None:
        """Release device resources (idempotent)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.name} ({self.device}, {self.precision})"


def allocate_io(bundle: Bundle, max_batch: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Host buffers for every manifest input and for the output, sized for max_batch."""
    inputs = {}
    for entry in bundle.manifest["io"]["inputs"]:
        shape = [max_batch if d == "batch" else int(d) for d in entry["shape"]]
        inputs[entry["name"]] = np.zeros(shape, dtype=np.dtype(entry["dtype"]))
    out = bundle.manifest["io"]["outputs"][0]
    output = np.zeros([max_batch if d == "batch" else int(d) for d in out["shape"]], dtype=np.float32)
    return inputs, output
