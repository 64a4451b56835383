"""The torch inference graph against independent computations (torch.nn reference layers, numpy)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from act_edge.export.model import ActInferenceModel  # noqa: E402
from act_edge.export.positional import sine_embedding_2d  # noqa: E402
from act_edge.export.presets import preset_spec, random_weights  # noqa: E402
from act_edge.export.transformer import Attention, DecoderLayer, EncoderLayer  # noqa: E402
from act_edge.spec import ActSpec, CameraSpec, Normalization  # noqa: E402


def _model(spec, seed=0):
    m = ActInferenceModel(spec)
    m.load_state_dict(random_weights(spec, seed))
    return m.eval()


def test_batched_backbone_equals_per_camera_backbone():
    model = _model(preset_spec("tiny"), seed=1)
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(3 * 2, 3, 64, 96, generator=g) * 4 - 2  # (B*N, C, H, W), B=3, N=2
    with torch.no_grad():
        batched = model.backbone(frames)
        single = torch.cat([model.backbone(frames[i:i + 1]) for i in range(frames.shape[0])])
    assert batched.abs().max() > 0.1
    assert (batched - single).abs().max().item() <= 1e-5


def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    ours, ref = Attention(32, 4), torch.nn.MultiheadAttention(32, 4, batch_first=True)
    ref.load_state_dict(ours.state_dict())
    q, k = torch.randn(3, 7, 32), torch.randn(3, 11, 32)
    with torch.no_grad():
        assert torch.allclose(ours(q, k, k), ref(q, k, k, need_weights=False)[0], atol=1e-6)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_encoder_and_decoder_layers_match_detr_semantics(pre_norm):
    """DETR layers = torch's TransformerEncoder/DecoderLayer with the pos embedding added to q and k."""
    torch.manual_seed(1)
    d, h, ff = 32, 4, 48
    src, pos = torch.randn(2, 9, d), torch.randn(1, 9, d)
    enc = EncoderLayer(d, h, ff, "relu", pre_norm).eval()
    for p in enc.parameters():
        p.data.normal_(0, 0.3)
    ref = torch.nn.TransformerEncoderLayer(d, h, ff, dropout=0.0, batch_first=True, norm_first=pre_norm).eval()
    ref.load_state_dict(enc.state_dict(), strict=False)
    # torch's layer has no separate pos: emulate DETR's q = k = src + pos, v = src by hand.
    with torch.no_grad():
        x = ref.norm1(src) if pre_norm else src
        sa = ref.self_attn(x + pos, x + pos, x, need_weights=False)[0]
        if pre_norm:
            y = src + sa
            y = y + ref.linear2(torch.relu(ref.linear1(ref.norm2(y))))
        else:
            y = ref.norm1(src + sa)
            y = ref.norm2(y + ref.linear2(torch.relu(ref.linear1(y))))
        assert torch.allclose(enc(src, pos), y, atol=1e-5)

    dec = DecoderLayer(d, h, ff, "relu", pre_norm).eval()
    for p in dec.parameters():
        p.data.normal_(0, 0.3)
    mha_sa = torch.nn.MultiheadAttention(d, h, batch_first=True)
    mha_ca = torch.nn.MultiheadAttention(d, h, batch_first=True)
    mha_sa.load_state_dict(dec.self_attn.state_dict())
    mha_ca.load_state_dict(dec.multihead_attn.state_dict())
    tgt, qpos = torch.randn(2, 5, d), torch.randn(1, 5, d)
    with torch.no_grad():
        n1, n2, n3 = dec.norm1, dec.norm2, dec.norm3
        ffn = lambda t: dec.linear2(torch.relu(dec.linear1(t)))  # noqa: E731
        if pre_norm:
            t = tgt + mha_sa(n1(tgt) + qpos, n1(tgt) + qpos, n1(tgt), need_weights=False)[0]
            t = t + mha_ca(n2(t) + qpos, src + pos, src, need_weights=False)[0]
            t = t + ffn(n3(t))
        else:
            t = n1(tgt + mha_sa(tgt + qpos, tgt + qpos, tgt, need_weights=False)[0])
            t = n2(t + mha_ca(t + qpos, src + pos, src, need_weights=False)[0])
            t = n3(t + ffn(t))
        assert torch.allclose(dec(tgt, src, qpos, pos), t, atol=1e-5)


def test_sine_embedding_matches_the_detr_formula_elementwise():
    d, h, w = 16, 3, 5
    got = sine_embedding_2d(d, h, w).numpy()
    half = d // 2
    for c in range(d):
        axis, k = divmod(c, half)  # y part first, then x
        pair = k // 2
        for i in range(h):
            for j in range(w):
                p = (i + 1) / (h + 1e-6) * 2 * math.pi if axis == 0 else (j + 1) / (w + 1e-6) * 2 * math.pi
                v = p / 10000 ** (2 * pair / half)
                want = math.sin(v) if k % 2 == 0 else math.cos(v)
                assert abs(got[c, i, j] - want) < 1e-6


def test_in_graph_preprocessing_matches_numpy():
    spec = ActSpec(cameras=(CameraSpec("a", 64, 64, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.2)),
                            CameraSpec("b", 64, 64)), state_dim=3, action_dim=2, chunk_size=4, d_model=16,
                   n_heads=2, dim_feedforward=16, n_encoder_layers=1,
                   state_norm=Normalization("mean_std", mean=[1, 2, 3], std=[0.1, 0.2, 0.3]),
                   action_norm=Normalization("min_max", min=[-2, 0], max=[2, 1]))
    model = _model(spec)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (2, 2, 64, 64, 3), dtype=np.uint8)
    state = rng.normal(size=(2, 3)).astype(np.float32)
    with torch.no_grad():
        frames, st, _ = model.preprocess({"images": torch.from_numpy(imgs), "state": torch.from_numpy(state)})
    mean = np.array([spec.cameras[0].mean, spec.cameras[1].mean])[None, :, :, None, None]
    std = np.array([spec.cameras[0].std, spec.cameras[1].std])[None, :, :, None, None]
    want = ((imgs.transpose(0, 1, 4, 2, 3) / 255.0 - mean) / std).reshape(4, 3, 64, 64)
    np.testing.assert_allclose(frames[0].numpy(), want, atol=2e-6)
    np.testing.assert_allclose(st.numpy(), (state - [1, 2, 3]) / np.array([0.1, 0.2, 0.3]), rtol=1e-5, atol=1e-5)
    # Output is un-normalized from min-max space: the head's range [-1, 1] maps onto [min, max].
    head = torch.tensor([[[-1.0, 1.0]]])
    np.testing.assert_allclose(model.postprocess(head).numpy(), [[[-2.0, 1.0]]], atol=1e-6)


def test_camera_order_only_permutes_tokens():
    """Attention is order-free and every token carries its position: swapping cameras changes < 1e-5."""
    spec = preset_spec("tiny")
    model = _model(spec, seed=2)
    rng = np.random.default_rng(1)
    imgs = torch.from_numpy(rng.integers(0, 256, (1, 2, 64, 96, 3), dtype=np.uint8))
    state = torch.from_numpy(rng.normal(size=(1, 5)).astype(np.float32))
    with torch.no_grad():
        a = model(imgs, state)
        b = model(imgs.flip(1), state)
    assert (a - b).abs().max() < 1e-5 and a.abs().max() > 0.1


def test_only_used_decoder_layers_are_built():
    spec = preset_spec("aloha-sim")
    from act_edge.export.model import canonical_shapes

    shapes = canonical_shapes(spec)
    assert any(k.startswith("decoder.layers.0.") for k in shapes)
    assert not any(k.startswith("decoder.layers.1.") for k in shapes)
    assert "encoder.norm.weight" not in shapes  # post-norm: no final encoder norm
    assert "encoder.norm.weight" in canonical_shapes(preset_spec("so100"))  # pre-norm has one
