"""Plain-text renderings shared by the subcommands (spec, I/O, sizes)."""

from __future__ import annotations

from typing import Any

from ..spec import ActSpec


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def spec_lines(spec: ActSpec) -> list[str]:
    cams = ", ".join(f"{c.name} {c.height}x{c.width}{' RGB-D' if c.channels == 4 else ''}" for c in spec.cameras)
    norm = lambda n: n.mode + (f" (eps {n.eps:g})" if n.eps else "")  # noqa: E731
    lines = [
        f"name          {spec.name}",
        f"cameras       {len(spec.cameras)}: {cams}" if spec.cameras else "cameras       0 (state-only policy)",
        (f"state         {spec.state_dim} ({norm(spec.state_norm)})" if spec.state_dim else "state         none")
        + (f", env state {spec.env_state_dim} ({norm(spec.env_state_norm)})" if spec.env_state_dim else ""),
        f"action        {spec.action_dim} x chunk {spec.chunk_size} ({norm(spec.action_norm)})",
        "architecture  decoder_only: action queries cross-attend to [obs, z = 0] (2 memory tokens), no final norm"
        if spec.architecture == "decoder_only" else
        (f"backbone      {spec.backbone}{' (dilated, stride 16)' if spec.dilation else ''}, "
         f"{spec.n_image_tokens} image tokens + {spec.n_1d_tokens} 1-D tokens") if spec.cameras else
        f"backbone      none (no cameras), {spec.n_1d_tokens} 1-D tokens",
        f"transformer   d_model {spec.d_model}, {spec.n_heads} heads, FF {spec.dim_feedforward} {spec.activation}, "
        f"{spec.n_encoder_layers} enc / {spec.n_decoder_layers} dec layers, {'pre' if spec.pre_norm else 'post'}-norm",
    ]
    return lines


def io_lines(io: dict[str, Any]) -> list[str]:
    lines = []
    for kind in ("inputs", "outputs"):
        for e in io[kind]:
            shape = "(" + ", ".join(str(d) for d in e["shape"]) + ")"
            cams = f"  cameras {e['cameras']}" if e.get("cameras") else ""
            lines.append(f"{kind[:-1]:7s} {e['name']:12s} {e['dtype']:8s} {shape:26s} {e['layout']}{cams}")
    return lines
