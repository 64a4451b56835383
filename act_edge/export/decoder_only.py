"""The decoder-only inference graph ("simplified ACT" of course notes, z = 0, CVAE encoder absent).

memory = [obs_proj(obs), z token] with z = 0 folded (the z token is z_proj's bias); target = the
learned action queries (no position embedding anywhere, no mask); post-norm decoder layers (the DETR
graph's DecoderLayer with no positions is torch's nn.TransformerDecoderLayer), no final norm; then
action_head. The observation vector is the bundle's `state` input; optional normalization in the graph.
"""

from __future__ import annotations

import torch
from torch import nn

from ..bundle import io_description
from ..spec import ActSpec
from .processing import VectorNormalize, named_inputs
from .transformer import Decoder


class DecoderOnlyModel(nn.Module):
    """forward(state) (also by name) -> (B, chunk, A) robot units; canonical weight names are its state_dict keys."""

    def __init__(self, spec: ActSpec) -> None:
        super().__init__()
        if spec.architecture != "decoder_only":
            raise ValueError(f"DecoderOnlyModel needs architecture 'decoder_only', got {spec.architecture!r}")
        self.spec = spec
        d = spec.d_model
        self.input_names = [e["name"] for e in io_description(spec)["inputs"]]
        self.preprocess = VectorNormalize(spec.state_norm)
        self.state_proj = nn.Linear(spec.state_dim, d)  # the notes' decoder.obs_proj
        self.latent_token = nn.Parameter(torch.zeros(d))  # z_proj(z = 0) = z_proj.bias
        self.action_queries = nn.Parameter(torch.randn(spec.chunk_size, d) * 0.02)
        self.decoder = Decoder(spec.n_decoder_layers, d, spec.n_heads, spec.dim_feedforward, spec.activation,
                               pre_norm=False, final_norm=False)
        self.action_head = nn.Linear(d, spec.action_dim)
        self.postprocess = VectorNormalize(spec.action_norm, inverse=True)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        x = named_inputs(self.input_names, args, kwargs)
        obs = self.state_proj(self.preprocess(x["state"]))[:, None]  # (B, 1, D)
        memory = torch.cat([obs, self.latent_token.expand_as(obs)], dim=1)  # (B, 2, D)
        # (1, chunk, D) target: self-attention runs once; cross-attention broadcasts it over the batch.
        hs = self.decoder(self.action_queries[None], memory, None, None)  # (B, chunk, D)
        return self.postprocess(self.action_head(hs))
