"""Test bundles, all made here: a cheap synthetic bundle (numpy + onnx, no torch) and a bundle exported
from a random-weights torch checkpoint. tests/conftest.py exposes both as fixtures.

Synthetic bundle: a hand-built ONNX graph with the manifest's I/O contract whose output is a known
function of its inputs, so results can be checked against numpy:

    actions[b, t, a] = state[b, a % S] * C[t, a] + mean(images[b]) * D[t, a] (+ sum(env_state[b]) * E[t, a])

The fp16 artifact stores C, D, E as float16 (cast to float32 in the graph), so a test can tell which
artifact was loaded and compute its exact expectation too. With `parity=True` the bundle also holds
parity.npz (random inputs and their float64-exact actions), as `act-edge export` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from act_edge.bundle import (ONNX_FP16, ONNX_FP32, PARITY_INPUTS, artifact_entry, io_description,
                             write_bundle_atomic)
from act_edge.spec import ActSpec, CameraSpec, Normalization

DEFAULT_RUNTIME = {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1}


def synthetic_spec(chunk: int = 20, dof: int = 14,
                   cams: tuple[tuple[str, int, int], ...] = (("top", 24, 32), ("wrist", 24, 32)),
                   env_state_dim: int = 0, *, state_dim: int | None = None, action_dim: int | None = None,
                   state_norm: Normalization | None = None, action_norm: Normalization | None = None,
                   name: str = "synthetic") -> ActSpec:
    """A small ActSpec; state and action both `dof` wide unless given. Cameras: (name, height, width)."""
    return ActSpec(cameras=tuple(CameraSpec(n, h, w) for n, h, w in cams), state_dim=dof if state_dim is None else state_dim,
                   action_dim=action_dim or dof, chunk_size=chunk, env_state_dim=env_state_dim, d_model=16,
                   n_heads=2, dim_feedforward=32, state_norm=state_norm or Normalization(),
                   action_norm=action_norm or Normalization(), name=name)


def minimal_spec() -> ActSpec:
    """The smallest bundle's spec (engine, doctor and output-folder tests): one 32x32 camera, state 3,
    action 2, chunk 4, min-max action stats spanning the actions (span 10 on each axis)."""
    return synthetic_spec(chunk=4, cams=(("top", 32, 32),), state_dim=3, action_dim=2, name="tiny",
                          action_norm=Normalization("min_max", min=(-5.0, -4.0), max=(5.0, 6.0)))


@dataclass
class SyntheticBundle:
    """A synthetic bundle on disk and the constants of its graph."""

    path: Path
    spec: ActSpec
    C: np.ndarray
    D: np.ndarray
    E: np.ndarray

    def expected(self, images: np.ndarray | None, state: np.ndarray | None, env_state: np.ndarray | None = None,
                 fp16: bool = False) -> np.ndarray:
        """float64 reference. images (B, N, H, W, 3) uint8 (all cameras in manifest order; None without
        cameras), state (B, S) (None without robot state), env_state (B, E)."""
        C, D, E = (m.astype(np.float16).astype(np.float64) if fp16 else m.astype(np.float64)
                   for m in (self.C, self.D, self.E))
        S, A = self.spec.state_dim, self.spec.action_dim
        out = np.zeros((1, self.spec.chunk_size, A))
        if S:
            st = state.astype(np.float32).astype(np.float64)[:, np.arange(A) % S]  # (B, A)
            out = out + st[:, None, :] * C[None]
        if self.spec.cameras:
            mean = images.reshape(len(images), -1).astype(np.float64).mean(axis=1)  # (B,)
            out = out + mean[:, None, None] * D[None]
        if env_state is not None:
            out = out + env_state.astype(np.float32).astype(np.float64).sum(axis=1)[:, None, None] * E[None]
        return out


def _graph(spec: ActSpec, C: np.ndarray, D: np.ndarray, E: np.ndarray, fp16: bool) -> bytes:
    onnx = pytest.importorskip("onnx", reason="onnx builds the test bundle's graph (a runtime-only install has none)")
    from onnx import TensorProto, helper, numpy_helper

    io = io_description(spec)
    assert sum(e["dtype"] == "uint8" for e in io["inputs"]) <= 1, "one image group only"
    S, A, T = spec.state_dim, spec.action_dim, spec.chunk_size
    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        if fp16 and value.dtype == np.float32:
            inits.append(numpy_helper.from_array(value.astype(np.float16), name + "_h"))
            nodes.append(helper.make_node("Cast", [name + "_h"], [name], to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(value, name))
        return name

    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"))
    inits.append(numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "ax12"))
    terms = []
    if S:
        const("C", C.astype(np.float32))
        inits.append(numpy_helper.from_array(np.arange(A, dtype=np.int64) % S, "gather_idx"))
        nodes += [
            helper.make_node("Gather", ["state", "gather_idx"], ["st_g"], axis=1),  # (B, A)
            helper.make_node("Unsqueeze", ["st_g", "ax1"], ["st_g3"]),  # (B, 1, A)
            helper.make_node("Mul", ["st_g3", "C"], ["st_term"]),
        ]
        terms.append("st_term")
    if spec.cameras:
        const("D", D.astype(np.float32))
        nodes += [
            helper.make_node("Cast", ["images"], ["img_f"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", ["img_f"], ["img_mean"], axes=[1, 2, 3, 4], keepdims=0),  # (B,)
            helper.make_node("Unsqueeze", ["img_mean", "ax12"], ["img_mean3"]),  # (B, 1, 1)
            helper.make_node("Mul", ["img_mean3", "D"], ["img_term"]),  # (B, T, A)
        ]
        terms.append("img_term")
    if spec.env_state_dim:
        const("E", E.astype(np.float32))
        nodes += [
            helper.make_node("ReduceSum", ["env_state", "ax1"], ["env_sum"], keepdims=1),  # (B, 1)
            helper.make_node("Unsqueeze", ["env_sum", "ax1"], ["env_sum3"]),  # (B, 1, 1)
            helper.make_node("Mul", ["env_sum3", "E"], ["env_term"]),
        ]
        terms.append("env_term")
    last = terms[0]
    for i, term in enumerate(terms[1:]):
        nodes.append(helper.make_node("Add", [last, term], [f"sum{i}"]))
        last = f"sum{i}"
    graph_inputs = []
    for entry in io["inputs"]:
        dtype = TensorProto.UINT8 if entry["dtype"] == "uint8" else TensorProto.FLOAT
        graph_inputs.append(helper.make_tensor_value_info(entry["name"], dtype, entry["shape"]))
    nodes.append(helper.make_node("Identity", [last], ["actions"]))
    out = helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", T, A])
    graph = helper.make_graph(nodes, "synthetic_act", graph_inputs, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="act-edge-tests")
    model.ir_version = 8  # IR 8 (opset 17): onnxruntime >= 1.12 reads it, the oldest one numpy 1.21.5 admits
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _parity_inputs(b: SyntheticBundle, seed: int) -> dict[str, np.ndarray]:
    """One random batch-1 input per graph input, and its exact actions (as parity.npz holds them)."""
    rng = np.random.default_rng(seed + 1)
    spec = b.spec
    feeds = {}
    if spec.cameras:
        cam = spec.cameras[0]
        feeds["images"] = rng.integers(0, 256, (1, len(spec.cameras), cam.height, cam.width, 3), dtype=np.uint8)
    if spec.state_dim:
        feeds["state"] = rng.standard_normal((1, spec.state_dim)).astype(np.float32)
    if spec.env_state_dim:
        feeds["env_state"] = rng.standard_normal((1, spec.env_state_dim)).astype(np.float32)
    feeds["actions"] = b.expected(feeds.get("images"), feeds.get("state"), feeds.get("env_state")).astype(np.float32)
    return feeds


def build_synthetic_bundle(dest: Path, spec: ActSpec | None = None, runtime: dict | None = None, seed: int = 0,
                           max_batch: int = 4, fp16: bool = True, parity: bool = False) -> SyntheticBundle:
    """Write a synthetic bundle at `dest` (fp32 ONNX, the fp16 one with `fp16`, parity.npz with `parity`)."""
    spec = spec or synthetic_spec()
    rng = np.random.default_rng(seed)
    T, A = spec.chunk_size, spec.action_dim
    C = rng.uniform(0.5, 1.5, (T, A)).astype(np.float32) * rng.choice([-1, 1], (T, A))
    D = rng.uniform(0.001, 0.01, (T, A)).astype(np.float32)
    E = rng.uniform(-1, 1, (T, A)).astype(np.float32)
    runtime = runtime if runtime is not None else dict(DEFAULT_RUNTIME)
    made = SyntheticBundle(dest, spec, C, D, E)

    def build(tmp: Path) -> dict:
        (tmp / "model.onnx").write_bytes(_graph(spec, C, D, E, fp16=False))
        artifacts = {ONNX_FP32: artifact_entry(tmp, "model.onnx", precision="fp32")}
        if fp16:
            (tmp / "model.fp16.onnx").write_bytes(_graph(spec, C, D, E, fp16=True))
            artifacts[ONNX_FP16] = artifact_entry(tmp, "model.fp16.onnx", precision="fp16")
        if parity:
            np.savez(tmp / "parity.npz", **_parity_inputs(made, seed))
            artifacts[PARITY_INPUTS] = artifact_entry(tmp, "parity.npz")
        return {"name": dest.stem, "spec": spec.to_dict(), "io": io_description(spec), "max_batch": max_batch,
                "runtime": runtime, "artifacts": artifacts, "engines": []}

    made.path = write_bundle_atomic(dest, build)
    return made


def build_minimal_bundle(dest: Path, max_batch: int = 4) -> SyntheticBundle:
    """The smallest complete bundle (minimal_spec(), fp32 + fp16 ONNX, parity.npz): seconds for any
    TensorRT to build, onnxruntime runs it as the reference."""
    return build_synthetic_bundle(dest, minimal_spec(), max_batch=max_batch, parity=True)


def random_obs(spec: ActSpec, rng: np.random.Generator, batch: int | None = None) -> dict:
    """A random observation as Policy.step() takes it (batched with `batch`)."""
    lead = () if batch is None else (batch,)
    obs = {"state": rng.uniform(-2, 2, lead + (spec.state_dim,)).astype(np.float32),
           "images": {c.name: rng.integers(0, 256, lead + (c.height, c.width, 3), dtype=np.uint8)
                      for c in spec.cameras}}
    if not spec.state_dim:  # an env-state-only bundle
        del obs["state"]
    if not spec.cameras:  # a camera-less bundle
        del obs["images"]
    if spec.env_state_dim:
        obs["env_state"] = rng.uniform(-1, 1, lead + (spec.env_state_dim,))
    return obs


def stacked_images(spec: ActSpec, obs: dict, batched: bool = False) -> np.ndarray:
    """(B, N, H, W, 3) in manifest camera order."""
    axis = 1 if batched else 0
    imgs = np.stack([obs["images"][c.name] for c in spec.cameras], axis=axis)
    return imgs if batched else imgs[None]


# --- the exported bundle (torch) ----------------------------------------------------------------------

def save_tiny_checkpoint(path: Path, seed: int = 3) -> Path:
    """The "tiny" preset with random weights, saved as a native act-edge checkpoint (needs torch)."""
    pytest.importorskip("torch")
    from act_edge.export.formats import native
    from act_edge.export.presets import random_checkpoint

    native.save(path, *random_checkpoint("tiny", seed=seed))
    return path


def export_tiny_bundle(checkpoint: Path, dest: Path, max_batch: int = 4) -> Path:
    """`act-edge export` of `checkpoint` (fp32 + fp16 ONNX, parity.npz) at `dest` (needs torch)."""
    pytest.importorskip("torch")
    from act_edge.export.checkpoint import load_checkpoint
    from act_edge.export.pipeline import export_bundle

    return export_bundle(load_checkpoint(checkpoint), dest, fp16=True, max_batch=max_batch)
