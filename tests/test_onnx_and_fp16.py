"""ONNX export parity and the fp16 conversion's precision placement and error, on real graphs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from act_edge.export.checkpoint import LoadedCheckpoint, default_runtime  # noqa: E402
from act_edge.export.fp16 import convert_to_fp16  # noqa: E402
from act_edge.export.model import ActInferenceModel  # noqa: E402
from act_edge.export.onnx_export import export_onnx  # noqa: E402
from act_edge.export.onnx_runner import run_onnx  # noqa: E402
from act_edge.export.pipeline import export_bundle  # noqa: E402
from act_edge.export.presets import random_weights  # noqa: E402
from act_edge.metrics import action_errors  # noqa: E402
from act_edge.spec import ActSpec, CameraSpec, Normalization  # noqa: E402
from act_edge.synthetic_inputs import random_inputs  # noqa: E402


def mixed_spec() -> ActSpec:
    """Two resolutions (two image inputs), env state, min-max actions, pre-norm, gelu."""
    rng = np.random.default_rng(5)
    return ActSpec(
        cameras=(CameraSpec("wide", 64, 96), CameraSpec("wrist", 32, 32), CameraSpec("side", 64, 96)),
        state_dim=4, env_state_dim=3, action_dim=3, chunk_size=6, d_model=32, n_heads=4, dim_feedforward=40,
        activation="gelu", n_encoder_layers=2, n_decoder_layers=2, pre_norm=True,
        state_norm=Normalization("mean_std", mean=rng.normal(size=4), std=rng.uniform(0.1, 1, 4), eps=1e-8),
        env_state_norm=Normalization("min_max", min=-rng.uniform(1, 2, 3), max=rng.uniform(1, 2, 3)),
        action_norm=Normalization("min_max", min=-rng.uniform(1, 2, 3), max=rng.uniform(1, 2, 3)), name="mixed")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    spec = mixed_spec()
    model = ActInferenceModel(spec)
    model.load_state_dict(random_weights(spec, seed=4))
    model.eval()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "mixed.onnx")
    return model, path


def test_onnx_io_names_types_and_dynamic_batch(mixed):
    _, path = mixed
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version >= 17
    ins = {v.name: v for v in proto.graph.input}
    assert list(ins) == ["images_64x96", "images_32x32", "state", "env_state"]
    assert ins["images_64x96"].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = ins["images_64x96"].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [2, 64, 96, 3]
    assert [o.name for o in proto.graph.output] == ["actions"]
    assert any(n.op_type == "LayerNormalization" for n in proto.graph.node)
    assert not any(n.op_type == "BatchNormalization" for n in proto.graph.node)  # folded into the convs


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_matches_torch_within_5e_5_normalized(mixed, batch):
    model, path = mixed
    inputs = random_inputs(model.spec, batch, seed=batch)
    with torch.no_grad():
        ref = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
    got = run_onnx(path, inputs)
    err = action_errors(model.spec, ref, got)
    assert got.shape == (batch, 6, 3)
    assert np.abs(ref).max() > 0.1  # a real, non-degenerate output
    assert err["max_abs_normalized"] <= 5e-5


def test_fp16_graph_keeps_the_precise_ops_in_fp32(mixed):
    _, path = mixed
    fp16 = convert_to_fp16(onnx.load(str(path)))
    types = {v.name: v.type.tensor_type.elem_type for v in [*fp16.graph.value_info, *fp16.graph.output, *fp16.graph.input]}
    for t in fp16.graph.initializer:
        types[t.name] = t.data_type
    F16, F32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    by_op = {}
    for node in fp16.graph.node:
        by_op.setdefault(node.op_type, set()).add(types.get(node.output[0]))
    assert by_op["LayerNormalization"] == {F32} and by_op["Softmax"] == {F32}
    assert by_op["Conv"] == {F16} and by_op["MatMul"] == {F16}
    conv_weights = [n.input[1] for n in fp16.graph.node if n.op_type == "Conv"]
    assert all(types[w] == F16 for w in conv_weights)  # weights stored in fp16, not cast at run time
    pre = [n for n in fp16.graph.node if n.name.startswith(("/preprocess/", "/postprocess/")) and n.op_type in ("Mul", "Add")]
    assert pre and all(types[n.output[0]] == F32 for n in pre)
    assert [types[v.name] for v in fp16.graph.input] == [onnx.TensorProto.UINT8, onnx.TensorProto.UINT8, F32, F32]
    assert types["actions"] == F32


def test_fp16_error_is_small_but_real(mixed, tmp_path):
    model, path = mixed
    out = tmp_path / "m16.onnx"
    onnx.save(convert_to_fp16(onnx.load(str(path))), str(out))
    inputs = random_inputs(model.spec, 3, seed=9)
    ref, got = run_onnx(path, inputs), run_onnx(out, inputs)
    err = action_errors(model.spec, ref, got)
    assert 0 < err["max_abs"]  # it really ran in fp16
    assert err["max_abs_pct_range"] < 1.0


def test_fp16_refuses_weights_beyond_fp16_range(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((2, 2), 1e6, dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w])
    with pytest.raises(ValueError, match="tensor w: .* exceeds the fp16 range"):
        convert_to_fp16(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_parity_failure_is_an_error_and_leaves_no_bundle(tmp_path):
    from act_edge.errors import ParityError

    spec = mixed_spec()
    ckpt = LoadedCheckpoint(spec, random_weights(spec, 1), default_runtime(spec), {"format": "test", "path": "mem"})
    dest = tmp_path / "x.actedge"
    with pytest.raises(ParityError, match="normalized action units at batch 1"):
        export_bundle(ckpt, dest, tolerance=1e-12)
    assert list(tmp_path.iterdir()) == []
