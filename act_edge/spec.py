"""ActSpec: the architecture and I/O contract of one ACT inference graph (JSON-serializable)."""

from __future__ import annotations

import dataclasses
import json
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
        if self.mode not in NORM_MODES:
            raise ValueError(f"normalization mode {self.mode!r} is not one of {NORM_MODES}")
        need = {"mean_std": ("mean", "std"), "min_max": ("min", "max"), "identity": ()}[self.mode]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"normalization mode {self.mode!r} needs {name!r}")
        for name in ("mean", "std", "min", "max"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in np.asarray(value).reshape(-1)))

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
        if self.channels not in (3, 4):
            raise ValueError(f"camera {self.name!r}: channels must be 3 or 4, got {self.channels}")
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(
                f"camera {self.name!r}: mean/std have {len(self.mean)}/{len(self.std)} values "
                f"for {self.channels} channels"
            )
        if self.channels == 4 and self.depth_range is None:
            raise ValueError(f"camera {self.name!r}: 4 channels (RGB-D) need depth_range")
        if self.depth_range is not None:
            object.__setattr__(self, "depth_range", tuple(float(v) for v in self.depth_range))

    @property
    def resolution(self) -> tuple[int, int]:
        return (self.height, self.width)


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
    """Everything needed to build the z = 0 ACT inference graph and to feed it."""

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if not self.cameras:
            raise ValueError("an ACT spec needs at least one camera")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone {self.backbone!r} is not one of {sorted(BACKBONES)}")
        if self.dilation and BACKBONES[self.backbone][0] == "basic":
            raise ValueError(
                f"dilation=True with {self.backbone}: torchvision's BasicBlock does not support "
                "dilation, so no source implementation can have trained this; use resnet50"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.d_model % 4:
            raise ValueError(f"d_model {self.d_model} must be a multiple of 4 (2D sine embedding: sin/cos per axis)")
        for name in ("state_dim", "action_dim", "chunk_size", "n_encoder_layers", "n_decoder_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, dim in (("state_norm", self.state_dim), ("action_norm", self.action_dim),
                          ("env_state_norm", self.env_state_dim)):
            got = getattr(self, name).dim()
            if got is not None and got != dim:
                raise ValueError(f"{name} has {got} values but the dimension is {dim}")
        if any(c.channels == 4 for c in self.cameras) and not all(c.channels == 4 for c in self.cameras):
            raise ValueError("mixing RGB and RGB-D cameras in one spec is not supported")

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
        return 2 + (1 if self.env_state_dim else 0)  # latent, state, (env state)

    @property
    def n_image_tokens(self) -> int:
        return sum(h * w for h, w in (self.feature_size(c) for c in self.cameras))

    @property
    def n_tokens(self) -> int:
        return self.n_1d_tokens + self.n_image_tokens

    def image_groups(self) -> list[ImageGroup]:
        """Cameras grouped by (H, W) in order of first appearance."""
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
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ActSpec fields: {unknown}")
        data["cameras"] = tuple(CameraSpec(**_tuples(c)) for c in data["cameras"])
        for key in ("state_norm", "env_state_norm", "action_norm"):
            if key in data:
                data[key] = Normalization(**data[key])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "ActSpec":
        return cls.from_dict(json.loads(text))


def _tuples(cam: dict[str, Any]) -> dict[str, Any]:
    cam = dict(cam)
    if cam.get("depth_range") is not None:
        cam["depth_range"] = tuple(cam["depth_range"])
    return cam
