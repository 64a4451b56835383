"""Model size figures for the summary: parameters, GFLOPs per inference, token count."""

from __future__ import annotations

from .model import ActInferenceModel
from .onnx_export import example_inputs


def model_figures(model: ActInferenceModel) -> dict[str, float | int]:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:  # (no_grad breaks its module tracker)
        model(*example_inputs(model, 1))
    return {
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "gflops": round(counter.get_total_flops() / 1e9, 3),  # 2 x MACs of conv/matmul, batch 1
        "tokens": model.spec.n_tokens,
    }
