"""In-graph pre/post-processing: raw camera frames and robot-unit vectors <-> network space.

Kept in their own modules (`preprocess`, `postprocess`) so their ONNX nodes carry those scope
names and the fp16 converter can keep them in fp32.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..spec import ActSpec, ImageGroup, Normalization


def _affine_buffers(module: nn.Module, prefix: str, norm: Normalization, inverse: bool = False) -> None:
    scale, shift = norm.inverse_affine() if inverse else norm.affine()
    module.register_buffer(f"{prefix}_scale", torch.tensor(np.asarray(scale), dtype=torch.float32), persistent=False)
    module.register_buffer(f"{prefix}_shift", torch.tensor(np.asarray(shift), dtype=torch.float32), persistent=False)


class ImagePreprocess(nn.Module):
    """uint8 (B, N, H, W, 3) [+ depth (B, N, H, W) metres] -> normalized float (B*N, C, H', W')."""

    def __init__(self, spec: ActSpec, group: ImageGroup) -> None:
        super().__init__()
        cams = [spec.cameras[i] for i in group.camera_indices]
        mean = torch.tensor([c.mean for c in cams], dtype=torch.float64)  # (N, C)
        std = torch.tensor([c.std for c in cams], dtype=torch.float64)
        scale = 1.0 / std
        shift = -mean / std
        scale[:, :3] /= 255.0  # colour arrives as 0..255
        if group.depth_input_name:
            lo = torch.tensor([c.depth_range[0] for c in cams], dtype=torch.float64)
            hi = torch.tensor([c.depth_range[1] for c in cams], dtype=torch.float64)
            shift[:, 3] += -lo / (hi - lo) * scale[:, 3]  # (d - lo)/(hi - lo), then (.. - mean)/std
            scale[:, 3] /= hi - lo
        self.register_buffer("scale", scale.float()[None, :, :, None, None], persistent=False)  # (1,N,C,1,1)
        self.register_buffer("shift", shift.float()[None, :, :, None, None], persistent=False)
        self.n, self.has_depth = len(cams), group.depth_input_name is not None
        self.chw = (group.channels, group.height, group.width)
        self.transform = EvalTransform(cams[0].eval_transform) if cams[0].eval_transform else None

    def forward(self, images: torch.Tensor, depth: torch.Tensor | None = None) -> torch.Tensor:
        x = images.permute(0, 1, 4, 2, 3).float()  # (B, N, 3, H, W)
        if self.has_depth:
            x = torch.cat([x, depth.unsqueeze(2)], dim=2)  # (B, N, 4, H, W)
        x = x * self.scale + self.shift
        x = x.reshape(-1, *self.chw)  # (B*N, C, H, W)
        return x if self.transform is None else self.transform(x)


class EvalTransform(nn.Module):
    """Crop/resize steps applied to the normalized frames, in the order given (il_lib's eval transform).

    Steps: {"steps": [["center_crop", [h, w]], ["resize", [h, w]], ...], "output_size": [h, w]}.
    center_crop: torchvision's offsets, int(round((H - h) / 2)). resize: bilinear, align_corners=False
    (torchvision's tensor resize); antialias only matters when shrinking, which is refused here (an
    upscale with antialias=True is exactly the plain bilinear upscale in torch).

    Done after normalization: bilinear weights are non-negative and sum to 1 per output pixel, so the
    resize commutes with the per-channel affine x * scale + shift (exact up to float rounding), and a
    crop commutes with anything per-pixel.
    """

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.steps = [(str(name), tuple(int(v) for v in size)) for name, size in cfg.get("steps", [])]
        for name, _ in self.steps:
            if name not in ("center_crop", "resize"):
                raise ValueError(f"unknown eval transform step {name!r} (known: center_crop, resize)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, (h, w) in self.steps:
            H, W = int(x.shape[2]), int(x.shape[3])
            if name == "center_crop":
                if h > H or w > W:
                    raise ValueError(f"center_crop {h}x{w} is larger than the {H}x{W} frame")
                top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
                x = x[:, :, top:top + h, left:left + w]
            else:
                if h < H or w < W:
                    raise ValueError(f"resize {H}x{W} -> {h}x{w} shrinks: antialiased downscaling is not "
                                     "supported in the graph")
                x = nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        return x


class VectorNormalize(nn.Module):
    """x * scale + shift with the spec's normalization (forward or inverse)."""

    def __init__(self, norm: Normalization, inverse: bool = False) -> None:
        super().__init__()
        _affine_buffers(self, "a", norm, inverse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.a_scale + self.a_shift


def named_inputs(names: list[str], args: tuple, kwargs: dict) -> dict:
    """An inference model's forward(*args, **kwargs) as {graph input name: tensor}, positional args in
    the graph's input order (how torch.onnx.export calls it); TypeError naming what is missing."""
    x = dict(zip(names, args))
    x.update(kwargs)
    missing = [n for n in names if n not in x]
    if missing:
        raise TypeError(f"missing inputs {missing}; expected {names}")
    return x
