"""torch backend. Its plumbing (checkpoint sha256, shared host buffers, batching) is tested against a
stand-in for act_edge.export (same API: load_checkpoint(path) -> .spec/.state_dict, ActInferenceModel(spec)
with the ONNX graph's named inputs); the real exporter's model is used when it is importable."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from act_edge import BundleError, Policy
from act_edge.bundle import MANIFEST, sha256_file
from bundles import SyntheticBundle, build_synthetic_bundle, random_obs, stacked_images, synthetic_spec

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


def _fake_export(b: SyntheticBundle) -> dict[str, types.ModuleType]:
    """Modules act_edge.export{,.checkpoint,.model} whose model computes the synthetic bundle's function."""

    class ActInferenceModel(torch.nn.Module):
        def __init__(self, spec):
            super().__init__()
            self.spec = spec
            self.C = torch.nn.Parameter(torch.zeros(spec.chunk_size, spec.action_dim))
            self.D = torch.nn.Parameter(torch.zeros(spec.chunk_size, spec.action_dim))
            self.E = torch.nn.Parameter(torch.zeros(spec.chunk_size, spec.action_dim))

        def forward(self, images, state, env_state=None):
            idx = torch.arange(self.spec.action_dim) % self.spec.state_dim
            out = state[:, idx][:, None, :] * self.C + images.float().mean(dim=(1, 2, 3, 4))[:, None, None] * self.D
            if env_state is not None:
                out = out + env_state.sum(dim=1)[:, None, None] * self.E
            return out

    def load_checkpoint(path, format=None):
        data = np.load(path)
        return types.SimpleNamespace(spec=b.spec, state_dict={k: torch.from_numpy(data[k]) for k in "CDE"})

    pkg = types.ModuleType("act_edge.export")
    ckpt = types.ModuleType("act_edge.export.checkpoint")
    ckpt.load_checkpoint = load_checkpoint
    model = types.ModuleType("act_edge.export.model")
    model.ActInferenceModel = model.build_inference_model = ActInferenceModel
    return {"act_edge.export": pkg, "act_edge.export.checkpoint": ckpt, "act_edge.export.model": model}


@pytest.fixture
def fake_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SyntheticBundle:
    b = build_synthetic_bundle(tmp_path / "t.actedge", synthetic_spec(env_state_dim=2), fp16=False)
    ckpt = tmp_path / "weights.npz"
    np.savez(ckpt, C=b.C, D=b.D, E=b.E)

    def add_source(mf: dict) -> None:
        mf["source"] = {"path": str(ckpt), "format": "test", "files": {ckpt.name: sha256_file(ckpt)}}

    mf = json.loads((b.path / MANIFEST).read_text())
    add_source(mf)
    (b.path / MANIFEST).write_text(json.dumps(mf))
    for name, mod in _fake_export(b).items():
        monkeypatch.setitem(sys.modules, name, mod)
    return b


def test_torch_backend_matches_reference_and_onnxruntime(fake_bundle: SyntheticBundle) -> None:
    b = fake_bundle
    rng = np.random.default_rng(0)
    pt = Policy.load(b.path, backend="torch", max_batch=3)
    ort = Policy.load(b.path, backend="onnxruntime", max_batch=3)
    assert pt.backend.name == "torch" and pt.backend.device == "cpu"
    obs = random_obs(b.spec, rng, batch=3)
    want = b.expected(stacked_images(b.spec, obs, batched=True), obs["state"], obs["env_state"])
    got = pt.predict_chunk(obs, batched=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, ort.predict_chunk(obs, batched=True), rtol=1e-5, atol=1e-5)
    one = random_obs(b.spec, rng)
    for _ in range(4):
        np.testing.assert_allclose(pt.step(one), ort.step(one), rtol=1e-5, atol=1e-5)


def test_torch_backend_refuses_a_different_checkpoint(fake_bundle: SyntheticBundle, tmp_path: Path) -> None:
    mf = json.loads((fake_bundle.path / MANIFEST).read_text())
    Path(mf["source"]["path"]).write_bytes(b"not the checkpoint")
    with pytest.raises(BundleError, match="source hash"):
        Policy.load(fake_bundle.path, backend="torch")


def test_torch_backend_fp16_needs_cuda(fake_bundle: SyntheticBundle) -> None:
    with pytest.raises(ValueError, match="fp16 runs on CUDA only"):
        Policy.load(fake_bundle.path, backend="torch", precision="fp16")


def test_real_exporter_model_has_the_api_the_backend_uses() -> None:
    """The contract TorchBackend relies on: ActInferenceModel(spec), load_state_dict, forward(**named inputs)
    -> float32 (B, chunk, A)."""
    from act_edge.bundle import io_description
    from act_edge.export.model import ActInferenceModel

    spec = synthetic_spec(chunk=5, dof=4, cams=(("top", 64, 64),))
    model = ActInferenceModel(spec).eval()
    model.load_state_dict(model.state_dict())
    rng = np.random.default_rng(0)
    kwargs = {}
    for entry in io_description(spec)["inputs"]:
        shape = [2 if d == "batch" else d for d in entry["shape"]]
        arr = rng.integers(0, 256, shape, dtype=np.uint8) if entry["dtype"] == "uint8" else \
            rng.normal(size=shape).astype(np.float32)
        kwargs[entry["name"]] = torch.from_numpy(arr)
    with torch.inference_mode():
        out = model(**kwargs)
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, 5, 4)
