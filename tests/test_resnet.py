import pytest

torch = pytest.importorskip("torch")

from act_edge.export.presets import random_weights  # noqa: E402
from act_edge.export.resnet import ResNetTrunk, fold_batchnorm  # noqa: E402


def _randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for name, t in model.state_dict().items():
        if "running_var" in name:
            t.copy_(torch.rand(t.shape, generator=g) + 0.5)
        elif "running_mean" in name or (name.endswith(("weight", "bias")) and t.ndim == 1):
            t.copy_(torch.randn(t.shape, generator=g) * 0.2 + (1.0 if name.endswith("weight") else 0.0))


@pytest.mark.parametrize("name, dilation, cin", [("resnet18", False, 3), ("resnet34", False, 4), ("resnet50", True, 3)])
def test_folded_batchnorm_matches_frozen_batchnorm(name, dilation, cin):
    torch.manual_seed(0)
    trunk = ResNetTrunk(name, cin, dilation).eval()
    _randomize_bn(trunk)
    x = torch.randn(2, cin, 64, 96)
    n_bn = sum(1 for m in trunk.modules() if type(m).__name__ == "FrozenBatchNorm2d")
    with torch.no_grad():
        ref = trunk(x)
        n = fold_batchnorm(trunk)
        got = trunk(x)
    assert n == n_bn and not any(type(m).__name__ == "FrozenBatchNorm2d" for m in trunk.modules())
    assert ref.shape == (2, 2048 if name == "resnet50" else 512, 4 if dilation else 2, 6 if dilation else 3)
    assert torch.allclose(ref, got, atol=1e-4 * ref.abs().max().item())


def test_parameter_names_match_torchvision():
    tv = pytest.importorskip("torchvision", reason="torchvision not importable (CUDA-linked wheel on a CPU torch)")
    ours = ResNetTrunk("resnet18").state_dict()
    theirs = {k: v for k, v in tv.models.resnet18().state_dict().items()
              if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_outputs_match_torchvision_when_available():
    tv = pytest.importorskip("torchvision", reason="torchvision not importable (CUDA-linked wheel on a CPU torch)")
    ref = tv.models.resnet50(replace_stride_with_dilation=[False, False, True]).eval()
    _randomize_bn(ref)
    ours = ResNetTrunk("resnet50", dilation=True).eval()
    ours.load_state_dict({k: v for k, v in ref.state_dict().items()
                          if not k.startswith("fc.") and not k.endswith("num_batches_tracked")})
    x = torch.randn(1, 3, 64, 64)
    body = torch.nn.Sequential(*list(ref.children())[:-2])
    with torch.no_grad():
        assert torch.allclose(ours(x), body(x), atol=1e-5)


def test_preset_weights_use_torchvision_names_under_backbone():
    from act_edge.export.presets import preset_spec

    sd = random_weights(preset_spec("tiny"), seed=1)
    assert "backbone.layer4.1.bn2.running_var" in sd and "backbone.layer2.0.downsample.0.weight" in sd
