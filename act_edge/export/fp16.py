"""fp32 ONNX -> mixed fp16 ONNX with an explicit, deterministic precision per node.

Every node runs in fp16 except the ops in `keep_ops` and nodes whose name starts with one of
`keep_node_prefixes` (the in-graph pre/post-processing); weights used only by fp16 nodes are stored
in fp16; a Cast is inserted wherever a float tensor crosses between the two; graph inputs and
outputs keep their types. A strongly typed TensorRT network built from the result runs exactly
this mix.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

DEFAULT_KEEP_OPS = frozenset({
    "LayerNormalization", "Softmax", "ReduceMean", "Pow", "Sqrt", "Reciprocal", "Exp", "Erf",
    "Range", "ConstantOfShape", "RandomNormal", "RandomUniform",
})
DEFAULT_KEEP_NODE_PREFIXES = ("/preprocess/", "/postprocess/")
# Inputs that the ONNX spec requires to be float32 whatever the data type (op -> input indices).
_FLOAT32_ONLY_INPUTS = {"Resize": {1, 2}}


def convert_to_fp16(model, keep_ops=DEFAULT_KEEP_OPS, keep_node_prefixes=DEFAULT_KEEP_NODE_PREFIXES):
    """Return a new ModelProto; `model` is not modified."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.output, *graph.value_info]}
    inits = {t.name: t for t in graph.initializer}
    for name, t in inits.items():
        types[name] = t.data_type

    def is_fp16_node(node) -> bool:
        return node.op_type not in keep_ops and not node.name.startswith(tuple(keep_node_prefixes))

    consumers = defaultdict(list)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name:
                consumers[name].append((node, i))

    def wants(node, i) -> int:
        if i in _FLOAT32_ONLY_INPUTS.get(node.op_type, ()):
            return F32
        return F16 if is_fp16_node(node) else F32

    # Float initializers: fp16 if every consumer wants fp16, else keep fp32 (+ an fp16 twin if some want it).
    current = {}  # tensor name -> element type it has in the new graph
    twins = {}
    new_inits = []
    for name, t in inits.items():
        if t.data_type != F32:
            new_inits.append(t)
            current[name] = t.data_type
            continue
        wanted = {wants(n, i) for n, i in consumers[name]}
        arr = numpy_helper.to_array(t)
        if wanted == {F16}:
            new_inits.append(numpy_helper.from_array(_to_fp16(arr, name), name))
            current[name] = F16
        else:
            new_inits.append(t)
            current[name] = F32
            if F16 in wanted:
                twins[name] = f"{name}__fp16"
                new_inits.append(numpy_helper.from_array(_to_fp16(arr, name), twins[name]))
    for v in graph.input:
        current[v.name] = types[v.name]

    nodes, casts = [], {}

    def cast(name: str, to: int) -> str:
        key = (name, to)
        if key not in casts:
            out = f"{name}__to_{'fp16' if to == F16 else 'fp32'}"
            nodes.append(helper.make_node("Cast", [name], [out], name=f"{out}/Cast", to=to))
            casts[key] = out
            current[out] = to
        return casts[key]

    for node in graph.node:
        fp16 = is_fp16_node(node)
        for i, name in enumerate(node.input):
            have = current.get(name)
            if not name or have not in (F32, F16):
                continue
            want = wants(node, i)
            if have != want:
                node.input[i] = twins[name] if (name in twins and want == F16) else cast(name, want)
        if node.op_type in ("Constant", "ConstantOfShape") and fp16:
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == F32:
                    attr.t.CopyFrom(numpy_helper.from_array(_to_fp16(numpy_helper.to_array(attr.t), node.name), attr.t.name))
        nodes.append(node)
        for out in node.output:
            t = types.get(out)
            if node.op_type == "Cast":
                current[out] = next(a.i for a in node.attribute if a.name == "to")
            elif t in (F32, F16) or (t is None and node.op_type == "Constant"):
                current[out] = F16 if fp16 else F32
            elif t is not None:
                current[out] = t

    # Graph outputs keep their declared types.
    for v in graph.output:
        declared = v.type.tensor_type.elem_type
        if current.get(v.name) != declared:
            inner = f"{v.name}__inner"
            for n in nodes:
                for i, name in enumerate(n.output):
                    if name == v.name:
                        n.output[i] = inner
                for i, name in enumerate(n.input):
                    if name == v.name:
                        n.input[i] = inner
            current[inner] = current[v.name]
            nodes.append(helper.make_node("Cast", [inner], [v.name], name=f"{v.name}/Cast", to=declared))

    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def _to_fp16(arr: np.ndarray, name: str) -> np.ndarray:
    """Round to fp16; values beyond fp16's range are an export error, not a silent inf."""
    finite_max = float(np.finfo(np.float16).max)
    peak = float(np.max(np.abs(arr))) if arr.size else 0.0
    if peak > finite_max:
        raise ValueError(f"tensor {name}: |value| {peak:.3g} exceeds the fp16 range ({finite_max:g})")
    return arr.astype(np.float16)
