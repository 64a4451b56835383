"""ONNX opsets the exporter writes (no torch import: the CLI checks --opset at parse time)."""

MIN_OPSET = 17  # native LayerNormalization
MAX_OPSET = 20  # newest opset of torch.onnx.export(dynamo=False) (torch.onnx._constants)
