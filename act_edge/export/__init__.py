"""Export side: checkpoint loaders, the torch inference graph, ONNX/fp16 writing, parity, bundles.

Needs the `export` extra (torch, onnx, onnxruntime, safetensors). Submodules import torch; this
package file does not, so `act_edge.export` can be named without it.
"""
