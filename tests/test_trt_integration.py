"""Real TensorRT: build the tiny bundle's engines, run them through the backend, compare with onnxruntime.

Runs wherever `tensorrt` and `pycuda` import and a CUDA GPU is present (a Jetson, a CUDA box);
elsewhere every test here is skipped with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from act_edge import load_bundle
from act_edge.errors import BackendUnavailable


def _skip_reason() -> str | None:
    try:
        import tensorrt  # noqa: F401
    except Exception as exc:
        return f"tensorrt not importable ({type(exc).__name__})"
    try:
        import pycuda.driver as cuda
    except Exception as exc:
        return f"pycuda not importable ({type(exc).__name__})"
    try:
        cuda.init()
        if cuda.Device.count() < 1:
            return "no CUDA GPU"
    except Exception as exc:
        return f"no CUDA GPU ({type(exc).__name__})"
    return None


REASON = _skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture()
def bundle(minimal_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return minimal_bundle  # max batch 4


def _inputs(batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"images": rng.integers(0, 256, (batch, 1, 32, 32, 3), dtype=np.uint8),
            "state": rng.standard_normal((batch, 3)).astype(np.float32)}


def _ort(bundle_path, inputs):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    sess = ort.InferenceSession(str(bundle_path / "model.onnx"), providers=["CPUExecutionProvider"])
    return sess.run(["actions"], inputs)[0]


@pytest.mark.parametrize("precision, typing, atol", [("fp32", "strong", 1e-4), ("fp16", "strong", 2e-2)])
def test_build_register_and_run_matches_onnxruntime(bundle, minimal_synthetic, precision, typing, atol):
    from act_edge.backends.tensorrt import TensorRTBackend
    from act_edge.trt.build import BuildOptions
    from act_edge.engine_registry import build_engine

    log: list[str] = []
    entry = build_engine(bundle, BuildOptions(precision, typing, max_batch=4), log.append)
    assert (bundle / entry["path"]).is_file()
    assert entry["verify"]["max_abs_pct_range"] <= entry["verify"]["threshold_pct_range"]
    assert any(line.startswith("timing cache: new") for line in log)
    b = load_bundle(bundle)
    assert [e["path"] for e in b.engines] == [entry["path"]]
    with TensorRTBackend(b, max_batch=4, precision=precision) as backend:
        for batch in (1, 3, 4, 1):  # shape changes between calls
            x = _inputs(batch, seed=batch)
            for name, v in x.items():
                backend.input_buffer(name)[:batch] = v
            backend.upload(batch)
            backend.execute(batch)
            got = backend.download(batch)
            np.testing.assert_allclose(got, _ort(bundle, x), atol=atol, rtol=0)
            np.testing.assert_allclose(got, minimal_synthetic.expected(x["images"], x["state"]), atol=atol, rtol=0)


def test_timing_cache_is_reused(bundle):
    from act_edge.trt.build import BuildOptions
    from act_edge.engine_registry import build_engine

    first, second = [], []
    build_engine(bundle, BuildOptions("fp32", max_batch=2), first.append)
    build_engine(bundle, BuildOptions("fp32", max_batch=2), second.append)
    assert any(line.startswith("timing cache: loaded") for line in second)
    assert len(load_bundle(bundle).engines) == 1  # same key: replaced, not duplicated


def test_threshold_refuses_and_does_not_register(bundle):
    from act_edge.errors import ParityError
    from act_edge.trt.build import BuildOptions
    from act_edge.engine_registry import build_engine

    with pytest.raises(ParityError, match="engine not registered"):
        build_engine(bundle, BuildOptions("fp16", max_batch=1), lambda s: None, max_error_pct=0.0)
    assert load_bundle(bundle).engines == []


def test_cuda_graph_replay_matches_plain_execution(bundle):
    pytest.importorskip("cuda", reason="cuda-python not installed")
    from act_edge.backends.tensorrt import TensorRTBackend
    from act_edge.trt.build import BuildOptions
    from act_edge.engine_registry import build_engine

    build_engine(bundle, BuildOptions("fp32", max_batch=2), lambda s: None)
    b = load_bundle(bundle)
    outs = []
    for graph in (False, True):
        with TensorRTBackend(b, max_batch=2, precision="fp32", cuda_graph=graph) as backend:
            for step in range(3):  # capture on the first call, replay after
                x = _inputs(2, seed=step)
                for name, v in x.items():
                    backend.input_buffer(name)[:2] = v
                backend.upload(2)
                backend.execute(2)
                outs.append(backend.download(2).copy())
    for plain, replay in zip(outs[:3], outs[3:]):
        np.testing.assert_array_equal(plain, replay)


def test_engine_from_another_machine_is_refused_in_one_line(bundle):
    from act_edge.backends.tensorrt import TensorRTBackend
    from act_edge.bundle import update_manifest
    from act_edge.trt.build import BuildOptions
    from act_edge.engine_registry import build_engine

    build_engine(bundle, BuildOptions("fp32", max_batch=1), lambda s: None)

    def pretend_other_version(m):
        m["engines"][0]["key"]["trt_version"] = "9.9.9"

    update_manifest(bundle, pretend_other_version)
    with pytest.raises(BackendUnavailable) as exc:
        TensorRTBackend(load_bundle(bundle), max_batch=1, precision="fp32")
    assert "\n" not in str(exc.value) and "engine built with 9.9.9" in str(exc.value)
    assert "act-edge build-engine" in str(exc.value)
