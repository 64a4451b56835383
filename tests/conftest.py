"""Shared fixtures: small real checkpoints and bundles made with the public API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:  # CI runs the fuzz tests on a fixed example sequence (a red CI must be reproducible); locally each
    # run explores new examples. ACT_EDGE_FUZZ=explore forces exploring in CI too.
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI") and os.environ.get("ACT_EDGE_FUZZ") != "explore":
        _hypothesis_settings.load_profile("ci")
except ImportError:  # hypothesis is a dev dependency; the fuzz tests import it themselves
    pass


def run_cli(*args: str, cwd: Path | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m act_edge ARGS` in a subprocess (the same code path as the console script)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "act_edge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from act_edge.export.formats import native
    from act_edge.export.presets import random_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    native.save(path, *random_checkpoint("tiny", seed=3))
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint, tmp_path_factory) -> Path:
    from act_edge.export.checkpoint import load_checkpoint
    from act_edge.export.pipeline import export_bundle

    dest = tmp_path_factory.mktemp("bundle") / "tiny.actedge"
    return export_bundle(load_checkpoint(tiny_checkpoint), dest, fp16=True, max_batch=4)
