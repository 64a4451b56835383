"""Independent reference forwards for the three ACT families, written from each family's semantics
(DETR-style seq-first transformer, torchvision ResNet, the family's own pre/post-processing), on the
family's native state dict. Nothing here imports act_edge."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export-side fixtures need torch")
F = torch.nn.functional

BN_EPS = 1e-5


# --- pieces --------------------------------------------------------------------------------------

def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + "running_mean"], sd[p + "running_var"], sd[p + "weight"], sd[p + "bias"],
                        training=False, eps=BN_EPS)


def resnet18(x, sd, p, dilation=False):
    """torchvision resnet18 up to layer4 (eval BatchNorm)."""
    x = F.relu(_bn(F.conv2d(x, sd[p + "conv1.weight"], stride=2, padding=3), sd, p + "bn1."))
    x = F.max_pool2d(x, 3, 2, 1)
    for i in range(1, 5):
        for b in range(2):
            q = f"{p}layer{i}.{b}."
            stride = 2 if (b == 0 and i > 1) else 1
            idt = x
            if q + "downsample.0.weight" in sd:
                idt = _bn(F.conv2d(x, sd[q + "downsample.0.weight"], stride=stride), sd, q + "downsample.1.")
            out = F.relu(_bn(F.conv2d(x, sd[q + "conv1.weight"], stride=stride, padding=1), sd, q + "bn1."))
            out = _bn(F.conv2d(out, sd[q + "conv2.weight"], padding=1), sd, q + "bn2.")
            x = F.relu(out + idt)
    return x


def sine_pos(d, h, w):
    """DETR PositionEmbeddingSine(num_pos_feats=d/2, normalize=True) on an all-valid mask: (1, d, h, w)."""
    npf = d // 2
    not_mask = torch.ones(1, h, w)
    y = not_mask.cumsum(1, dtype=torch.float32)
    x = not_mask.cumsum(2, dtype=torch.float32)
    eps, scale = 1e-6, 2 * math.pi
    y = y / (y[:, -1:, :] + eps) * scale
    x = x / (x[:, :, -1:] + eps) * scale
    dim_t = torch.arange(npf, dtype=torch.float32)
    dim_t = 10000 ** (2 * (dim_t // 2) / npf)
    px, py = x[:, :, :, None] / dim_t, y[:, :, :, None] / dim_t
    px = torch.stack((px[:, :, :, 0::2].sin(), px[:, :, :, 1::2].cos()), dim=4).flatten(3)
    py = torch.stack((py[:, :, :, 0::2].sin(), py[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((py, px), dim=3).permute(0, 3, 1, 2)


def _mha(q, k, v, sd, p, heads):
    """nn.MultiheadAttention (seq-first) with the native packed weights."""
    d = q.shape[-1]
    out, _ = F.multi_head_attention_forward(
        q, k, v, d, heads, sd[p + "in_proj_weight"], sd[p + "in_proj_bias"], None, None, False, 0.0,
        sd[p + "out_proj.weight"], sd[p + "out_proj.bias"], training=False, need_weights=False)
    return out


def _ln(x, sd, p):
    return F.layer_norm(x, (x.shape[-1],), sd[p + "weight"], sd[p + "bias"], 1e-5)


def _ffn(x, sd, p, act=F.relu):
    return F.linear(act(F.linear(x, sd[p + "linear1.weight"], sd[p + "linear1.bias"])), sd[p + "linear2.weight"], sd[p + "linear2.bias"])


def encoder_layer(src, pos, sd, p, heads, pre_norm):
    if pre_norm:
        s2 = _ln(src, sd, p + "norm1.")
        src = src + _mha(s2 + pos, s2 + pos, s2, sd, p + "self_attn.", heads)
        return src + _ffn(_ln(src, sd, p + "norm2."), sd, p)
    src = _ln(src + _mha(src + pos, src + pos, src, sd, p + "self_attn.", heads), sd, p + "norm1.")
    return _ln(src + _ffn(src, sd, p), sd, p + "norm2.")


def decoder_layer(tgt, memory, pos, qpos, sd, p, heads, pre_norm):
    if pre_norm:
        t2 = _ln(tgt, sd, p + "norm1.")
        tgt = tgt + _mha(t2 + qpos, t2 + qpos, t2, sd, p + "self_attn.", heads)
        t2 = _ln(tgt, sd, p + "norm2.")
        tgt = tgt + _mha(t2 + qpos, memory + pos, memory, sd, p + "multihead_attn.", heads)
        return tgt + _ffn(_ln(tgt, sd, p + "norm3."), sd, p)
    tgt = _ln(tgt + _mha(tgt + qpos, tgt + qpos, tgt, sd, p + "self_attn.", heads), sd, p + "norm1.")
    tgt = _ln(tgt + _mha(tgt + qpos, memory + pos, memory, sd, p + "multihead_attn.", heads), sd, p + "norm2.")
    return _ln(tgt + _ffn(tgt, sd, p), sd, p + "norm3.")


def detr_transformer(src, pos, query, sd, enc_p, dec_p, n_enc, n_dec, heads, pre_norm, enc_norm):
    """DETR Transformer with return_intermediate_dec=True: (n_dec, B, Q, D), each layer through the final norm."""
    memory = src
    for i in range(n_enc):
        memory = encoder_layer(memory, pos, sd, f"{enc_p}layers.{i}.", heads, pre_norm)
    if enc_norm:
        memory = _ln(memory, sd, enc_p + "norm.")
    bs = src.shape[1]
    qpos = query[:, None].repeat(1, bs, 1)
    tgt = torch.zeros_like(qpos)
    inter = []
    for i in range(n_dec):
        tgt = decoder_layer(tgt, memory, pos, qpos, sd, f"{dec_p}layers.{i}.", heads, pre_norm)
        inter.append(_ln(tgt, sd, dec_p + "norm.").transpose(0, 1))
    return torch.stack(inter)


def _t(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


# --- original ACT --------------------------------------------------------------------------------

@torch.no_grad()
def original_forward(sd, stats, images, qpos, heads):
    """ACTPolicy.__call__ at inference: images list per camera (B, H, W, 3) uint8, qpos (B, S) robot units."""
    sd = {k[len("model."):]: v.float() for k, v in sd.items()}
    n_enc = len({k.split(".")[3] for k in sd if k.startswith("transformer.encoder.layers.")})
    n_dec = len({k.split(".")[3] for k in sd if k.startswith("transformer.decoder.layers.")})
    pre_norm = "transformer.encoder.norm.weight" in sd
    d = sd["action_head.weight"].shape[1]
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    q = (_t(qpos) - _t(stats["qpos_mean"])) / _t(stats["qpos_std"])
    feats, poss = [], []
    for img in images:  # same backbones[0] for every camera
        x = (torch.from_numpy(img).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
        f = resnet18(x, sd, "backbones.0.0.body.")
        feats.append(F.conv2d(f, sd["input_proj.weight"], sd["input_proj.bias"]))
        poss.append(sine_pos(d, f.shape[2], f.shape[3]))
    src = torch.cat(feats, dim=3)  # width-concatenation of camera features
    pos = torch.cat(poss, dim=3)
    bs = src.shape[0]
    src = src.flatten(2).permute(2, 0, 1)
    pos = pos.flatten(2).permute(2, 0, 1).repeat(1, bs, 1)
    latent = F.linear(torch.zeros(bs, 32), sd["latent_out_proj.weight"], sd["latent_out_proj.bias"])
    proprio = F.linear(q, sd["input_proj_robot_state.weight"], sd["input_proj_robot_state.bias"])
    src = torch.cat([torch.stack([latent, proprio], dim=0), src], dim=0)
    pos = torch.cat([sd["additional_pos_embed.weight"][:, None].repeat(1, bs, 1), pos], dim=0)
    hs = detr_transformer(src, pos, sd["query_embed.weight"], sd, "transformer.encoder.", "transformer.decoder.",
                          n_enc, n_dec, heads, pre_norm, pre_norm)[0]  # the original's hs[0]
    a = F.linear(hs, sd["action_head.weight"], sd["action_head.bias"])
    return (a * _t(stats["action_std"]) + _t(stats["action_mean"])).numpy()


# --- LeRobot -------------------------------------------------------------------------------------

def _lerobot_norm(x, stats, key, mode, eps=1e-8):
    if mode == "MEAN_STD":
        return (x - _t(stats[key + ".mean"])) / (_t(stats[key + ".std"]) + eps)
    if mode == "MIN_MAX":
        lo, hi = _t(stats[key + ".min"]), _t(stats[key + ".max"])
        return (x - lo) / (hi - lo + eps) * 2 - 1
    return x


def _lerobot_unnorm(x, stats, key, mode):
    if mode == "MEAN_STD":
        return x * _t(stats[key + ".std"]) + _t(stats[key + ".mean"])
    if mode == "MIN_MAX":
        lo, hi = _t(stats[key + ".min"]), _t(stats[key + ".max"])
        return (x + 1) / 2 * (hi - lo) + lo
    return x


@torch.no_grad()
def lerobot_forward(sd, stats, features, modes, cfg, images, state, env_state=None):
    """ACTPolicy.predict_action_chunk with its processors: images {camera key: (B, H, W, 3) uint8}.
    Camera-less configs (no VISUAL feature): `images` empty, no backbone; `state` None without
    observation.state. Encoder tokens: latent, (state), (env state), image tokens."""
    sd = {k[len("model."):]: v.float() for k, v in sd.items()}
    d, heads = cfg["dim_model"], cfg["n_heads"]
    pre_norm = cfg["pre_norm"]
    tokens = []
    bs = (state if state is not None else env_state).shape[0]
    latent = F.linear(torch.zeros(bs, 32), sd["encoder_latent_input_proj.weight"], sd["encoder_latent_input_proj.bias"])
    tokens.append(latent)
    if state is not None:
        s = _lerobot_norm(_t(state), stats, "observation.state", modes["STATE"])
        tokens.append(F.linear(s, sd["encoder_robot_state_input_proj.weight"], sd["encoder_robot_state_input_proj.bias"]))
    if env_state is not None:
        e = _lerobot_norm(_t(env_state), stats, "observation.environment_state", modes["ENV"])
        tokens.append(F.linear(e, sd["encoder_env_state_input_proj.weight"], sd["encoder_env_state_input_proj.bias"]))
    pos_1d = sd.get("encoder_1d_feature_pos_embed.weight", sd.get("encoder_robot_and_latent_pos_embed.weight"))
    src = torch.stack(tokens, dim=0)  # (n_1d, B, D): latent, state, (env)
    pos_t = pos_1d[:, None]
    for key, (t, _) in features.items():
        if t != "VISUAL":
            continue
        x = torch.from_numpy(images[key]).permute(0, 3, 1, 2).float() / 255.0
        cam_stats = {k: np.asarray(v).reshape(3, 1, 1) for k, v in stats.items()
                     if k.startswith(key + ".") and k.rsplit(".", 1)[1] in ("mean", "std", "min", "max")}
        x = _lerobot_norm(x, cam_stats, key, modes["VISUAL"])
        f = F.conv2d(resnet18(x, sd, "backbone."), sd["encoder_img_feat_input_proj.weight"], sd["encoder_img_feat_input_proj.bias"])
        p = sine_pos(d, f.shape[2], f.shape[3])
        src = torch.cat([src, f.flatten(2).permute(2, 0, 1)], dim=0)  # camera tokens appended along the sequence
        pos_t = torch.cat([pos_t, p.flatten(2).permute(2, 0, 1)], dim=0)
    n_enc, n_dec = cfg["n_encoder_layers"], cfg["n_decoder_layers"]
    hs = detr_transformer(src, pos_t, sd["decoder_pos_embed.weight"], sd, "encoder.", "decoder.", n_enc, n_dec,
                          heads, pre_norm, pre_norm)[-1]  # LeRobot runs all its decoder layers
    a = F.linear(hs, sd["action_head.weight"], sd["action_head.bias"])
    return _lerobot_unnorm(a, stats, "action", modes["ACTION"]).numpy()


# --- BEHAVIOR il_lib -----------------------------------------------------------------------------

def _center_crop(x, h, w):  # torchvision.transforms.functional.center_crop offsets
    H, W = x.shape[-2:]
    top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
    return x[..., top:top + h, left:left + w]


@torch.no_grad()
def behavior_forward(sd, ranges, hp, rgb, depth, state, decoder_output="last"):
    """il_lib ACT.act without ensembling: rgb (B, V, H, W, 3) uint8, depth (B, V, H, W) metres, state (B, S)."""
    sd = {k: v.float() for k, v in sd.items() if v.is_floating_point()}
    d, heads = hp["hidden_dim"], hp["n_heads"]
    pre_norm = hp["pre_norm"]
    lo_s, hi_s = _t(ranges["state_min"]), _t(ranges["state_max"])
    mean = torch.tensor([0.485, 0.456, 0.406, 0.0])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225, 1.0])[:, None, None]
    feats, poss = [], []
    for v in range(rgb.shape[1]):
        c = torch.from_numpy(rgb[:, v]).permute(0, 3, 1, 2).float() / 255.0
        dep = (torch.from_numpy(depth[:, v]).float()[:, None] - 0.01) / (10.0 - 0.01)
        x = torch.cat([c, dep], dim=1)  # (B, 4, H, W) in [0, 1]
        x = _center_crop(x, 224, 224)
        x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False, antialias=True)
        x = _center_crop(x, 224, 224)
        x = (x - mean) / std
        f = resnet18(x, sd, "obs_backbone._resnet.")
        poss.append(sine_pos(d, f.shape[2], f.shape[3]))
        feats.append(F.conv2d(f, sd["input_proj.weight"], sd["input_proj.bias"]))
    src = torch.cat(feats, dim=3)  # views concatenated along width, per-view positions
    pos = torch.cat(poss, dim=3)
    bs = src.shape[0]
    src = src.flatten(2).permute(2, 0, 1)
    pos = pos.flatten(2).permute(2, 0, 1).repeat(1, bs, 1)
    q = (_t(state) - lo_s) / (hi_s - lo_s) * 2 - 1
    latent = F.linear(torch.zeros(bs, 32), sd["latent_out_proj.weight"], sd["latent_out_proj.bias"])
    proprio = F.linear(q, sd["input_proj_robot_state.weight"], sd["input_proj_robot_state.bias"])
    src = torch.cat([torch.stack([latent, proprio], dim=0), src], dim=0)
    pos = torch.cat([sd["additional_pos_embed.weight"][:, None].repeat(1, bs, 1), pos], dim=0)
    n_dec = hp["num_decoder_layers"]
    hs = detr_transformer(src, pos, sd["query_embed.weight"], sd, "transformer.encoder.", "transformer.decoder.",
                          hp["num_encoder_layers"], n_dec, heads, pre_norm, pre_norm)
    hs = hs[-1] if decoder_output == "last" else hs[0]
    a = F.linear(hs, sd["action_head.weight"], sd["action_head.bias"])
    lo, hi = _t(ranges["action_min"]), _t(ranges["action_max"])
    return ((a + 1) / 2 * (hi - lo) + lo).numpy()
