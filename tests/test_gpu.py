"""CUDA paths (marker `gpu`): the torch backend on a GPU against onnxruntime-CPU fp32, no host
allocation per step, and the ResNet trunk against torchvision on the GPU.

Every test here is collected everywhere and skipped with "no CUDA device" where torch is absent or
torch.cuda.is_available() is False. `tools/gpu_check.sh` runs them (`pytest -m gpu`) on a GPU machine.
Tolerances are the ones `act-edge build-engine` refuses engines at: max |error| 0.1 % of an action
dimension's range for fp32, 2 % for fp16. (torch's default lets cuDNN run fp32 convolutions in TF32,
whose 10-bit mantissa is fp16's: should fp32 fail here, that is the cause to look at first.)
"""

from __future__ import annotations

import importlib.util
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bundles import random_obs


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:  # never import torch where it is not installed
        return False
    import torch

    return bool(torch.cuda.is_available())


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _cuda_available(), reason="no CUDA device")]

MAX_ERROR_PCT = {"fp32": 0.1, "fp16": 2.0}  # act_edge.trt.verify.DEFAULT_MAX_ERROR_PCT


@pytest.fixture(scope="module")
def gpu_bundle(tmp_path_factory) -> Path:
    """The `tiny` preset (2 cameras 64x96, ResNet18, chunk 10) exported with max batch 4: a real
    ActInferenceModel for the torch backend and its ONNX for onnxruntime."""
    pytest.importorskip("onnx", reason="onnx not installed (needed to export the test bundle)")
    pytest.importorskip("onnxruntime")
    from act_edge.export.checkpoint import load_checkpoint
    from act_edge.export.formats import native
    from act_edge.export.pipeline import export_bundle
    from act_edge.export.presets import random_checkpoint

    root = tmp_path_factory.mktemp("gpu")
    ckpt = root / "tiny.pt"
    native.save(ckpt, *random_checkpoint("tiny", seed=11))
    return export_bundle(load_checkpoint(ckpt), root / "tiny.actedge", fp16=True, max_batch=4)


def pct_error(bundle_dir: Path, got: np.ndarray, ref: np.ndarray) -> dict:
    """max |error| in % of each action dimension's range as the manifest's fp16_error defines it (6 std /
    max - min), as `act-edge doctor` judges it. (The tiny preset's onnxruntime-CPU fp16 graph: ~0.03 %.)"""
    from act_edge.bundle import load_bundle
    from act_edge.metrics import action_errors

    return action_errors(load_bundle(bundle_dir).spec, ref, got)


@pytest.mark.parametrize("cuda_graph", [False, True], ids=["eager", "cuda-graph"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_torch_cuda_matches_onnxruntime_cpu_fp32(gpu_bundle: Path, precision: str, cuda_graph: bool) -> None:
    from act_edge import Policy

    ref = Policy.load(gpu_bundle, backend="onnxruntime", device="cpu", precision="fp32", max_batch=4)
    pol = Policy.load(gpu_bundle, backend="torch", device="cuda:0", precision=precision, max_batch=4,
                      cuda_graph=cuda_graph)
    assert (pol.backend.name, pol.backend.device, pol.backend.precision) == ("torch", "cuda:0", precision)
    rng = np.random.default_rng(7)
    spec = pol.bundle.spec
    for batch in range(1, 5):
        for _ in range(2):  # the second call of a batch size replays its captured graph
            obs = random_obs(spec, rng, batch=batch)
            want = ref.predict_chunk(obs, batched=True)
            got = pol.predict_chunk(obs, batched=True)
            assert got.shape == want.shape == (batch, spec.chunk_size, spec.action_dim)
            err = pct_error(gpu_bundle, got, want)
            assert err["finite"] and err["max_abs_pct_range"] <= MAX_ERROR_PCT[precision], (batch, err)
    assert not np.allclose(got[0], got[3])  # rows differ: each row ran its own observation
    if cuda_graph:
        assert sorted(pol.backend._graphs) == [1, 2, 3, 4]
    pol.close()
    ref.close()


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_1000_steps_allocate_nothing_on_the_host(gpu_bundle: Path, precision: str) -> None:
    from act_edge import Policy

    pol = Policy.load(gpu_bundle, backend="torch", device="cuda:0", precision=precision, cuda_graph=True)
    rng = np.random.default_rng(3)
    obs = [random_obs(pol.bundle.spec, rng) for _ in range(3)]
    actions = np.empty((1000, pol.bundle.spec.action_dim))
    tracemalloc.start()
    try:
        for i in range(1000):  # warm-up under tracing: one-time allocations land here
            pol.step(obs[i % 3])
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(1000):
            actions[i] = pol.step(obs[i % 3])
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pol.close()
    assert np.isfinite(actions).all() and actions.std(axis=0).min() > 0  # real, changing actions
    assert peak - base < 4096, (base, peak)
    assert cur - base < 2048, (base, cur)


@pytest.mark.parametrize("name, dilation", [("resnet18", False), ("resnet50", True)])
def test_resnet_trunk_matches_torchvision_on_cuda(name: str, dilation: bool) -> None:
    import torch

    tv = pytest.importorskip("torchvision")
    from act_edge.export.resnet import ResNetTrunk
    from test_resnet import _randomize_bn

    ref = getattr(tv.models, name)(replace_stride_with_dilation=[False, False, dilation]).eval()
    _randomize_bn(ref, seed=5)
    ours = ResNetTrunk(name, dilation=dilation).eval()
    ours.load_state_dict({k: v for k, v in ref.state_dict().items()
                          if not k.startswith("fc.") and not k.endswith("num_batches_tracked")})
    body = torch.nn.Sequential(*list(ref.children())[:-2])
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 here
    try:
        with torch.no_grad():
            got = ours.cuda()(x.cuda()).cpu()
            want = body.cuda()(x.cuda()).cpu()
            cpu = ours.cpu()(x)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    scale = want.abs().max().item()
    assert scale > 0 and torch.allclose(got, want, atol=1e-5 * scale, rtol=0)
    assert torch.allclose(got, cpu, atol=1e-4 * scale, rtol=0)  # GPU and CPU kernels agree too
