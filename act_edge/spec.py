"""ActSpec: the architecture and I/O contract of one ACT inference graph (JSON-serializable). Every field
is type- and range-checked on construction (ValueError, one line quoting the value): bools are not ints,
numbers are finite, a std is > 0, a min-max range has min < max, sizes are bounded (MAX_*)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BACKBONES = {  # name -> (block type, blocks per stage, output channels)
    "resnet18": ("basic", (2, 2, 2, 2), 512),
    "resnet34": ("basic", (3, 4, 6, 3), 512),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 2048),
}
NORM_MODES = ("mean_std", "min_max", "identity")
ACTIVATIONS = ("relu", "gelu")
EVAL_STEPS = ("center_crop", "resize")
# detr: ACT's encoder-decoder over image + 1-D tokens. decoder_only: the "simplified ACT" of course notes,
# a post-norm decoder whose learned action queries cross-attend to [obs token, z token]; no cameras, no encoder.
ARCHITECTURES = ("detr", "decoder_only")

# Upper bounds: far above any ACT checkpoint, low enough that nothing a file claims allocates unbounded memory.
MAX_IMAGE_SIDE = 4096  # pixels, height and width
MAX_CAMERAS = 16
MAX_VECTOR_DIM = 4096  # state, env state, action
MAX_CHUNK = 4096
MAX_D_MODEL = 8192
MAX_FEEDFORWARD = 65536
MAX_LAYERS = 64


def check_int(value: Any, what: str, lo: int, hi: int) -> int:
    """`value` as an int in lo..hi; ValueError quoting it otherwise (bools and floats are not ints)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{what} must be an integer in {lo}..{hi}, got {value!r}")
    return int(value)


def check_real(value: Any, what: str, lo: float = -math.inf) -> float:
    """`value` as a finite float >= lo; ValueError quoting it otherwise (bools and strings are not numbers)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or not value >= lo:
        bound = "" if lo == -math.inf else f" >= {lo:g}"
        raise ValueError(f"{what} must be a finite number{bound}, got {value!r}")
    return float(value)


def real_vector(value: Any, what: str) -> tuple[float, ...]:
    """A non-empty vector of finite numbers (any shape, flattened); ValueError naming the first bad index."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise ValueError(f"{what} is not an array of numbers (ragged or mixed: {_short(value)})") from None
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{what} must hold numbers, got {arr.dtype} values ({_short(value)})")
    flat = arr.astype(np.float64).reshape(-1)
    if flat.size == 0:
        raise ValueError(f"{what} is empty")
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        raise ValueError(f"{what}[{bad[0]}] is {flat[bad[0]]}: every value must be finite")
    return tuple(float(v) for v in flat)


def check_positive(values: tuple[float, ...], what: str, eps: float = 0.0) -> None:
    """Every std > 0; with eps > 0 (LeRobot divides by std + eps) a std of 0, a constant dimension, is
    accepted too. ValueError naming the first index that is not."""
    bad = [i for i, v in enumerate(values) if not (v > 0 or (eps > 0 and v == 0))]
    if bad:
        rule = "a std must be >= 0 (0 only with eps > 0)" if eps > 0 else "a std must be > 0"
        raise ValueError(f"{what}[{bad[0]}] is {values[bad[0]]:g}: {rule} "
                         f"({len(bad)} of {len(values)} values are not)")


def check_ordered(lo: tuple[float, ...], hi: tuple[float, ...], what_lo: str, what_hi: str,
                  eps: float = 0.0) -> None:
    """lo < hi elementwise (a min-max range; lo == hi too with eps > 0, as LeRobot divides by
    max - min + eps); ValueError naming the first index where it is not."""
    if len(lo) != len(hi):
        raise ValueError(f"{what_lo} has {len(lo)} values but {what_hi} has {len(hi)}")
    bad = [i for i, (a, b) in enumerate(zip(lo, hi)) if not (a < b or (eps > 0 and a == b))]
    if bad:
        i = bad[0]
        need = "min <= max (min == max only with eps > 0)" if eps > 0 else "min < max"
        raise ValueError(f"{what_hi}[{i}] = {hi[i]:g} is not above {what_lo}[{i}] = {lo[i]:g} "
                         f"(a min-max range needs {need})")


_F32_MAX = float(np.finfo(np.float32).max)


def _check_float32(values: Any, what: str) -> None:
    """The graph computes in float32: a derived constant beyond its range would turn actions into inf/NaN."""
    flat = np.abs(np.asarray(values, dtype=np.float64)).reshape(-1)
    bad = np.flatnonzero(~(flat < _F32_MAX))
    if bad.size:
        raise ValueError(f"{what}[{bad[0]}] is {flat[bad[0]]:g}, beyond float32: the stats are degenerate "
                         "(a std or range too small, or values too large)")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Normalization:
    """How a vector is normalized before the network (state) or un-normalized after it (action).

    mean_std: x_n = (x - mean) / (std + eps);  x = x_n * std + mean
    min_max:  x_n = (x - min) / (max - min + eps) * 2 - 1;  x = (x_n + 1) / 2 * (max - min) + min
    identity: x_n = x
    (eps only on the forward side, as LeRobot does; the original ACT clips std >= 1e-2 and uses eps 0.)
    """

    mode: str = "identity"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    min: tuple[float, ...] | None = None
    max: tuple[float, ...] | None = None
    eps: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.mode, str) or self.mode not in NORM_MODES:
            raise ValueError(f"normalization mode {self.mode!r} is not one of {NORM_MODES}")
        object.__setattr__(self, "eps", check_real(self.eps, "eps", lo=0.0))
        need = {"mean_std": ("mean", "std"), "min_max": ("min", "max"), "identity": ()}[self.mode]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"normalization mode {self.mode!r} needs {name!r}")
        for name in ("mean", "std", "min", "max"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, real_vector(value, name))
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError(f"mean has {len(self.mean)} values but std has {len(self.std)}")
        if self.std is not None:
            check_positive(self.std, "std", self.eps)
        if self.min is not None and self.max is not None:
            check_ordered(self.min, self.max, "min", "max", self.eps)
        for label, values in (("scale", self.affine()[0]), ("shift", self.affine()[1]),
                              ("inverse scale", self.inverse_affine()[0]), ("inverse shift", self.inverse_affine()[1])):
            _check_float32(values, f"{self.mode} normalization {label}")

    def dim(self) -> int | None:
        """Length of the stats vectors, None for identity."""
        vec = self.mean if self.mode == "mean_std" else self.min if self.mode == "min_max" else None
        return None if vec is None else len(vec)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift) with x_n = x * scale + shift, float64."""
        if self.mode == "mean_std":
            mean, std = np.array(self.mean), np.array(self.std)
            return 1.0 / (std + self.eps), -mean / (std + self.eps)
        if self.mode == "min_max":
            lo, hi = np.array(self.min), np.array(self.max)
            return 2.0 / (hi - lo + self.eps), -2.0 * lo / (hi - lo + self.eps) - 1.0
        return np.array(1.0), np.array(0.0)

    def inverse_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift) with x = x_n * scale + shift, float64."""
        if self.mode == "mean_std":
            return np.array(self.std), np.array(self.mean)
        if self.mode == "min_max":
            lo, hi = np.array(self.min), np.array(self.max)
            return (hi - lo) / 2.0, (hi - lo) / 2.0 + lo
        return np.array(1.0), np.array(0.0)

    def unit_scale(self) -> np.ndarray:
        """Robot units per normalized unit, per dimension (used to report errors in normalized units)."""
        return np.abs(self.inverse_affine()[0])


@dataclass(frozen=True)
class CameraSpec:
    """One camera input: raw uint8 frames (H, W, 3) scaled to [0, 1] then (x - mean) / std per channel.

    channels == 4 means RGB-D: colour arrives as uint8 (H, W, 3) and depth as float32 metres (H, W),
    mapped to [0, 1] by depth_range before the 4th channel's mean/std.
    """

    name: str
    height: int
    width: int
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    depth_range: tuple[float, float] | None = None
    # Resize/crop done in the graph before the backbone: {"center_crop": [h, w], "resize": [h, w], ...}
    eval_transform: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"camera name must be a non-empty string, got {self.name!r}")
        what = f"camera {self.name!r}"
        object.__setattr__(self, "height", check_int(self.height, f"{what}: height", 1, MAX_IMAGE_SIDE))
        object.__setattr__(self, "width", check_int(self.width, f"{what}: width", 1, MAX_IMAGE_SIDE))
        object.__setattr__(self, "channels", check_int(self.channels, f"{what}: channels (3 RGB, 4 RGB-D)", 3, 4))
        object.__setattr__(self, "mean", real_vector(self.mean, f"{what}: mean"))
        object.__setattr__(self, "std", real_vector(self.std, f"{what}: std"))
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(
                f"camera {self.name!r}: mean/std have {len(self.mean)}/{len(self.std)} values "
                f"for {self.channels} channels"
            )
        check_positive(self.std, f"{what}: std")
        _check_float32(1.0 / np.array(self.std), f"{what}: 1 / std")
        if self.channels == 4 and self.depth_range is None:
            raise ValueError(f"camera {self.name!r}: 4 channels (RGB-D) need depth_range")
        if self.depth_range is not None:
            rng = real_vector(self.depth_range, f"{what}: depth_range")
            if len(rng) != 2 or not 0 <= rng[0] < rng[1]:
                raise ValueError(f"{what}: depth_range must be [near, far] metres with 0 <= near < far, "
                                 f"got {list(rng)}")
            object.__setattr__(self, "depth_range", rng)
        if self.eval_transform is not None:
            _check_eval_transform(self.eval_transform, f"{what}: eval_transform")

    @property
    def resolution(self) -> tuple[int, int]:
        return (self.height, self.width)


def _check_eval_transform(t: Any, what: str) -> None:
    """{"steps": [[center_crop|resize, [h, w]], ...], "output_size": [h, w]}, sizes in 1..MAX_IMAGE_SIDE."""
    if not isinstance(t, dict):
        raise ValueError(f"{what} must be a mapping, got {_short(t)}")
    unknown = sorted(map(str, set(t) - {"steps", "output_size"}))
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown} (known: steps, output_size)")

    def size(v: Any, where: str) -> None:
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ValueError(f"{where} must be [h, w], got {_short(v)}")
        for x in v:
            check_int(x, where, 1, MAX_IMAGE_SIDE)

    steps = t.get("steps", [])
    if not isinstance(steps, (list, tuple)):
        raise ValueError(f"{what}.steps must be a list, got {_short(steps)}")
    for i, step in enumerate(steps):
        if not isinstance(step, (list, tuple)) or len(step) != 2 or step[0] not in EVAL_STEPS:
            raise ValueError(f"{what}.steps[{i}] must be [one of {list(EVAL_STEPS)}, [h, w]], got {_short(step)}")
        size(step[1], f"{what}.steps[{i}] size")
    if "output_size" in t:
        size(t["output_size"], f"{what}.output_size")


@dataclass(frozen=True)
class ImageGroup:
    """Cameras of one resolution, fed as one graph input and run through the backbone as one batch."""

    input_name: str  # "images" when all cameras share a resolution, else "images_<H>x<W>"
    depth_input_name: str | None  # "depth" / "depth_<H>x<W>" for RGB-D cameras, else None
    camera_indices: tuple[int, ...]
    height: int
    width: int
    channels: int


@dataclass(frozen=True)
class ActSpec:
    """Everything needed to build the z = 0 ACT inference graph and to feed it.

    `cameras` may be empty (LeRobot's camera-less ACT): no backbone (`backbone`/`dilation` are then
    unused), encoder tokens latent, state (if state_dim > 0) and env state; env_state_dim must then be
    > 0. state_dim 0 (no robot-state input) also needs an env state.
    """

    cameras: tuple[CameraSpec, ...]
    state_dim: int
    action_dim: int
    chunk_size: int
    env_state_dim: int = 0  # 0: no env-state token
    d_model: int = 512
    n_heads: int = 8
    dim_feedforward: int = 3200
    activation: str = "relu"
    n_encoder_layers: int = 4
    n_decoder_layers: int = 1  # decoder layers that affect the output (the original's hs[0] -> 1)
    pre_norm: bool = False
    backbone: str = "resnet18"
    dilation: bool = False  # replace the last stage's stride with dilation (stride 16)
    state_norm: Normalization = field(default_factory=Normalization)
    env_state_norm: Normalization = field(default_factory=Normalization)
    action_norm: Normalization = field(default_factory=Normalization)
    name: str = "act"
    architecture: str = "detr"  # one of ARCHITECTURES

    def __post_init__(self) -> None:
        if not isinstance(self.architecture, str) or self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture {self.architecture!r} is not one of {ARCHITECTURES}")
        decoder_only = self.architecture == "decoder_only"
        if not isinstance(self.cameras, (list, tuple)):
            raise ValueError(f"cameras must be a list of cameras, got {_short(self.cameras)}")
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if len(self.cameras) > MAX_CAMERAS:
            raise ValueError(f"{len(self.cameras)} cameras: at most {MAX_CAMERAS} are supported")
        bad = [i for i, c in enumerate(self.cameras) if not isinstance(c, CameraSpec)]
        if bad:
            raise ValueError(f"cameras[{bad[0]}] is a {type(self.cameras[bad[0]]).__name__}, not a CameraSpec")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for key, lo, hi in (("state_dim", 0, MAX_VECTOR_DIM), ("action_dim", 1, MAX_VECTOR_DIM),
                            ("env_state_dim", 0, MAX_VECTOR_DIM), ("chunk_size", 1, MAX_CHUNK),
                            ("d_model", 1, MAX_D_MODEL), ("n_heads", 1, MAX_D_MODEL),
                            ("dim_feedforward", 1, MAX_FEEDFORWARD),
                            ("n_encoder_layers", 0 if decoder_only else 1, MAX_LAYERS),
                            ("n_decoder_layers", 1, MAX_LAYERS)):
            object.__setattr__(self, key, check_int(getattr(self, key), key, lo, hi))
        if not self.cameras and not self.env_state_dim and not decoder_only:
            raise ValueError("a spec without cameras needs an env state (env_state_dim > 0), as LeRobot's ACT "
                             "requires one of image or environment-state inputs")
        if not self.state_dim and not self.env_state_dim:
            raise ValueError("state_dim 0 (no robot state) needs an env state (env_state_dim > 0)")
        for key in ("pre_norm", "dilation"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise ValueError(f"{key} must be true or false, got {getattr(self, key)!r}")
            object.__setattr__(self, key, bool(getattr(self, key)))
        if not isinstance(self.backbone, str) or self.backbone not in BACKBONES:
            raise ValueError(f"backbone {self.backbone!r} is not one of {sorted(BACKBONES)}")
        if self.dilation and BACKBONES[self.backbone][0] == "basic":
            raise ValueError(
                f"dilation=True with {self.backbone}: torchvision's BasicBlock does not support "
                "dilation, so no source implementation can have trained this; use resnet50"
            )
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if decoder_only:
            self._check_decoder_only()
        elif self.cameras and self.d_model % 4:
            raise ValueError(f"d_model {self.d_model} must be a multiple of 4 (2D sine embedding: sin/cos per axis)")
        for name, dim in (("state_norm", self.state_dim), ("action_norm", self.action_dim),
                          ("env_state_norm", self.env_state_dim)):
            norm = getattr(self, name)
            if not isinstance(norm, Normalization):
                raise ValueError(f"{name} is a {type(norm).__name__}, not a Normalization")
            got = norm.dim()
            if got is not None and got != dim:
                raise ValueError(f"{name} has {got} values but the dimension is {dim}")
        if any(c.channels == 4 for c in self.cameras) and not all(c.channels == 4 for c in self.cameras):
            raise ValueError("mixing RGB and RGB-D cameras in one spec is not supported")

    def _check_decoder_only(self) -> None:
        """The decoder-only graph has one observation vector (the `state` input) and nothing else."""
        wrong = [(f"{len(self.cameras)} cameras", "no cameras") if self.cameras else None,
                 (f"env_state_dim {self.env_state_dim}", "env_state_dim 0") if self.env_state_dim else None,
                 (f"n_encoder_layers {self.n_encoder_layers}", "n_encoder_layers 0 (no encoder)")
                 if self.n_encoder_layers else None,
                 ("pre_norm true", "post-norm layers (pre_norm false)") if self.pre_norm else None,
                 ("dilation true", "dilation false (no backbone)") if self.dilation else None]
        first = next((w for w in wrong if w), None)
        if first:
            raise ValueError(f"architecture 'decoder_only' has {first[0]}: it takes {first[1]}")

    # --- derived facts -------------------------------------------------------------------------
    @property
    def backbone_channels(self) -> int:
        return BACKBONES[self.backbone][2]

    @property
    def stride(self) -> int:
        return 16 if self.dilation else 32

    def backbone_input_size(self, cam: CameraSpec) -> tuple[int, int]:
        """(H, W) that reaches the backbone after the camera's eval transform."""
        t = cam.eval_transform or {}
        if "output_size" in t:
            return tuple(int(v) for v in t["output_size"])  # type: ignore[return-value]
        size = cam.resolution
        for _, hw in t.get("steps", []):  # center_crop / resize both set the size
            size = (int(hw[0]), int(hw[1]))
        return size

    def feature_size(self, cam: CameraSpec) -> tuple[int, int]:
        h, w = self.backbone_input_size(cam)
        s = self.stride
        return (-(-h // s), -(-w // s))  # ceil, as the conv arithmetic gives with these paddings

    @property
    def n_1d_tokens(self) -> int:
        return 1 + (1 if self.state_dim else 0) + (1 if self.env_state_dim else 0)  # latent, (state), (env state)

    @property
    def n_image_tokens(self) -> int:
        return sum(h * w for h, w in (self.feature_size(c) for c in self.cameras))

    @property
    def n_tokens(self) -> int:
        return self.n_1d_tokens + self.n_image_tokens

    def image_groups(self) -> list[ImageGroup]:
        """Cameras grouped by (H, W) in order of first appearance (none without cameras)."""
        if not self.cameras:
            return []
        order: dict[tuple[int, int], list[int]] = {}
        for i, cam in enumerate(self.cameras):
            order.setdefault(cam.resolution, []).append(i)
        single = len(order) == 1
        rgbd = self.cameras[0].channels == 4
        groups = []
        for (h, w), idx in order.items():
            suffix = "" if single else f"_{h}x{w}"
            groups.append(ImageGroup(
                input_name="images" + suffix,
                depth_input_name=("depth" + suffix) if rgbd else None,
                camera_indices=tuple(idx), height=h, width=w, channels=self.cameras[idx[0]].channels,
            ))
        return groups

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]

    # --- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ActSpec":
        """Build from `to_dict()` output; ValueError (one line, naming the field) for anything malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"spec must be a mapping, got {_short(data)}")
        data = dict(data)
        if not isinstance(data.get("cameras"), list):
            raise ValueError(f"spec.cameras must be a list of camera mappings, got {_short(data.get('cameras'))}")
        data["cameras"] = tuple(_build(CameraSpec, _tuples(c) if isinstance(c, dict) else c, f"cameras[{i}]")
                                for i, c in enumerate(data["cameras"]))
        for key in ("state_norm", "env_state_norm", "action_norm"):
            if key in data:
                data[key] = _build(Normalization, data[key], key)
        return _build(cls, data, "spec")

    @classmethod
    def from_json(cls, text: str) -> "ActSpec":
        return cls.from_dict(json.loads(text))


def _build(cls: type, data: Any, what: str) -> Any:
    """cls(**data) with unknown, missing and malformed fields reported as one ValueError line."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a mapping, got {_short(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields in {what}: {unknown}")
    missing = [n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{what} is missing {missing}")
    try:
        return cls(**data)
    except ValueError as exc:
        if what == "spec":
            raise
        raise ValueError(f"{what}: {exc}") from None


def _tuples(cam: dict[str, Any]) -> dict[str, Any]:
    cam = dict(cam)
    if isinstance(cam.get("depth_range"), list):
        cam["depth_range"] = tuple(cam["depth_range"])
    return cam
