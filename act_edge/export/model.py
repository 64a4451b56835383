"""The ACT inference graph (z = 0, CVAE encoder absent) built from an ActSpec.

Inputs are what the robot has (uint8 frames, robot-unit state); the output is the action chunk in
robot units. Canonical weight names are this module's state_dict keys (see `canonical_shapes`).
"""

from __future__ import annotations

import torch
from torch import nn

from ..bundle import io_description
from ..spec import ActSpec
from .positional import sine_embedding_2d
from .processing import ImagePreprocess, VectorNormalize, named_inputs
from .resnet import ResNetTrunk
from .transformer import Decoder, Encoder


class Preprocess(nn.Module):
    """Raw inputs -> (per-group normalized frames (B*N, C, H, W), normalized state, env state)."""

    def __init__(self, spec: ActSpec) -> None:
        super().__init__()
        self.groups = spec.image_groups()
        self.images = nn.ModuleList(ImagePreprocess(spec, g) for g in self.groups)
        self.state = VectorNormalize(spec.state_norm) if spec.state_dim else None
        self.env_state = VectorNormalize(spec.env_state_norm) if spec.env_state_dim else None

    def forward(self, x: dict[str, torch.Tensor]):
        frames = [prep(x[g.input_name], x[g.depth_input_name] if g.depth_input_name else None)
                  for g, prep in zip(self.groups, self.images)]
        env = self.env_state(x["env_state"]) if self.env_state is not None else None
        state = self.state(x["state"]) if self.state is not None else None
        return frames, state, env


class ActInferenceModel(nn.Module):
    """forward(*inputs) with inputs in manifest `io` order (also accepted by name) -> (B, chunk, A)."""

    def __init__(self, spec: ActSpec) -> None:
        super().__init__()
        if spec.architecture != "detr":  # never a silently different graph: build_inference_model picks it
            raise ValueError(f"ActInferenceModel builds architecture 'detr', not {spec.architecture!r}: "
                             "use build_inference_model(spec)")
        self.spec = spec
        d = spec.d_model
        self.groups = spec.image_groups()
        self.input_names = [e["name"] for e in io_description(spec)["inputs"]]
        self.preprocess = Preprocess(spec)
        # No cameras (LeRobot's camera-less ACT): no backbone, no image projection, no image tokens.
        self.backbone = ResNetTrunk(spec.backbone, spec.cameras[0].channels, spec.dilation) if spec.cameras else None
        self.img_proj = nn.Conv2d(spec.backbone_channels, d, 1) if spec.cameras else None
        self.state_proj = nn.Linear(spec.state_dim, d) if spec.state_dim else None
        self.env_state_proj = nn.Linear(spec.env_state_dim, d) if spec.env_state_dim else None
        # z = 0 folded: latent_out_proj(0) is its bias, a constant token.
        self.latent_token = nn.Parameter(torch.zeros(d))
        self.pos_1d = nn.Parameter(torch.randn(spec.n_1d_tokens, d) * 0.02)
        args = (d, spec.n_heads, spec.dim_feedforward, spec.activation, spec.pre_norm)
        self.encoder = Encoder(spec.n_encoder_layers, *args)
        self.decoder = Decoder(spec.n_decoder_layers, *args)
        self.query_pos = nn.Parameter(torch.randn(spec.chunk_size, d) * 0.02)
        self.action_head = nn.Linear(d, spec.action_dim)
        self.postprocess = VectorNormalize(spec.action_norm, inverse=True)
        # Image-token position embeddings per resolution group, one copy per camera: (1, N*h*w, D)
        self.feature_tokens = []
        for gi, g in enumerate(self.groups):
            h, w = spec.feature_size(spec.cameras[g.camera_indices[0]])
            self.feature_tokens.append(h * w)
            pos = sine_embedding_2d(d, h, w).flatten(1).t()  # (h*w, D)
            self.register_buffer(f"image_pos_{gi}", pos.repeat(len(g.camera_indices), 1)[None], persistent=False)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        x = named_inputs(self.input_names, args, kwargs)
        frames, state, env_state = self.preprocess(x)
        tokens, pos = [], []
        for gi, (g, imgs) in enumerate(zip(self.groups, frames)):
            feat = self.img_proj(self.backbone(imgs))  # (B*N, D, h, w): all cameras in one batch
            n, d, hw = len(g.camera_indices), self.spec.d_model, self.feature_tokens[gi]
            feat = feat.reshape(-1, n, d, hw)  # (B, N, D, h*w)
            tokens.append(feat.permute(0, 1, 3, 2).reshape(-1, n * hw, d))  # (B, N*h*w, D)
            pos.append(getattr(self, f"image_pos_{gi}"))
        one_d = []  # (B, 1, D) each: state, env state; the latent token goes first
        if self.state_proj is not None:
            one_d.append(self.state_proj(state)[:, None])
        if self.env_state_proj is not None:
            one_d.append(self.env_state_proj(env_state)[:, None])
        one_d.insert(0, self.latent_token.expand_as(one_d[0]))
        src = torch.cat(one_d + tokens, dim=1)  # (B, T, D)
        memory_pos = torch.cat([self.pos_1d[None]] + pos, dim=1)  # (1, T, D)
        memory = self.encoder(src, memory_pos)
        # Decoder target is zeros; (1, chunk, D) broadcasts against the batch in cross-attention.
        tgt = torch.zeros_like(self.query_pos)[None]
        hs = self.decoder(tgt, memory, self.query_pos[None], memory_pos)  # (B, chunk, D)
        return self.postprocess(self.action_head(hs))  # (B, chunk, A) robot units


def build_inference_model(spec: ActSpec) -> nn.Module:
    """The inference graph of the spec's architecture: ActInferenceModel (detr) or DecoderOnlyModel."""
    if spec.architecture == "decoder_only":
        from .decoder_only import DecoderOnlyModel

        return DecoderOnlyModel(spec)
    return ActInferenceModel(spec)


def canonical_shapes(spec: ActSpec) -> dict[str, tuple[int, ...]]:
    """Canonical weight names and shapes for a spec (what every loader must produce)."""
    with torch.device("meta"):
        model = build_inference_model(spec)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}
