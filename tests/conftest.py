"""Shared fixtures: the test bundles of tests/bundles.py (synthetic and exported), run_cli, hypothesis profiles."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from act_edge.spec import Normalization
from bundles import (SyntheticBundle, build_minimal_bundle, build_synthetic_bundle, export_tiny_bundle,
                     save_tiny_checkpoint, synthetic_spec)

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


# --- bundles (made in tests/bundles.py) ------------------------------------------------------------------
# Tests that only need *a* bundle take a synthetic one (numpy + onnx: they run in the no-torch CI job);
# tests about what `act-edge export` writes take the exported one (skipped without torch).

@pytest.fixture(scope="session")
def synthetic_bundle(tmp_path_factory) -> SyntheticBundle:
    """Read-only synthetic bundle: two 24x32 cameras, state/action 14 (mean-std state stats), env_state 3,
    chunk 20, fp32 + fp16 ONNX and parity.npz; `.expected(...)` gives its exact actions. Copy it before
    changing it."""
    state_norm = Normalization("mean_std", mean=tuple(np.linspace(-1.0, 1.0, 14)), std=tuple(np.linspace(0.5, 2.0, 14)))
    return build_synthetic_bundle(tmp_path_factory.mktemp("synthetic") / "synthetic.actedge",
                                  synthetic_spec(env_state_dim=3, state_norm=state_norm), parity=True)


@pytest.fixture(scope="session")
def minimal_synthetic(tmp_path_factory) -> SyntheticBundle:
    """Read-only smallest complete synthetic bundle (bundles.minimal_spec(): one 32x32 camera, state 3,
    action 2, chunk 4; fp32 + fp16 ONNX, parity.npz); `.expected(...)` gives its exact actions."""
    return build_minimal_bundle(tmp_path_factory.mktemp("minimal") / "tiny.actedge")


@pytest.fixture()
def minimal_bundle(minimal_synthetic, tmp_path) -> Path:
    """This test's own copy of minimal_synthetic (free to change), at tmp_path/tiny.actedge."""
    dest = tmp_path / "tiny.actedge"
    shutil.copytree(minimal_synthetic.path, dest)
    return dest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The "tiny" preset with random weights (native checkpoint); skips without torch."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def exported_bundle(tiny_checkpoint, tmp_path_factory) -> Path:
    """Read-only bundle exported from tiny_checkpoint (fp16, max batch 4); skips without torch."""
    return export_tiny_bundle(tiny_checkpoint, tmp_path_factory.mktemp("bundle") / "tiny.actedge")


@pytest.fixture(scope="session")
def tiny_bundle(exported_bundle) -> Path:
    """The exported bundle (the name older tests use; prefer exported_bundle or synthetic_bundle)."""
    return exported_bundle
