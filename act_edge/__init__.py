"""act-edge: ACT policies from checkpoint to a robot's control loop.

The runtime names here import numpy only; torch, onnxruntime and tensorrt load lazily inside the
backend that needs them. Export code lives in `act_edge.export` (needs the `export` extra).
"""

from .bundle import Bundle, load_bundle
from .errors import (ActEdgeError, ActionError, ArgumentError, BackendUnavailable, BundleError, CheckpointError,
                     ConcurrentUseError, ObservationError, ParityError, PolicyClosedError, RecordingError)
from .policy import Policy
from .spec import ActSpec, CameraSpec, Normalization

__version__ = "0.1.0"

__all__ = [
    "ActEdgeError", "ActSpec", "ActionError", "ArgumentError", "BackendUnavailable", "Bundle", "BundleError",
    "CameraSpec", "CheckpointError", "ConcurrentUseError", "Normalization", "ObservationError", "ParityError",
    "Policy", "PolicyClosedError", "RecordingError", "load_bundle",
    "__version__",
]
