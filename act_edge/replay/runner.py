"""One replay run: every frame of every episode through the bundle (and the source), then the
figures of docs/replay-schema.md. Returns the result dict and the per-episode traces for plots."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import __version__
from ..bundle import MANIFEST, load_bundle, sha256_file
from ..metrics import action_range
from .compare import ErrorAccumulator
from .episode import Episode, Mapping
from .execute import execute
from .readers import open_episodes
from .source import Source, open_source

SCHEMA = "act-edge-replay/1"
Progress = Callable[[str, int, int], None]  # (episode, frame done, frames)


@dataclass
class ReplayConfig:
    bundle: str
    episodes: list[str]
    against: str | None = None
    no_source: bool = False
    backend: str = "auto"
    precision: str | None = None
    device: str | None = None
    mapping: Mapping = field(default_factory=Mapping)
    # None: the bundle's runtime defaults; else {"temporal_ensemble_coeff": k or None, "n_action_steps": n}
    execution: dict[str, Any] | None = None


def run(cfg: ReplayConfig, progress: Progress = lambda name, done, total: None,
        source: Source | None = None, source_info: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replay; `source` overrides the checkpoint (an API caller's own reference: obs -> (chunk, A))."""
    from ..policy import Policy

    bundle = load_bundle(cfg.bundle)
    spec = bundle.spec
    episodes = open_episodes([Path(p) for p in cfg.episodes], spec, cfg.mapping)  # every file checked before work
    demo_all = np.concatenate([ep.actions for ep in episodes])
    rng, rng_what = action_range(spec, demo_all)
    if spec.action_norm.mode not in ("min_max", "mean_std"):
        rng_what += " (here: the demonstrations' actions, all episodes)"
    manifest_sha = sha256_file(bundle.path / MANIFEST)
    totals = {k: ErrorAccumulator(rng) for k in ("open_loop", "executed", "demo_bundle", "demo_source")}
    per_episode, traces = [], {}
    with Policy.load(bundle.path, backend=cfg.backend, precision=cfg.precision, device=cfg.device, profile=False,
                     warmup=1, **(cfg.execution or {})) as policy:
        coeff, steps = policy.temporal_ensemble_coeff, policy.n_action_steps
        if source is None:
            dev = str(policy.backend.device)
            source, source_info = open_source(bundle, cfg.against, cfg.no_source, dev if dev.startswith("cuda") else "cpu")
        else:
            source_info = source_info or {"kind": "given by the caller", "checkpoint": None, "skipped": None}
        describe = {"backend": policy.backend.name, "device": policy.backend.device,
                    "precision": policy.backend.precision, "mode": policy.mode, "temporal_ensemble_coeff": coeff,
                    "n_action_steps": steps, "post_steps": bundle.manifest.get("runtime", {}).get("post_steps") or []}
        for ep in episodes:
            b_chunks, s_chunks = _predict(ep, policy, source, progress)
            b_exec = execute(b_chunks, coeff, steps, policy.post_steps)
            s_exec = execute(s_chunks, coeff, steps, policy.post_steps) if s_chunks is not None else None
            acc = {k: ErrorAccumulator(rng) for k in totals}
            pairs = {"open_loop": (b_chunks, s_chunks), "executed": (b_exec, s_exec),
                     "demo_bundle": (b_exec, ep.actions), "demo_source": (s_exec, ep.actions)}
            for key, (got, ref) in pairs.items():
                if ref is None or got is None:
                    continue
                diff = got.astype(np.float64) - ref.astype(np.float64)
                acc[key].add(diff, ep.name)
                totals[key].add(diff, ep.name)
            per_episode.append(_episode_result(ep, acc, _notes(ep, describe, manifest_sha)))
            traces[ep.name] = {"demonstration": ep.actions, "bundle": b_exec, "source": s_exec}
    result = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "act_edge_version": __version__,
        "bundle": {"path": str(bundle.path), "name": bundle.manifest.get("name"), "manifest_sha256": manifest_sha},
        "policy": describe,
        "source": source_info,
        "action_range": {"values": rng.tolist(), "definition": rng_what},
        "episodes": per_episode,
        "total": {"episodes": len(episodes), "frames": int(sum(ep.frames for ep in episodes)),
                  **_figures(totals)},
    }
    return result, traces


def _predict(ep: Episode, policy: Any, source: Source | None, progress: Progress):
    """(T, chunk, A) chunks of the bundle and of the source (None without one), one per frame."""
    C, A = policy.spec.chunk_size, policy.spec.action_dim
    T = ep.frames
    b = np.empty((T, C, A), dtype=np.float32)
    s = np.empty((T, C, A), dtype=np.float32) if source is not None else None
    with ep.observations() as obs:
        for t in range(T):
            o = obs(t)
            policy.predict_chunk(o, out=b[t])
            if s is not None:
                s[t] = source(o)
            progress(ep.name, t + 1, T)
    return b, s


def _figures(acc: dict[str, ErrorAccumulator]) -> dict[str, Any]:
    return {"open_loop": acc["open_loop"].stats(), "executed": acc["executed"].stats(),
            "demonstration": {"bundle": acc["demo_bundle"].stats(), "source": acc["demo_source"].stats()}}


def _episode_result(ep: Episode, acc: dict[str, ErrorAccumulator], notes: list[str]) -> dict[str, Any]:
    return {"name": ep.name, "file": str(ep.path), "group": ep.group, "layout": ep.layout, "frames": ep.frames,
            "compressed_frames": ep.compressed, "inputs": ep.sources, "recorded": ep.attrs, "notes": notes,
            **_figures(acc)}


def _notes(ep: Episode, policy: dict[str, Any], manifest_sha: str) -> list[str]:
    """Why an act-edge recording may not replay to a zero demonstration difference."""
    a = ep.attrs
    if ep.layout != "act-edge":
        return []
    notes = []
    if a.get("bundle_manifest_sha256") not in (None, manifest_sha):
        notes.append("recorded with a different bundle (bundle_manifest_sha256 differs)")
    if a.get("inference") == "async":
        notes.append("recorded with async inference (chunks arrive late); replay runs one chunk per frame (sync)")
    if a.get("dropped_frames"):
        notes.append(f"{a['dropped_frames']} steps were dropped while recording: the recorded sequence has gaps")
    mode = {"ensemble": "temporal_ensemble", "queue": "chunk_queue"}.get(a.get("mode"), a.get("mode"))
    if mode is not None and mode != policy["mode"]:
        notes.append(f"recorded in {a.get('mode')} mode, replayed in {policy['mode']} (--chunk-queue N or "
                     "--temporal-ensemble-coeff K replays in the recorded mode)")
    k = a.get("temporal_ensemble_coeff")
    if isinstance(k, (int, float)) and policy["temporal_ensemble_coeff"] is not None \
            and not math.isclose(k, policy["temporal_ensemble_coeff"], rel_tol=1e-6):
        notes.append(f"recorded with temporal_ensemble_coeff {k}, replayed with {policy['temporal_ensemble_coeff']}")
    n = a.get("n_action_steps")
    if policy["mode"] == "chunk_queue" and isinstance(n, int) and n != policy["n_action_steps"]:
        notes.append(f"recorded with n_action_steps {n}, replayed with {policy['n_action_steps']}")
    for key in ("backend", "precision"):
        if a.get(key) not in (None, policy[key]):
            notes.append(f"recorded on {key} {a[key]}, replayed on {policy[key]}")
    return notes
