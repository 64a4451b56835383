"""The runtime imports and runs where torch, tensorrt and onnx cannot be imported (a robot's venv).

Where torch is really absent (the runtime-only CI job) nothing needs blocking; elsewhere the
installed packages are blocked. onnx and onnxruntime build and run the synthetic bundle."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bundles import build_synthetic_bundle, stacked_images, synthetic_spec

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[1]
# Blocked only where installed; act_edge.export (ours, always there) always.
INSTALLED = tuple(m for m in ("torch", "tensorrt", "onnx", "pycuda") if importlib.util.find_spec(m) is not None)
BLOCKED = INSTALLED + ("act_edge.export",)

BLOCKER = textwrap.dedent(f"""
    import sys
    BLOCKED = {BLOCKED!r}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, Blocker())
""")


def run_blocked(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=120)


def test_blocker_really_blocks() -> None:
    res = run_blocked("import torch")
    why = "torch is blocked in this test" if "torch" in INSTALLED else "No module named 'torch'"
    assert res.returncode != 0 and why in res.stderr
    res = run_blocked("import act_edge.export.pipeline")
    assert res.returncode != 0 and "act_edge.export is blocked in this test" in res.stderr


def test_import_and_run_policy_without_torch(tmp_path: Path) -> None:
    b = build_synthetic_bundle(tmp_path / "nt.actedge", synthetic_spec(env_state_dim=2))
    res = run_blocked(f"""
        import json, sys
        import numpy as np
        import act_edge
        p = act_edge.Policy.load({str(b.path)!r})
        rng = np.random.default_rng(0)
        obs = {{"state": rng.uniform(-1, 1, 14).astype(np.float32),
               "images": {{c: rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for c in ("top", "wrist")}},
               "env_state": rng.uniform(-1, 1, 2)}}
        a = [p.step(obs).tolist() for _ in range(3)]
        chunk = p.predict_chunk(obs)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "onnx"))
        print(json.dumps({{"backend": p.backend.name, "action": a[-1], "chunk0": chunk[0].tolist(),
                          "loaded": loaded}}))
    """)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["backend"] == "onnxruntime"
    assert out["loaded"] == []
    # Recompute here: same seeded observation, expected chunk from the fixture's reference function.
    rng = np.random.default_rng(0)
    obs = {"state": rng.uniform(-1, 1, 14).astype(np.float32),
           "images": {c: rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for c in ("top", "wrist")},
           "env_state": rng.uniform(-1, 1, 2)}
    chunk = b.expected(stacked_images(b.spec, obs), obs["state"][None], obs["env_state"][None])[0]
    np.testing.assert_allclose(out["chunk0"], chunk[0], rtol=1e-5, atol=1e-5)
    # Step 2 of an episode fed the same observation: rows 2, 1, 0 of the chunk, oldest weight first.
    w = np.exp(-0.01 * np.arange(3))
    want = (w[0] * chunk[2] + w[1] * chunk[1] + w[2] * chunk[0]) / w.sum()
    np.testing.assert_allclose(out["action"], want, rtol=1e-5, atol=1e-5)


def test_every_runtime_module_imports_without_torch() -> None:
    res = run_blocked("""
        import act_edge, act_edge.policy, act_edge.ensemble, act_edge.observation, act_edge.profiler
        import act_edge.backends.select, act_edge.backends.onnxruntime, act_edge.backends.torch
        import sys
        assert "onnxruntime" not in sys.modules, "onnxruntime imported eagerly"
        from act_edge.errors import BackendUnavailable
        print("ok")
    """)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_torch_backend_reports_unavailable_without_torch(tmp_path: Path) -> None:
    b = build_synthetic_bundle(tmp_path / "nt2.actedge", fp16=False)
    res = run_blocked(f"""
        import act_edge
        try:
            act_edge.Policy.load({str(b.path)!r}, backend="torch")
        except act_edge.BackendUnavailable as exc:
            print("unavailable:", exc)
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("unavailable: torch backend: needs torch")


def _runtime_modules() -> list[str]:
    """Every module of act_edge outside act_edge.export (and the `python -m` entry point, which runs)."""
    import pkgutil

    import act_edge

    names = [m.name for m in pkgutil.walk_packages(act_edge.__path__, "act_edge.")]
    return sorted(n for n in names if not n.startswith("act_edge.export") and n != "act_edge.__main__")


def test_no_runtime_module_imports_act_edge_export() -> None:
    modules = _runtime_modules()
    assert {"act_edge.bench.runner", "act_edge.cli.main", "act_edge.doctor.run", "act_edge.trt.verify",
            "act_edge.synthetic_inputs", "act_edge.metrics"} <= set(modules)
    res = run_blocked(f"""
        import importlib, sys
        failed = []
        for name in {modules!r}:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                failed.append(f"{{name}}: {{exc}}")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "onnx", "onnxruntime"))
        print(failed, loaded)
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[] []"


def test_every_subcommand_help_works_without_torch() -> None:
    from act_edge.cli.main import COMMANDS

    res = run_blocked(f"""
        import contextlib, io, sys
        from act_edge.cli.main import main
        for command in {sorted(COMMANDS)!r}:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main([command, "--help"])
            assert rc == 0 and f"usage: act-edge {{command}}" in out.getvalue(), (command, rc, out.getvalue())
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "onnx", "onnxruntime"))
        print("ok", loaded)
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok []"


def _imports_of(path: Path) -> set[str]:
    """Absolute names of every act_edge module `path` imports, at top level or inside functions."""
    import ast

    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.update([module] + [f"{module}.{a.name}" for a in node.names])
    return {n for n in names if n.startswith("act_edge")}


def test_trt_does_not_import_backends() -> None:
    """backends.tensorrt uses act_edge.trt (tensorrt import, device); the reverse would be a cycle."""
    assert "act_edge.trt" in _imports_of(REPO / "act_edge/backends/tensorrt.py")  # the direction kept
    files = sorted((REPO / "act_edge" / "trt").glob("*.py"))
    offenders = {str(p.relative_to(REPO)): sorted(n for n in _imports_of(p) if n.startswith("act_edge.backends"))
                 for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


# The modules outside act_edge.export that may reach into it (inside a function, when torch is asked for):
# the commands that export or read checkpoints, the torch backend, and the eager reference of
# bench --compare / replay --against.
EXPORT_GATEWAYS = {"act_edge/eager_reference.py", "act_edge/backends/torch.py", "act_edge/cli/export_cmd.py",
                   "act_edge/cli/inspect_cmd.py", "act_edge/cli/init_cmd.py", "act_edge/cli/loader_flags.py"}


def test_only_the_gateways_reach_into_act_edge_export() -> None:
    files = sorted(p for p in (REPO / "act_edge").rglob("*.py") if "export" not in p.relative_to(REPO).parts[1:2])
    users = {str(p.relative_to(REPO)) for p in files
             if any(n.startswith("act_edge.export") for n in _imports_of(p))}
    assert users <= EXPORT_GATEWAYS, sorted(users - EXPORT_GATEWAYS)
    assert "act_edge/eager_reference.py" in users  # the check sees lazy imports
