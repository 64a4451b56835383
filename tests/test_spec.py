import json

import numpy as np
import pytest

from act_edge.spec import ActSpec, CameraSpec, Normalization


def _spec(**kw):
    base = dict(cameras=(CameraSpec("a", 480, 640), CameraSpec("b", 240, 320), CameraSpec("c", 480, 640)),
                state_dim=6, action_dim=5, chunk_size=20, env_state_dim=3,
                state_norm=Normalization("mean_std", mean=np.arange(6.0), std=np.full(6, 0.5), eps=1e-8),
                action_norm=Normalization("min_max", min=-np.arange(1.0, 6.0), max=np.arange(1.0, 6.0)))
    base.update(kw)
    return ActSpec(**base)


def test_json_round_trip_is_exact():
    spec = _spec()
    again = ActSpec.from_json(json.dumps(json.loads(spec.to_json())))
    assert again == spec


def test_image_groups_batch_cameras_per_resolution_in_first_appearance_order():
    groups = _spec().image_groups()
    assert [(g.input_name, g.camera_indices) for g in groups] == [("images_480x640", (0, 2)), ("images_240x320", (1,))]
    single = _spec(cameras=(CameraSpec("a", 480, 640),)).image_groups()
    assert [g.input_name for g in single] == ["images"]


def test_token_counts_follow_stride_32_and_16():
    spec = _spec()
    assert spec.feature_size(spec.cameras[0]) == (15, 20)
    assert spec.feature_size(spec.cameras[1]) == (8, 10)
    assert spec.n_tokens == 3 + 2 * 300 + 80
    dil = _spec(backbone="resnet50", dilation=True)
    assert dil.feature_size(dil.cameras[0]) == (30, 40)


@pytest.mark.parametrize("kw, match", [
    (dict(backbone="resnet18", dilation=True), "BasicBlock"),
    (dict(d_model=100, n_heads=8), "divisible"),
    (dict(backbone="vgg"), "backbone"),
    (dict(activation="swish"), "activation"),
    (dict(state_dim=7), "state_norm has 6 values"),
    (dict(cameras=(CameraSpec("a", 4, 4), CameraSpec("a", 4, 4))), "unique"),
])
def test_invalid_specs_are_refused_with_the_reason(kw, match):
    with pytest.raises(ValueError, match=match):
        _spec(**kw)


def test_normalization_affine_matches_the_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))
    ms = Normalization("mean_std", mean=[1, 2, 3], std=[0.5, 1, 2], eps=1e-8)
    scale, shift = ms.affine()
    np.testing.assert_allclose(x * scale + shift, (x - [1, 2, 3]) / (np.array([0.5, 1, 2]) + 1e-8))
    mm = Normalization("min_max", min=[-1, 0, 2], max=[1, 4, 3], eps=1e-8)
    scale, shift = mm.affine()
    expect = (x - [-1, 0, 2]) / (np.array([2, 4, 1]) + 1e-8) * 2 - 1
    np.testing.assert_allclose(x * scale + shift, expect)
    iscale, ishift = mm.inverse_affine()
    np.testing.assert_allclose(expect * iscale + ishift, x, atol=1e-7)
    with pytest.raises(ValueError, match="needs 'std'"):
        Normalization("mean_std", mean=[0.0])
