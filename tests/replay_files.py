"""Episode files for the replay tests, written with h5py in each documented layout, with smooth
synthetic frames (gradients and a moving blob, never noise, never zeros)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest


def h5():
    return pytest.importorskip("h5py", reason="the replay extra (h5py) writes and reads episode files")


def smooth_frames(T: int, H: int, W: int, phase: float = 0.0) -> np.ndarray:
    """(T, H, W, 3) uint8: red ramps along x, green along y, blue a blob moving on a circle; 8..247."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    out = np.empty((T, H, W, 3), dtype=np.uint8)
    for t in range(T):
        cx = W * (0.5 + 0.3 * np.cos(0.2 * t + phase))
        cy = H * (0.5 + 0.3 * np.sin(0.2 * t + phase))
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.05 * H * W))
        out[t, ..., 0] = 8 + 200 * xx / max(W - 1, 1) * (0.8 + 0.2 * np.cos(phase + 0.05 * t))
        out[t, ..., 1] = 8 + 150 * yy / max(H - 1, 1)
        out[t, ..., 2] = 30 + 217 * blob
    return out


def smooth_vectors(T: int, D: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """(T, D) float32 sinusoids of random frequency and phase (joint trajectories)."""
    rng = np.random.default_rng(seed)
    f, p, a = rng.uniform(0.05, 0.3, D), rng.uniform(0, 6.28, D), rng.uniform(0.3, 1.0, D)
    return (scale * a * np.sin(np.arange(T)[:, None] * f + p)).astype(np.float32)


def write_aloha(path: Path, images: dict[str, np.ndarray], qpos: np.ndarray, action: np.ndarray,
                attrs: dict | None = None, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Original ACT / ALOHA episode_N.hdf5 (+ `extra` datasets by path, + root attributes)."""
    with h5().File(path, "w") as f:
        f.attrs["sim"] = False
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        f.create_dataset("observations/qpos", data=qpos)
        f.create_dataset("observations/qvel", data=np.gradient(qpos, axis=0))
        for cam, frames in images.items():
            f.create_dataset(f"observations/images/{cam}", data=frames, chunks=(1,) + frames.shape[1:])
        f.create_dataset("action", data=action)
        for key, v in (extra or {}).items():
            f.create_dataset(key, data=v)
    return path


def write_act_edge(path: Path, images: dict[str, np.ndarray], qpos: np.ndarray, action: np.ndarray,
                   manifest_sha256: str, mode: str = "ensemble", coeff: float = 0.01, n_action_steps: int = 1,
                   env_state: np.ndarray | None = None) -> Path:
    """An act-edge recording (docs/replay-schema.md's episode layout)."""
    T = len(qpos)
    extra = {"act_edge/tick_ns": np.arange(T, dtype=np.int64) * 20_000_000,
             "act_edge/step_ns": np.full(T, 300_000, dtype=np.int64)}
    if env_state is not None:
        extra["observations/env_state"] = env_state
    attrs = {"act_edge_format": "act-edge-episode/1", "act_edge_version": "0.1.0",
             "bundle_manifest_sha256": manifest_sha256, "backend": "onnxruntime", "precision": "fp32",
             "inference": "sync", "mode": mode, "temporal_ensemble_coeff": coeff if mode == "ensemble" else np.nan,
             "n_action_steps": n_action_steps, "dropped_frames": 0, "camera_names": list(images)}
    return write_aloha(path, images, qpos, action, attrs=attrs, extra=extra)


def write_course(path: Path, demos: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    """Course-notes layout: demo_N/observations/image, demo_N/observations/qpos, demo_N/actions."""
    with h5().File(path, "w") as f:
        f.attrs["num_demos"] = len(demos)
        for i, (image, qpos, actions) in enumerate(demos):
            f.create_dataset(f"demo_{i}/observations/image", data=image)
            f.create_dataset(f"demo_{i}/observations/qpos", data=qpos)
            f.create_dataset(f"demo_{i}/actions", data=actions)
    return path


def write_robomimic(path: Path, demos: list[tuple[dict[str, np.ndarray], np.ndarray]]) -> Path:
    """robomimic layout: data/demo_N/obs/<key>, data/demo_N/actions."""
    with h5().File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = sum(len(a) for _, a in demos)
        for i, (obs, actions) in enumerate(demos):
            for key, v in obs.items():
                data.create_dataset(f"demo_{i}/obs/{key}", data=v)
            data.create_dataset(f"demo_{i}/actions", data=actions)
            data[f"demo_{i}"].attrs["num_samples"] = len(actions)
    return path


def cv2_style_jpeg(frame: np.ndarray, quality: int = 90) -> np.ndarray:
    """The bytes `cv2.imencode('.jpg', frame)` would store (channel 0 taken as blue), made with Pillow."""
    Image = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame[..., ::-1])).save(buf, format="JPEG", quality=quality)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def write_aloha_compressed(path: Path, images: dict[str, np.ndarray], qpos: np.ndarray, action: np.ndarray) -> Path:
    """ALOHA recorder with COMPRESS: padded JPEG buffers (T, padded) uint8, root `compress`, `/compress_len`."""
    encoded = {cam: [cv2_style_jpeg(fr) for fr in frames] for cam, frames in images.items()}
    lens = np.array([[len(b) for b in bufs] for bufs in encoded.values()])
    padded = int(lens.max())
    with h5().File(path, "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = True
        for cam, bufs in encoded.items():
            arr = np.zeros((len(bufs), padded), dtype=np.uint8)
            for t, b in enumerate(bufs):
                arr[t, :len(b)] = b
            f.create_dataset(f"observations/images/{cam}", data=arr, chunks=(1, padded))
        f.create_dataset("observations/qpos", data=qpos)
        f.create_dataset("action", data=action)
        f.create_dataset("compress_len", data=lens.astype(np.float32))
    return path
