"""A real (small) bundle for engine tests: hand-built ONNX graphs with the ACT bundle's I/O contract.

actions = reshape(state @ W + 0.01 * mean(images), (B, chunk, A)); model.fp16.onnx does the matmul
in fp16 with fp32 I/O, as the exporter's fp16 graph does. Small enough for any TensorRT to build
in seconds, and runnable by onnxruntime as the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_edge.bundle import ONNX_FP16, ONNX_FP32, PARITY_INPUTS, artifact_entry, io_description, write_bundle_atomic
from act_edge.spec import ActSpec, CameraSpec, Normalization

H = W = 32
STATE, ACTION, CHUNK = 3, 2, 4


def tiny_spec() -> ActSpec:
    return ActSpec(
        cameras=(CameraSpec("top", H, W),), state_dim=STATE, action_dim=ACTION, chunk_size=CHUNK,
        d_model=16, n_heads=2, dim_feedforward=32, name="tiny",
        action_norm=Normalization("min_max", min=(-5.0, -4.0), max=(5.0, 6.0)),  # spans the outputs
    )


def weights() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((STATE, CHUNK * ACTION)).astype(np.float32)


def reference(images: np.ndarray, state: np.ndarray) -> np.ndarray:
    img = images.astype(np.float32).reshape(images.shape[0], -1).mean(axis=1, keepdims=True)
    return (state @ weights() + 0.01 * img).reshape(-1, CHUNK, ACTION).astype(np.float32)


def _onnx_model(fp16: bool) -> bytes:
    onnx = pytest.importorskip("onnx", reason="onnx builds the test bundle's graph (a runtime-only install has none)")
    from onnx import TensorProto, helper, numpy_helper

    w = weights()
    nodes = [
        helper.make_node("Cast", ["images"], ["img_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["img_f"], ["img_mean"], axes=[1, 2, 3, 4], keepdims=0),
        helper.make_node("Reshape", ["img_mean", "col"], ["img_col"]),
        helper.make_node("Mul", ["img_col", "scale"], ["img_term"]),
    ]
    inits = [numpy_helper.from_array(np.array([-1, 1], np.int64), "col"),
             numpy_helper.from_array(np.array(0.01, np.float32), "scale"),
             numpy_helper.from_array(np.array([-1, CHUNK, ACTION], np.int64), "out_shape")]
    if fp16:
        nodes += [helper.make_node("Cast", ["state"], ["state_h"], to=TensorProto.FLOAT16),
                  helper.make_node("MatMul", ["state_h", "w"], ["mm_h"]),
                  helper.make_node("Cast", ["mm_h"], ["mm"], to=TensorProto.FLOAT)]
        inits.append(numpy_helper.from_array(w.astype(np.float16), "w"))
    else:
        nodes.append(helper.make_node("MatMul", ["state", "w"], ["mm"]))
        inits.append(numpy_helper.from_array(w, "w"))
    nodes += [helper.make_node("Add", ["mm", "img_term"], ["flat"]),
              helper.make_node("Reshape", ["flat", "out_shape"], ["actions"])]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("images", TensorProto.UINT8, ["batch", 1, H, W, 3]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, ["batch", STATE])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", CHUNK, ACTION])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_bundle(dest: Path, max_batch: int = 4) -> Path:
    spec = tiny_spec()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (1, 1, H, W, 3), dtype=np.uint8)
    state = rng.standard_normal((1, STATE)).astype(np.float32)

    def build(tmp: Path) -> dict:
        (tmp / "model.onnx").write_bytes(_onnx_model(fp16=False))
        (tmp / "model.fp16.onnx").write_bytes(_onnx_model(fp16=True))
        np.savez(tmp / "parity.npz", images=images, state=state, actions=reference(images, state))
        return {
            "name": "tiny", "spec": spec.to_dict(), "io": io_description(spec), "max_batch": max_batch,
            "artifacts": {
                ONNX_FP32: artifact_entry(tmp, "model.onnx", precision="fp32"),
                ONNX_FP16: artifact_entry(tmp, "model.fp16.onnx", precision="fp16"),
                PARITY_INPUTS: artifact_entry(tmp, "parity.npz"),
            },
            "engines": [],
        }

    return write_bundle_atomic(dest, build)
