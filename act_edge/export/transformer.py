"""DETR-style encoder/decoder layers (post-norm or pre-norm), batch-first, with nn.MultiheadAttention names."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class Attention(nn.Module):
    """Multi-head attention with nn.MultiheadAttention's parameters (packed in_proj, out_proj).

    Written out (MatMul/Softmax) so the ONNX graph is plain and the batch axis may broadcast:
    a (1, Tq, D) query against (B, Tk, D) keys gives (B, Tq, D).
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.d_model, self.n_heads = d_model, n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        d, h = self.d_model, self.n_heads
        w, b = self.in_proj_weight, self.in_proj_bias
        tq, tk = query.shape[1], key.shape[1]
        q = F.linear(query, w[:d], b[:d]).reshape(-1, tq, h, d // h).transpose(1, 2)  # (B, h, Tq, dh)
        k = F.linear(key, w[d:2 * d], b[d:2 * d]).reshape(-1, tk, h, d // h).permute(0, 2, 3, 1)  # (B, h, dh, Tk)
        v = F.linear(value, w[2 * d:], b[2 * d:]).reshape(-1, tk, h, d // h).transpose(1, 2)  # (B, h, Tk, dh)
        attn = torch.softmax(torch.matmul(q * (1.0 / math.sqrt(d // h)), k), dim=-1)  # (B, h, Tq, Tk)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(-1, tq, d)  # (B, Tq, D)
        return self.out_proj(out)


def _activation(name: str):
    return {"relu": F.relu, "gelu": F.gelu}[name]


class EncoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, activation: str, pre_norm: bool) -> None:
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.linear1, self.linear2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.act, self.pre_norm = _activation(activation), pre_norm

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:  # (B, T, D), (1, T, D)
        if self.pre_norm:
            x = self.norm1(src)
            src = src + self.self_attn(x + pos, x + pos, x)
            return src + self.linear2(self.act(self.linear1(self.norm2(src))))
        src = self.norm1(src + self.self_attn(src + pos, src + pos, src))
        return self.norm2(src + self.linear2(self.act(self.linear1(src))))


class DecoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, activation: str, pre_norm: bool) -> None:
        super().__init__()
        self.self_attn, self.multihead_attn = Attention(d, heads), Attention(d, heads)
        self.linear1, self.linear2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.act, self.pre_norm = _activation(activation), pre_norm

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, query_pos: torch.Tensor | None,
                memory_pos: torch.Tensor | None) -> torch.Tensor:
        """pos None: no position embedding (torch's nn.TransformerDecoderLayer, the decoder-only graph)."""
        if self.pre_norm:
            x = self.norm1(tgt)
            tgt = tgt + self.self_attn(_add(x, query_pos), _add(x, query_pos), x)
            x = self.norm2(tgt)
            tgt = tgt + self.multihead_attn(_add(x, query_pos), _add(memory, memory_pos), memory)
            return tgt + self.linear2(self.act(self.linear1(self.norm3(tgt))))
        q = _add(tgt, query_pos)
        tgt = self.norm1(tgt + self.self_attn(q, q, tgt))
        tgt = self.norm2(tgt + self.multihead_attn(_add(tgt, query_pos), _add(memory, memory_pos), memory))
        return self.norm3(tgt + self.linear2(self.act(self.linear1(tgt))))


def _add(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    return x if pos is None else x + pos


class Encoder(nn.Module):
    def __init__(self, n_layers: int, d: int, heads: int, ff: int, activation: str, pre_norm: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d, heads, ff, activation, pre_norm) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d) if pre_norm else None  # DETR: final encoder norm only in pre-norm mode

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            src = layer(src, pos)
        return src if self.norm is None else self.norm(src)


class Decoder(nn.Module):
    """Only the layers that reach the output are built (the original's hs[0] -> one layer).
    final_norm False: no LayerNorm after the last layer (torch nn.TransformerDecoder without `norm`)."""

    def __init__(self, n_layers: int, d: int, heads: int, ff: int, activation: str, pre_norm: bool,
                 final_norm: bool = True) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d, heads, ff, activation, pre_norm) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d) if final_norm else None

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, query_pos: torch.Tensor | None,
                memory_pos: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layers:
            tgt = layer(tgt, memory, query_pos, memory_pos)
        return tgt if self.norm is None else self.norm(tgt)
