"""Constant position embeddings: DETR's normalized 2D sine embedding per camera feature grid."""

from __future__ import annotations

import math

import torch


def sine_embedding_2d(d_model: int, h: int, w: int, temperature: float = 10000.0) -> torch.Tensor:
    """(d_model, h, w) embedding: y features then x features, sin/cos interleaved, positions 1..n
    normalized by (n + 1e-6) and scaled by 2*pi (DETR PositionEmbeddingSine, normalize=True)."""
    half = d_model // 2
    eps, scale = 1e-6, 2 * math.pi
    y = torch.arange(1, h + 1, dtype=torch.float64)[:, None].expand(h, w)
    x = torch.arange(1, w + 1, dtype=torch.float64)[None, :].expand(h, w)
    y = y / (h + eps) * scale
    x = x / (w + eps) * scale
    dim_t = temperature ** (2 * (torch.arange(half, dtype=torch.float64) // 2) / half)
    pos_x, pos_y = x[..., None] / dim_t, y[..., None] / dim_t  # (h, w, half)
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=3).flatten(2)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=3).flatten(2)
    return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1).float()
