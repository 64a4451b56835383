"""Reading pickles from checkpoints without running code from them.

A pickle can name any importable callable (`os.system`, `subprocess.Popen`, ...) and call it while
loading. Two readers here, both allow-lists that refuse everything else *by name*, before anything
is called:

- `load_plain_pickle(path)`: a stand-alone pickle (the original ACT's `dataset_stats.pkl`). A
  `pickle.Unpickler` whose `find_class` admits numpy arrays / dtypes / scalars and plain containers.
- `load_torch_checkpoint(path, lightning=...)`: a torch.save zip (weights, Lightning checkpoints).
  torch's own `weights_only=True` unpickler (tensors, plain containers), extended through
  `torch.serialization.safe_globals` with numpy and, for Lightning, with *stand-ins* for the
  omegaconf classes. omegaconf is not imported (nor needed): the stand-ins carry omegaconf's module
  and class names so the pickle's `omegaconf.dictconfig.DictConfig` resolves to them; they only
  store the pickled state, and `to_plain` turns them into dicts and lists.
"""

from __future__ import annotations

import collections
import pickle
import re
import typing
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

PLAIN_ALLOWED = "numpy arrays, plain containers"
LIGHTNING_ALLOWED = "tensors, numpy arrays, plain containers, omegaconf DictConfig/ListConfig and their nodes"


def _numpy_globals() -> dict[str, Any]:
    """numpy names a pickled array/scalar refers to (numpy 1.x `numpy.core`, 2.x `numpy._core`)."""
    out: dict[str, Any] = {"numpy.ndarray": np.ndarray, "numpy.dtype": np.dtype}
    core = getattr(np, "_core", None) or np.core
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[f"{mod}._reconstruct"] = core.multiarray._reconstruct
        out[f"{mod}.scalar"] = core.multiarray.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):  # protocol 5 arrays
        out[f"{mod}._frombuffer"] = core.numeric._frombuffer
    # dtype classes pickled by numpy >= 1.25 (`numpy.dtypes.Float64DType` ...)
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        for name in dir(dtypes):
            if name.endswith("DType"):
                out[f"numpy.dtypes.{name}"] = getattr(dtypes, name)
    return out


_PLAIN_GLOBALS: dict[str, Any] = {
    **_numpy_globals(),
    "collections.OrderedDict": collections.OrderedDict,
    **{f"builtins.{t.__name__}": t for t in (dict, list, tuple, set, frozenset, str, bytes, int, float,
                                              bool, complex, bytearray)},
    # protocol-2 pickles of sets/bytes go through copyreg/_codecs helpers
    "_codecs.encode": __import__("_codecs").encode,
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol <= 2 pickles name builtins the Python 2 way
            module = "builtins"
        obj = _PLAIN_GLOBALS.get(f"{module}.{name}")
        if obj is None:
            raise _Refused(f"{module}.{name}")
        return obj

    def persistent_load(self, pid: Any) -> Any:  # no external references in a plain pickle
        raise _Refused("persistent id")


class _Refused(pickle.UnpicklingError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def load_plain_pickle(path: str | Path) -> Any:
    """Unpickle `path` admitting only numpy arrays and plain containers; CheckpointError otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return _PlainUnpickler(fh).load()
    except _Refused as exc:
        raise CheckpointError(f"{path}: refused to unpickle global {exc.name!r} (allowed: {PLAIN_ALLOWED})") from None
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:  # truncated, not a pickle, bad opcode
        raise CheckpointError(f"{path}: not a readable pickle ({_first_line(exc)})") from None


# --- omegaconf stand-ins ---------------------------------------------------------------------------

class _StandIn:
    """Holds a pickled object's state; never runs code from it."""

    def __setstate__(self, state: Any) -> None:
        object.__setattr__(self, "_state", state)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} stand-in>"


def _stand_in(module: str, name: str) -> type:
    cls = type(name, (_StandIn,), {})
    cls.__module__, cls.__qualname__ = module, name
    return cls


# What pickled DictConfig/ListConfig objects reference (omegaconf 2.0-2.3): containers, their
# metadata dataclasses, value nodes, and the typing/builtins objects stored as ref/key/element types.
OMEGACONF_CLASSES = {
    f"{mod}.{name}": _stand_in(mod, name)
    for mod, names in {
        "omegaconf.dictconfig": ("DictConfig",),
        "omegaconf.listconfig": ("ListConfig",),
        "omegaconf.base": ("ContainerMetadata", "Metadata", "Node", "Container", "Box"),
        "omegaconf.nodes": ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode", "EnumNode",
                            "PathNode", "BytesNode", "ValueNode", "InterpolationResultNode"),
    }.items()
    for name in names
}
_TYPING_GLOBALS = {f"typing.{n}": getattr(typing, n) for n in ("Any", "Dict", "List", "Tuple", "Optional", "Union")}
_BUILTIN_TYPES = {f"builtins.{t.__name__}": t for t in (dict, list, tuple, set, str, int, float, bool, bytes, object)}
# Lightning's own checkpoint entries: loops/callbacks state is plain; paths may be pathlib objects.
_LIGHTNING_EXTRA = {"collections.defaultdict": collections.defaultdict,
                    "pathlib.PosixPath": _stand_in("pathlib", "PosixPath"),
                    "pathlib.WindowsPath": _stand_in("pathlib", "WindowsPath")}


def to_plain(obj: Any, _depth: int = 0) -> Any:
    """omegaconf stand-ins (and containers of them) -> plain dict / list / scalars."""
    if _depth > 100:
        raise CheckpointError("hyper_parameters nest deeper than 100 levels")
    if isinstance(obj, _StandIn):
        state = getattr(obj, "_state", None)
        name = type(obj).__qualname__
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}  # (dict state, slot state) form
        if not isinstance(state, dict):
            return None
        if name in ("DictConfig", "ListConfig"):
            return to_plain(state.get("_content"), _depth + 1)
        if "_val" in state:  # value nodes
            return to_plain(state["_val"], _depth + 1)
        return None
    if isinstance(obj, dict):
        return {to_plain(k, _depth + 1) if not isinstance(k, str) else k: to_plain(v, _depth + 1)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][\w]*(?:\.[\w]+)*)\}")


def resolve_interpolations(root: Any, _depth: int = 0) -> Any:
    """Resolve whole-string absolute omegaconf interpolations ("${a.b}") against `root` (a plain
    dict from `to_plain`); anything else (relative, resolvers, embedded) stays a string."""
    def lookup(path: str, depth: int) -> Any:
        node: Any = root
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return walk(node, depth + 1)

    def walk(node: Any, depth: int) -> Any:
        if depth > 20:
            return node
        if isinstance(node, dict):
            return {k: walk(v, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth) for v in node]
        if isinstance(node, str):
            m = _INTERPOLATION.fullmatch(node)
            if m:
                got = lookup(m.group(1), depth)
                return node if got is None else got
        return node

    return walk(root, _depth)


def load_torch_checkpoint(path: str | Path, lightning: bool = False) -> Any:
    """torch.load with weights_only=True (+ numpy, + omegaconf stand-ins when `lightning`)."""
    import torch

    path = Path(path)
    allowed = dict(_numpy_globals())
    if lightning:
        allowed.update(OMEGACONF_CLASSES)
        allowed.update(_TYPING_GLOBALS)
        allowed.update(_BUILTIN_TYPES)
        allowed.update(_LIGHTNING_EXTRA)
    if not hasattr(torch.serialization, "safe_globals"):
        raise CheckpointError(f"{path}: reading checkpoints with an allow-list needs torch >= 2.5 "
                              f"(torch.serialization.safe_globals); this is torch {torch.__version__}")
    safe = [(obj, name) for name, obj in allowed.items()]
    what = LIGHTNING_ALLOWED if lightning else "tensors, " + PLAIN_ALLOWED
    try:
        with torch.serialization.safe_globals(safe), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pickle-protocol notes
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:
        text = str(exc)
        refused = _refused_global(text) or _foreign_global(path, set(allowed))
        if refused:
            raise CheckpointError(f"{path}: refused to unpickle global {refused!r} (allowed: {what})") from None
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({_first_line(exc)})") from None


def _foreign_global(path: Path, allowed: set[str]) -> str | None:
    """For a bare pickle that torch cannot parse (e.g. protocol 4/5), name a global it would import
    that is not allowed, found by reading opcodes only (pickletools.genops never executes)."""
    import pickletools
    import zipfile

    if zipfile.is_zipfile(path):
        return None
    strings: list[str] = []
    try:
        with open(path, "rb") as fh:
            for op, arg, _ in pickletools.genops(fh):
                if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                    strings = (strings + [arg])[-2:]
                elif op.name in ("GLOBAL", "INST"):
                    name = arg.replace(" ", ".")
                elif op.name == "STACK_GLOBAL" and len(strings) == 2:
                    name = ".".join(strings)
                else:
                    continue
                if op.name in ("GLOBAL", "INST", "STACK_GLOBAL"):
                    name = name.replace("__builtin__.", "builtins.")
                    if name not in allowed and not name.startswith(("torch.", "builtins.", "collections.OrderedDict")):
                        return name
    except Exception:
        return None
    return None


_REFUSED_PATTERNS = (
    re.compile(r"Unsupported global: GLOBAL ([\w.]+)"),
    re.compile(r"unsupported GLOBAL ([\w.]+)", re.IGNORECASE),
    re.compile(r"GLOBAL ([\w.]+) was not an allowed global"),
    re.compile(r"Trying to call reduce for ([^ ]+)"),
    re.compile(r"Unsupported class ([\w.]+)"),
)


def _refused_global(text: str) -> str | None:
    for pattern in _REFUSED_PATTERNS:
        m = pattern.search(text)
        if m:
            return m.group(1).strip("<>'\"")
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    if "WeightsUnpickler error:" in text:  # torch's wrapper text around the actual reason
        text = text.split("WeightsUnpickler error:", 1)[1]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Weights only load failed", "Please file an issue")):
            return line[:200]
    return type(exc).__name__
