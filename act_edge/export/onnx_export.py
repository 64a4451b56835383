"""torch -> ONNX: BN folded, constants folded, stable I/O names, dynamic batch, checked."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch

from ..bundle import io_description
from .model import ActInferenceModel
from .opset import MAX_OPSET, MIN_OPSET
from .resnet import fold_batchnorm


def example_inputs(model: ActInferenceModel, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the graph's signature (shapes only matter for tracing)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for entry in io_description(model.spec)["inputs"]:
        shape = [batch if d == "batch" else d for d in entry["shape"]]
        if entry["dtype"] == "uint8":
            out.append(torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen))
        else:
            out.append(torch.rand(shape, generator=gen) + 0.5)
    return tuple(out)


def export_onnx(model: ActInferenceModel, path: str | Path, opset: int = MIN_OPSET) -> Path:
    """Write the fp32 ONNX graph of `model` (left unchanged) to `path` and run onnx.checker on it."""
    import onnx

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset {opset}: this exporter writes opsets {MIN_OPSET}..{MAX_OPSET}")
    folded = copy.deepcopy(model).eval()
    fold_batchnorm(folded)  # every (conv, BN) pair: the backbone's (none in the decoder-only graph)
    io = io_description(model.spec)
    names_in = [e["name"] for e in io["inputs"]]
    path = Path(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
        torch.onnx.export(
            folded, example_inputs(model, 2), str(path), dynamo=False, opset_version=opset,
            input_names=names_in, output_names=["actions"], do_constant_folding=True,
            dynamic_axes={n: {0: "batch"} for n in names_in + ["actions"]},
        )
    proto = onnx.load(str(path))
    proto.producer_name, proto.producer_version = "act-edge", _version()
    _set_io_docs(proto, io)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    return path


def _set_io_docs(proto, io: dict) -> None:
    docs = {e["name"]: f"{e['dtype']} {e['layout']} {e.get('units', '')}".strip() for e in io["inputs"] + io["outputs"]}
    for v in list(proto.graph.input) + list(proto.graph.output):
        v.doc_string = docs.get(v.name, "")


def _version() -> str:
    from .. import __version__

    return __version__
