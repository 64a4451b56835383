"""manifest.json, schema_version 1: the one validator every reader and writer of a bundle runs.

`parse_manifest` reads the JSON strictly (no NaN/Infinity, no number that overflows to inf, no
duplicate keys); `check_manifest` checks every key's type and range and the semantics: `io` equals
what the spec gives, artifact and engine paths stay inside the bundle (no `..`, not absolute, no
symbolic link on the way), runtime defaults are ones `Policy.load` accepts. Each failure is a
one-line `BundleError` naming the key path: `<manifest>: io.inputs[0].shape[2]: expected a positive
int, got -5`. The schema is documented in docs/bundle-format.md. numpy/stdlib only.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path, PureWindowsPath
from typing import Any, NoReturn

from .engine_key import PRECISIONS, TYPINGS, EngineKey
from .ensemble import ChunkQueue, TemporalEnsemble
from .errors import BundleError
from .post_steps import PostSteps
from .spec import ActSpec

SCHEMA_VERSION = 1
FORMAT = "act-edge-bundle"

MAX_MANIFEST_BYTES = 16 << 20  # a real manifest is ~10 KB
MAX_DEPTH = 32  # nesting of JSON objects/lists
MAX_DIM = 16384  # any io axis but the batch axis
MAX_ELEMENTS = 1 << 27  # per sample of one io tensor (product of its non-batch axes)
MAX_BATCH = 4096
MAX_ENGINES = 256
MAX_PATH_CHARS = 1024
IO_DTYPES = ("uint8", "float32")
RUNTIME_KEYS = ("temporal_ensemble_coeff", "n_action_steps", "post_steps")
ENGINE_KEY_FIELDS = ("trt_version", "gpu_name", "compute_capability", "precision", "typing", "onnx_sha256",
                     "max_batch", "dla_core")
REQUIRED_ARTIFACT = "onnx_fp32"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMPUTE_CAPABILITY = re.compile(r"\d+\.\d+")
_GRAPH_DTYPES = {"tensor(uint8)": "uint8", "tensor(float)": "float32", "tensor(float16)": "float16",
                 "tensor(double)": "float64", "tensor(int64)": "int64", "tensor(int32)": "int32"}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class _NonFinite:
    """What the strict parser puts where the JSON text has NaN, Infinity or an overflowing number."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def parse_manifest(data: bytes | str, origin: str) -> Any:
    """JSON text -> Python value; BundleError (one line) on bad JSON or duplicate keys. NaN, Infinity and
    numbers that overflow a double are kept as markers that `check_manifest` refuses with their key path."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_NonFinite, parse_float=_finite_float,
                           object_pairs_hook=_unique_keys)
    except RecursionError:
        raise BundleError(f"{origin}: unreadable manifest: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, duplicate key, huge int literal
        raise BundleError(f"{origin}: unreadable manifest: {_one_line(exc)}") from None
    return value


def check_manifest(manifest: Any, origin: str, bundle_dir: str | os.PathLike | None = None) -> ActSpec:
    """Validate a parsed manifest (schema + semantics); return its ActSpec. `bundle_dir` given: artifact
    and engine paths are also checked on disk (no symbolic link, regular files); nothing is opened."""
    c = _Checker(origin)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{origin}: not an act-edge manifest (format field is not {FORMAT!r})")
    version = manifest.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise BundleError(f"{origin}: schema_version {version!r}, this act-edge reads {SCHEMA_VERSION}; "
                          "re-export the bundle with this version")
    _check_finite_tree(manifest, origin)
    for key in ("name", "created", "act_edge_version"):
        c.optional_str(manifest, key, key)
    spec = c.spec(manifest)
    c.io(manifest, spec)
    if "max_batch" in manifest:
        c.int_in(manifest["max_batch"], "max_batch", 1, MAX_BATCH)
    c.runtime(manifest, spec)
    root = Path(bundle_dir) if bundle_dir is not None else None
    c.artifacts(manifest, root)
    c.engines(manifest, root)
    c.source(manifest)
    c.figures(manifest)
    return spec


def check_relative_path(value: Any, where: str, origin: str) -> list[str]:
    """The components of a bundle-relative path; BundleError if it is absolute or could leave the bundle."""
    c = _Checker(origin)
    if not isinstance(value, str) or not value:
        c.fail(where, f"expected a relative path inside the bundle, got {_show(value)}")
    if len(value) > MAX_PATH_CHARS:
        c.fail(where, f"path of {len(value)} characters (at most {MAX_PATH_CHARS})")
    if "\x00" in value or "\\" in value:
        c.fail(where, f"{_show(value)}: a NUL or backslash in a path (use '/' separators)")
    if value.startswith("/") or os.path.isabs(value) or PureWindowsPath(value).drive:
        c.fail(where, f"{_show(value)} is an absolute path; paths must be relative and stay inside the bundle")
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts):
        c.fail(where, f"{_show(value)} has a '..', '.' or empty component; paths must stay inside the bundle")
    return parts


def resolve_inside(root: str | os.PathLike, value: Any, where: str, origin: str) -> Path:
    """`root/value` after `check_relative_path` and an lstat of each component that exists: a symbolic
    link, a non-directory on the way or a final component that is not a regular file is refused.
    A missing component is not an error here (the caller reports a missing file when it needs it)."""
    parts = check_relative_path(value, where, origin)
    p = Path(root)
    for i, part in enumerate(parts):
        p = p / part
        sub = json.dumps("/".join(parts[:i + 1]))[1:-1]  # control characters escaped: one line
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            return Path(root).joinpath(*parts)
        except OSError as exc:
            _Checker(origin).fail(where, f"{_show(value)}: cannot stat {sub} ({exc.strerror})")
        if stat.S_ISLNK(st.st_mode):
            _Checker(origin).fail(where, f"{_show(value)}: {sub} is a symbolic link; bundle files must be "
                                         "regular files inside the bundle")
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            _Checker(origin).fail(where, f"{_show(value)}: {sub} is not a directory")
        if i == len(parts) - 1 and not stat.S_ISREG(st.st_mode):
            _Checker(origin).fail(where, f"{_show(value)} is not a regular file")
    return p


def io_description(spec: ActSpec) -> dict[str, list[dict[str, Any]]]:
    """Graph inputs/outputs: name, dtype, shape ("batch" = dynamic axis), layout, cameras. A camera-less
    spec has no image input: only `state` and/or `env_state`."""
    inputs: list[dict[str, Any]] = []
    for g in spec.image_groups():
        cams = [spec.cameras[i].name for i in g.camera_indices]
        n = len(cams)
        inputs.append({"name": g.input_name, "dtype": "uint8", "shape": ["batch", n, g.height, g.width, 3],
                       "layout": "BNHWC", "cameras": cams})
        if g.depth_input_name:
            inputs.append({"name": g.depth_input_name, "dtype": "float32",
                           "shape": ["batch", n, g.height, g.width], "layout": "BNHW", "units": "m",
                           "cameras": cams})
    if spec.state_dim:  # 0: a camera-less spec with env state only
        inputs.append({"name": "state", "dtype": "float32", "shape": ["batch", spec.state_dim], "layout": "BS",
                       "units": "robot"})
    if spec.env_state_dim:
        inputs.append({"name": "env_state", "dtype": "float32", "shape": ["batch", spec.env_state_dim],
                       "layout": "BE", "units": "robot"})
    outputs = [{"name": "actions", "dtype": "float32", "shape": ["batch", spec.chunk_size, spec.action_dim],
                "layout": "BTA", "units": "robot"}]
    return {"inputs": inputs, "outputs": outputs}


def check_graph_io(graph: dict[str, list[tuple[str, str, list[Any]]]], io: dict[str, Any], origin: str) -> None:
    """The model a backend opened against the manifest's (validated) `io`: {"inputs"/"outputs": [(name,
    dtype, shape)]} with dtypes as numpy names or ONNX type strings ("tensor(float)") and shapes with
    ints for fixed axes (anything else: dynamic). BundleError in one line where they disagree."""
    for kind, entries in (("inputs", io["inputs"]), ("outputs", io["outputs"][:1])):
        have = {name: (_GRAPH_DTYPES.get(dtype, dtype), shape) for name, dtype, shape in graph[kind]}
        for i, entry in enumerate(entries):
            where = f"io.{kind}[{i}]"
            name = entry["name"]
            if name not in have:
                raise BundleError(f"{origin}: the model has no {kind[:-1]} {_show(name)} (has {_show(sorted(have))}); "
                                  f"{where} contradicts the model")
            dtype, shape = have[name]
            shape = list(entry["shape"]) if shape is None else list(shape)  # rank unknown: dtype only
            fixed = [d if isinstance(d, int) else "batch" if k == 0 else "?" for k, d in enumerate(shape)]
            if dtype != entry["dtype"] or len(shape) != len(entry["shape"]) or any(
                    isinstance(d, int) and k > 0 and d != want for k, (d, want) in enumerate(zip(shape, entry["shape"]))):
                raise BundleError(f"{origin}: the model's {kind[:-1]} {_show(name)} is {dtype} {_show(fixed)}, "
                                  f"{where} says {entry['dtype']} {_show(entry['shape'])} (io contradicts the model)")


# --- the checks ------------------------------------------------------------------------------------
class _Checker:
    """Typed access with one-line errors `<origin>: <key path>: <rule>, got <JSON value>`."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, what: str) -> NoReturn:
        raise BundleError(f"{self.origin}: {where}: {what}")

    # generic types
    def obj(self, parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        if key not in parent:
            self.fail(where, "missing (required)")
        value = parent[key]
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_show(value)}")
        return value

    def optional_obj(self, parent: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
        return self.obj(parent, key, where) if key in parent else None

    def list_(self, parent: dict[str, Any], key: str, where: str, min_len: int = 0, max_len: int | None = None) -> list:
        if key not in parent:
            self.fail(where, "missing (required)")
        value = parent[key]
        if not isinstance(value, list):
            self.fail(where, f"expected a list, got {_show(value)}")
        if len(value) < min_len:
            self.fail(where, f"expected at least {min_len} entries, got {len(value)}")
        if max_len is not None and len(value) > max_len:
            self.fail(where, f"expected at most {max_len} entries, got {len(value)}")
        return value

    def str_(self, parent: dict[str, Any], key: str, where: str, choices: tuple[str, ...] | None = None) -> str:
        if key not in parent:
            self.fail(where, "missing (required)")
        value = parent[key]
        if not isinstance(value, str):
            self.fail(where, f"expected a string, got {_show(value)}")
        if choices is not None and value not in choices:
            self.fail(where, f"expected one of {_show(list(choices))}, got {_show(value)}")
        return value

    def optional_str(self, parent: dict[str, Any], key: str, where: str) -> None:
        if key in parent:
            self.str_(parent, key, where)

    def int_field(self, parent: dict[str, Any], key: str, where: str, low: int, high: int | None = None) -> int:
        if key not in parent:
            self.fail(where, "missing (required)")
        return self.int_in(parent[key], where, low, high)

    def int_in(self, value: Any, where: str, low: int, high: int | None = None) -> int:
        if not _is_int(value) or value < low or (high is not None and value > high):
            rule = (f"an int in {low}..{high}" if high is not None else
                    "a positive int" if low == 1 else f"an int >= {low}")
            self.fail(where, f"expected {rule}, got {_show(value)}")
        return value

    def number(self, parent: dict[str, Any], key: str, where: str, low: float = 0.0) -> float:
        if key not in parent:
            self.fail(where, "missing (required)")
        value = parent[key]
        if not _is_number(value) or value < low:
            self.fail(where, f"expected a finite number >= {low:g}, got {_show(value)}")
        return value

    def sha256(self, parent: dict[str, Any], key: str, where: str) -> str:
        if key not in parent:
            self.fail(where, "missing (required)")
        value = parent[key]
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            self.fail(where, f"expected a sha256 (64 lowercase hex digits), got {_show(value)}")
        return value

    # sections
    def spec(self, manifest: dict[str, Any]) -> ActSpec:
        data = self.obj(manifest, "spec", "spec")
        try:
            return ActSpec.from_dict(data)
        except KeyError as exc:
            raise BundleError(f"{self.origin}: invalid spec: missing field {exc}") from None
        except Exception as exc:  # from_dict/post-init on untrusted values: TypeError, ValueError, ZeroDivisionError...
            raise BundleError(f"{self.origin}: invalid spec: {_one_line(exc)}") from None

    def io(self, manifest: dict[str, Any], spec: ActSpec) -> None:
        io = self.obj(manifest, "io", "io")
        got = {kind: self.list_(io, kind, f"io.{kind}", min_len=1, max_len=64) for kind in ("inputs", "outputs")}
        for kind, entries in got.items():
            for i, entry in enumerate(entries):
                self.io_entry(entry, f"io.{kind}[{i}]")
        try:
            want = io_description(spec)
        except Exception as exc:  # a spec whose values are of the wrong type
            raise BundleError(f"{self.origin}: invalid spec: {_one_line(exc)}") from None
        for kind in ("inputs", "outputs"):
            names = [e.get("name") for e in want[kind]]
            if len(got[kind]) != len(want[kind]):
                self.fail(f"io.{kind}", f"{len(got[kind])} entries, the spec gives {len(want[kind])} {_show(names)}")
            for i, (g, w) in enumerate(zip(got[kind], want[kind])):
                for key in ("name", "dtype", "shape", "cameras"):
                    if g.get(key) != w.get(key):
                        self.fail(f"io.{kind}[{i}].{key}",
                                  f"{_show(g.get(key))} does not match the spec, which gives {_show(w.get(key))}")

    def io_entry(self, entry: Any, where: str) -> None:
        if not isinstance(entry, dict):
            self.fail(where, f"expected an object, got {_show(entry)}")
        name = self.str_(entry, "name", f"{where}.name")
        if not name:
            self.fail(f"{where}.name", "expected a non-empty string")
        self.str_(entry, "dtype", f"{where}.dtype", IO_DTYPES)
        shape = self.list_(entry, "shape", f"{where}.shape", min_len=2, max_len=8)
        if shape[0] != "batch":
            self.fail(f"{where}.shape[0]", f"expected \"batch\" (the dynamic batch axis), got {_show(shape[0])}")
        elements = 1
        for k, d in enumerate(shape[1:], start=1):
            self.int_in(d, f"{where}.shape[{k}]", 1, MAX_DIM)
            elements *= d
        if elements > MAX_ELEMENTS:
            self.fail(f"{where}.shape", f"{_show(shape)} holds {elements} values per sample, at most {MAX_ELEMENTS}")
        for key in ("layout", "units"):
            self.optional_str(entry, key, f"{where}.{key}")
        if "cameras" in entry:
            cams = self.list_(entry, "cameras", f"{where}.cameras", min_len=1, max_len=64)
            for k, cam in enumerate(cams):
                if not isinstance(cam, str) or not cam:
                    self.fail(f"{where}.cameras[{k}]", f"expected a camera name, got {_show(cam)}")

    def runtime(self, manifest: dict[str, Any], spec: ActSpec) -> None:
        rt = self.optional_obj(manifest, "runtime", "runtime")
        if rt is None:
            return
        unknown = sorted(set(rt) - set(RUNTIME_KEYS))
        if unknown:
            self.fail(_join("runtime", unknown[0]), f"unknown key (this runtime knows {_show(list(RUNTIME_KEYS))}); "
                                               "upgrade act-edge rather than run the policy without it")
        # The same checks Policy.load applies: the ensemble's and the chunk queue's own constructors.
        coeff = rt.get("temporal_ensemble_coeff")
        if coeff is not None:
            where = "runtime.temporal_ensemble_coeff"
            if not _is_number(coeff):
                self.fail(where, f"expected a finite number or null, got {_show(coeff)}")
            try:
                TemporalEnsemble(spec.chunk_size, 1, coeff)
            except ValueError as exc:
                self.fail(where, _one_line(exc))
        if "n_action_steps" in rt:
            where = "runtime.n_action_steps"
            steps = self.int_in(rt["n_action_steps"], where, 1, spec.chunk_size)
            try:
                ChunkQueue(spec.chunk_size, 1, steps)
            except ValueError as exc:
                self.fail(where, _one_line(exc))
        if "post_steps" in rt:
            try:
                PostSteps(rt["post_steps"], spec.action_dim)
            except BundleError as exc:  # "manifest runtime.post_steps[n]: ..." (the C++ reader's text)
                raise BundleError(f"{self.origin}: {exc}") from None

    def artifacts(self, manifest: dict[str, Any], root: Path | None) -> None:
        arts = self.obj(manifest, "artifacts", "artifacts")
        if REQUIRED_ARTIFACT not in arts:
            self.fail(f"artifacts.{REQUIRED_ARTIFACT}", "missing (required: the fp32 ONNX graph)")
        for key, entry in arts.items():
            where = _join("artifacts", key)
            if not isinstance(entry, dict):
                self.fail(where, f"expected an object, got {_show(entry)}")
            self.file_entry(entry, where, root)
            self.int_field(entry, "bytes", f"{where}.bytes", 0)
            if "precision" in entry:
                self.str_(entry, "precision", f"{where}.precision", PRECISIONS)

    def engines(self, manifest: dict[str, Any], root: Path | None) -> None:
        if "engines" not in manifest:
            return
        for i, entry in enumerate(self.list_(manifest, "engines", "engines", max_len=MAX_ENGINES)):
            where = f"engines[{i}]"
            if not isinstance(entry, dict):
                self.fail(where, f"expected an object, got {_show(entry)}")
            self.file_entry(entry, where, root)
            if "bytes" in entry:
                self.int_in(entry["bytes"], f"{where}.bytes", 0)
            self.engine_key(self.obj(entry, "key", f"{where}.key"), f"{where}.key")
            verify = self.optional_obj(entry, "verify", f"{where}.verify")
            for key in ("max_abs_pct_range", "rmse_pct_range"):
                if verify is not None and key in verify:
                    self.number(verify, key, f"{where}.verify.{key}")

    def engine_key(self, key: dict[str, Any], where: str) -> None:
        unknown = sorted(set(key) - set(ENGINE_KEY_FIELDS))
        if unknown:
            self.fail(_join(where, unknown[0]), f"unknown field (an engine key has {_show(list(ENGINE_KEY_FIELDS))})")
        for name in ENGINE_KEY_FIELDS[:5]:
            self.str_(key, name, f"{where}.{name}")
        self.str_(key, "precision", f"{where}.precision", PRECISIONS)
        self.str_(key, "typing", f"{where}.typing", TYPINGS)
        if not _COMPUTE_CAPABILITY.fullmatch(key["compute_capability"]):
            self.fail(f"{where}.compute_capability",
                      f"expected \"major.minor\" (e.g. \"8.7\"), got {_show(key['compute_capability'])}")
        self.sha256(key, "onnx_sha256", f"{where}.onnx_sha256")
        self.int_field(key, "max_batch", f"{where}.max_batch", 1, MAX_BATCH)
        if key.get("dla_core") is not None:
            self.int_in(key["dla_core"], f"{where}.dla_core", 0, 15)
        try:
            EngineKey.from_dict(key)
        except (TypeError, ValueError) as exc:
            self.fail(where, _one_line(exc))

    def file_entry(self, entry: dict[str, Any], where: str, root: Path | None) -> None:
        if "path" not in entry:
            self.fail(f"{where}.path", "missing (required)")
        if root is None:
            check_relative_path(entry["path"], f"{where}.path", self.origin)
        else:
            resolve_inside(root, entry["path"], f"{where}.path", self.origin)
        self.sha256(entry, "sha256", f"{where}.sha256")

    def source(self, manifest: dict[str, Any]) -> None:
        src = self.optional_obj(manifest, "source", "source")
        if src is None:
            return
        for key in ("path", "format"):
            self.optional_str(src, key, f"source.{key}")
        files = src.get("files", src.get("sha256"))
        where = "source.files" if "files" in src else "source.sha256"
        if isinstance(files, dict):
            for name, digest in files.items():
                if not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
                    self.fail(_join(where, name), f"expected a sha256 (64 lowercase hex digits), got {_show(digest)}")
        elif files is not None and not (isinstance(files, str) and _SHA256.fullmatch(files)):
            self.fail(where, f"expected {{file name: sha256}}, got {_show(files)}")
        for key in ("dropped", "notes"):
            if key in src:
                self.list_(src, key, f"source.{key}")

    def figures(self, manifest: dict[str, Any]) -> None:
        """The recorded figures `act-edge inspect` prints: present or not, but well-typed when present."""
        parity = self.optional_obj(manifest, "parity", "parity")
        fp32 = self.optional_obj(parity, "onnx_fp32", "parity.onnx_fp32") if parity is not None else None
        for key in ("max_abs_normalized", "max_abs", "tolerance"):  # doctor reads `tolerance` as a limit
            if fp32 is not None and key in fp32:
                self.number(fp32, key, f"parity.onnx_fp32.{key}")
        fp16 = self.optional_obj(manifest, "fp16_error", "fp16_error")
        if fp16 is not None:
            for key in ("max_abs_pct_range", "rmse_pct_range"):
                self.number(fp16, key, f"fp16_error.{key}")
            self.str_(fp16, "method", "fp16_error.method")
        model = self.optional_obj(manifest, "model", "model")
        if model is not None:
            self.int_field(model, "parameters", "model.parameters", 0)
            self.number(model, "gflops", "model.gflops")
            self.int_field(model, "tokens", "model.tokens", 0)
        self.optional_obj(manifest, "versions", "versions")


# --- helpers ---------------------------------------------------------------------------------------
def _finite_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {json.dumps(key)} in an object")
        out[key] = value
    return out


def _check_finite_tree(value: Any, origin: str) -> None:
    """Every number finite, nesting bounded: BundleError naming the first offending key path."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, _NonFinite) or (isinstance(v, float) and not math.isfinite(v)):
            _Checker(origin).fail(_key_path(path), f"expected a finite number, got {_show(v)}")
        if isinstance(v, (dict, list, tuple)):
            if len(path) >= MAX_DEPTH:
                _Checker(origin).fail(_key_path(path), f"nested deeper than {MAX_DEPTH} levels")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            stack.extend((path + (k,), x) for k, x in reversed(list(items)))


def _key_path(path: tuple[Any, ...]) -> str:
    out = ""
    for k in path:
        out = f"{out}[{k}]" if isinstance(k, int) else _join(out, k)
    return out or "(top level)"


def _join(where: str, key: str) -> str:
    """`where.key`, or `where["key"]` (JSON-escaped) when the key is not a plain name."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key)}]"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _show(value: Any, limit: int = 80) -> str:
    """Compact JSON of a value (NaN/Infinity as the text they had), cut to `limit` characters."""
    if isinstance(value, _NonFinite):
        return value.text
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    try:
        text = json.dumps(value, separators=(",", ":"), default=lambda o: getattr(o, "text", repr(o)))
    except (ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
