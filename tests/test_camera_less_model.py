"""Zero-camera ActSpec (LeRobot's camera-less ACT): spec rules, graph I/O, and the torch inference graph
against an independent forward written here (numpy normalization + the DETR reference layers of
tests/reference_families.py on the canonical weights; nothing from act_edge.export.model)."""

import dataclasses

import numpy as np
import pytest

from act_edge.bundle import io_description
from act_edge.spec import ActSpec, CameraSpec, Normalization


def _norms(rng, state_dim, env_dim, action_dim):
    state = Normalization("mean_std", mean=rng.normal(size=state_dim), std=rng.uniform(0.5, 2, state_dim),
                          eps=1e-8) if state_dim else Normalization()
    env = Normalization("min_max", min=-rng.uniform(1, 2, env_dim), max=rng.uniform(1, 2, env_dim), eps=1e-8)
    action = Normalization("mean_std", mean=rng.normal(size=action_dim), std=rng.uniform(0.5, 2, action_dim))
    return dict(state_norm=state, env_state_norm=env, action_norm=action)


def camera_less_spec(state_dim=6, env_dim=10, action_dim=4, seed=0, **kw):
    rng = np.random.default_rng(seed)
    base = dict(cameras=(), state_dim=state_dim, env_state_dim=env_dim, action_dim=action_dim, chunk_size=7,
                d_model=32, n_heads=4, dim_feedforward=48, n_encoder_layers=2, **_norms(rng, state_dim, env_dim,
                                                                                         action_dim))
    base.update(kw)
    return ActSpec(**base)


# --- spec rules (no torch) -----------------------------------------------------------------------

@pytest.mark.parametrize("state_dim, tokens", [(6, 3), (0, 2)])
def test_camera_less_spec_has_only_vector_inputs_and_1d_tokens(state_dim, tokens):
    spec = camera_less_spec(state_dim=state_dim)
    assert spec.image_groups() == [] and spec.n_image_tokens == 0
    assert spec.n_1d_tokens == spec.n_tokens == tokens
    names = [e["name"] for e in io_description(spec)["inputs"]]
    assert names == (["state", "env_state"] if state_dim else ["env_state"])
    assert ActSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("kw, match", [
    (dict(env_state_dim=0, env_state_norm=Normalization()), "without cameras needs an env state"),
    (dict(state_dim=0, env_state_dim=0, env_state_norm=Normalization(), state_norm=Normalization(),
          cameras=(CameraSpec("top", 64, 64),)), "state_dim 0"),
])
def test_camera_less_spec_without_any_observation_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        camera_less_spec(**kw)
    with pytest.raises(ValueError, match="state_dim must be an integer in 0.."):
        dataclasses.replace(camera_less_spec(state_dim=0), state_dim=-1)


def test_d_model_not_multiple_of_4_is_fine_without_the_2d_sine_embedding():
    spec = camera_less_spec(d_model=30, n_heads=3)
    assert spec.d_model == 30
    with pytest.raises(ValueError, match="multiple of 4"):
        ActSpec(cameras=(CameraSpec("top", 64, 64),), state_dim=2, action_dim=2, chunk_size=3, d_model=30, n_heads=3)


# --- the torch graph against an independent forward ---------------------------------------------

def reference_forward(spec, sd, state, env_state):
    """Camera-less ACT at z = 0 from its definition: tokens [latent, state?, env], learned 1-D positions,
    DETR encoder/decoder (tests/reference_families.py), action head, un-normalize. Seq-first."""
    ref = pytest.importorskip("reference_families")
    torch = ref.torch
    F = torch.nn.functional

    def affine(x, norm):  # x_n = (x - mean) / (std + eps)  |  (x - min) / (max - min + eps) * 2 - 1
        x = np.asarray(x, np.float64)
        if norm.mode == "mean_std":
            return (x - np.array(norm.mean)) / (np.array(norm.std) + norm.eps)
        return (x - np.array(norm.min)) / (np.array(norm.max) - np.array(norm.min) + norm.eps) * 2 - 1

    bs = env_state.shape[0]
    tokens = [sd["latent_token"].expand(bs, -1)]
    if spec.state_dim:
        s = torch.tensor(affine(state, spec.state_norm), dtype=torch.float32)
        tokens.append(F.linear(s, sd["state_proj.weight"], sd["state_proj.bias"]))
    e = torch.tensor(affine(env_state, spec.env_state_norm), dtype=torch.float32)
    tokens.append(F.linear(e, sd["env_state_proj.weight"], sd["env_state_proj.bias"]))
    src = torch.stack(tokens, dim=0)  # (T, B, D)
    pos = sd["pos_1d"][:, None].expand(-1, bs, -1)
    with torch.no_grad():
        hs = ref.detr_transformer(src, pos, sd["query_pos"], sd, "encoder.", "decoder.", spec.n_encoder_layers,
                                  spec.n_decoder_layers, spec.n_heads, spec.pre_norm, spec.pre_norm)[-1]
        a = F.linear(hs, sd["action_head.weight"], sd["action_head.bias"]).double().numpy()
    return a * np.array(spec.action_norm.std) + np.array(spec.action_norm.mean)


def _vectors(spec, batch, seed):
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(batch, spec.state_dim)).astype(np.float32) * 2 if spec.state_dim else None
    env = rng.uniform(-1.5, 1.5, size=(batch, spec.env_state_dim)).astype(np.float32)
    return state, env


@pytest.mark.parametrize("state_dim, pre_norm", [(6, False), (0, False), (5, True)])
def test_camera_less_graph_matches_the_reference_forward(state_dim, pre_norm):
    torch = pytest.importorskip("torch")
    from act_edge.export.model import ActInferenceModel, canonical_shapes
    from act_edge.export.presets import random_weights

    spec = camera_less_spec(state_dim=state_dim, pre_norm=pre_norm, seed=state_dim)
    shapes = canonical_shapes(spec)
    assert not any(k.startswith(("backbone.", "img_proj.")) for k in shapes)
    assert ("state_proj.weight" in shapes) == bool(state_dim)
    assert shapes["pos_1d"] == (spec.n_1d_tokens, spec.d_model)
    sd = random_weights(spec, seed=3)
    model = ActInferenceModel(spec)
    model.load_state_dict(sd)
    model.eval()
    for batch in (1, 3):
        state, env = _vectors(spec, batch, seed=batch)
        x = {"env_state": torch.from_numpy(env)}
        if state is not None:
            x["state"] = torch.from_numpy(state)
        with torch.no_grad():
            got = model(**x).numpy()
        want = reference_forward(spec, sd, state, env)
        assert got.shape == (batch, spec.chunk_size, spec.action_dim)
        assert np.abs(want).max() > 0.1  # a live output, not a constant
        err = np.abs(got - want) / np.array(spec.action_norm.std)
        assert err.max() <= 5e-5, err.max()
