"""The backend interface the Policy drives: staged host buffers -> upload -> execute -> download.

A backend allocates every buffer once, at load, for `max_batch`. Per control step the Policy
writes the observation into `input_buffer(name)[:batch]`, then calls `run(batch)`: the one
inference sequence (batch check -> upload -> execute -> download -> finite check, each timed as its
own profiler stage), as Polygraphy's infer/infer_impl. A backend implements only upload, execute and
download; nothing is allocated on that path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping

import numpy as np

from ..bundle import Bundle
from ..ensemble import check_finite
from ..profiler import NO_PROFILE, Stage

_H2D, _INFER, _D2H = int(Stage.HOST_TO_DEVICE), int(Stage.INFER), int(Stage.DEVICE_TO_HOST)  # plain ints: hot path


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

    def run(self, batch: int, prof=NO_PROFILE, since: int = 0, finite: bool = True,
            first: bool = False) -> tuple[np.ndarray, int]:
        """Run the model on the first `batch` rows of the staged input buffers.

        Returns the (batch, chunk, A) view of the output buffer, or with first=True its row 0, the
        (chunk, A) chunk of a single observation (valid until the next run), and the profiler's time
        after the last stage (`prof.mark` after upload, execute and download, from `since`).
        finite=True: ActionError (ensemble.check_finite, indices into what is returned) on nan/inf.
        """
        if not 1 <= batch <= self.max_batch:
            raise ValueError(f"batch {batch} outside 1..{self.max_batch}")
        self.upload(batch)
        t = prof.mark(_H2D, since)
        self.execute(batch)
        t = prof.mark(_INFER, t)
        out = self.download(batch)
        if first:
            out = out[0]
        if finite:
            check_finite(out)
        return out, prof.mark(_D2H, t)

    def run_feeds(self, feeds: Mapping[str, np.ndarray], finite: bool = True) -> np.ndarray:
        """Stage whole graph inputs by name (the manifest's inputs, one leading batch) and run; a copy
        of the actions (verification, the doctor's smoke run: not the control path)."""
        if sorted(feeds) != sorted(self._inputs):
            raise ValueError(f"inputs {sorted(feeds)} != the graph's {sorted(self._inputs)}")
        batch = len(next(iter(feeds.values())))
        for name, value in feeds.items():
            buf = self._inputs[name]
            if tuple(value.shape) != (batch, *buf.shape[1:]):
                raise ValueError(f"input {name!r}: shape {tuple(value.shape)}, the graph takes (batch, "
                                 f"{', '.join(str(d) for d in buf.shape[1:])})")
            buf[:batch] = value
        out, _ = self.run(batch, finite=finite)
        return np.array(out, dtype=np.float32, copy=True)

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
