"""Error types. Every message is one line that names the culprit."""


class ActEdgeError(Exception):
    """Base class for errors act-edge reports to the user (CLI exit code 2)."""


class CheckpointError(ActEdgeError):
    """A checkpoint (or a file next to it) is missing, unreadable, unsafe or inconsistent."""


class BundleError(ActEdgeError):
    """A bundle directory or its manifest is missing, corrupt or of an unsupported version."""


class ParityError(ActEdgeError):
    """An exported artifact does not reproduce the reference model within tolerance."""


class BackendUnavailable(ActEdgeError):
    """A requested backend (TensorRT, onnxruntime, torch) cannot run on this machine."""


class EngineMismatch(BackendUnavailable):
    """The bundle has no engine built for this TensorRT version / GPU / precision / batch."""


class EngineBuildError(ActEdgeError):
    """TensorRT could not parse the ONNX or build a plan from it."""


class ObservationError(ActEdgeError, ValueError):
    """An observation does not match the bundle's inputs (docs/observation-rules.md); nothing ran."""


class ActionError(ActEdgeError, RuntimeError):
    """The model produced unusable actions (non-finite values); nothing was passed on."""


class ArgumentError(ActEdgeError, ValueError):
    """An argument of a Python API call (Policy.load, predict_chunk's `out`) has the wrong type or value;
    nothing ran."""


class ConcurrentUseError(ActEdgeError, RuntimeError):
    """A Policy was entered by a second thread while another was inside it; a Policy is used by one
    thread at a time. The call was refused before it touched anything."""


class PolicyClosedError(ActEdgeError, RuntimeError):
    """A Policy was used after `close()`."""


class DependencyMissing(ActEdgeError):
    """An optional package a command needs (torch, onnx, onnxruntime) cannot be imported here."""


class RecordingError(ActEdgeError):
    """Recording episodes cannot start (a bad or unwritable path) or its writer failed (disk full,
    permission); the control loop itself is not affected."""
