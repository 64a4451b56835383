"""Every `trt.` name the project touches exists in TensorRT 10.3, 10.13 and 11.4, or sits behind a guard.

The name lists come from the real bindings wheels (tools/trt_api_names.py); the checker is
tools/trt_api_check.py. This is the one check of the TensorRT code that runs without TensorRT.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LISTS = ROOT / "tests" / "data" / "trt_api"
SUPPORTED = {"10.3.0", "10.13.3.9", "11.4.0.106"}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while the class is created
    spec.loader.exec_module(module)
    return module


check = _load("trt_api_check")
LOADED = check.load_lists(LISTS)
BY_VERSION = {n.version: n for n in LOADED}


def findings(src: str, versions=SUPPORTED) -> list[str]:
    return [str(f) for f in check.check_source(textwrap.dedent(src), [BY_VERSION[v] for v in versions])]


# --- the project -------------------------------------------------------------------------------
def test_lists_for_every_supported_version():
    assert set(BY_VERSION) == SUPPORTED


def test_project_trt_code_conforms_to_every_supported_version():
    modules = check.trt_modules(ROOT / "act_edge")
    names = {p.relative_to(ROOT).as_posix() for p in modules}
    assert {"act_edge/trt/build.py", "act_edge/backends/tensorrt.py"} <= names
    problems, chains = [], set()
    for path in modules:
        uses, structural = check.scan_source(path.read_text(), path.relative_to(ROOT).as_posix())
        chains |= {u.text for u in uses}
        problems += [str(f) for f in structural + check.check_uses(uses, LOADED)]
    assert problems == []
    # The walker really saw the API the build and the runtime depend on.
    assert {"trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED", "trt.BuilderFlag.TF32", "trt.BuilderFlag.FP16",
            "trt.MemoryPoolType.WORKSPACE", "trt.OnnxParser", "trt.Runtime", "trt.TensorIOMode.INPUT",
            "trt.IProgressMonitor"} <= chains


def test_weak_typing_flag_is_checked_only_on_10x_in_the_project():
    uses, _ = check.scan_source((ROOT / "act_edge/trt/build.py").read_text())
    fp16 = [u for u in uses if u.text == "trt.BuilderFlag.FP16"]
    assert fp16 and all(u.guard.majors(10) and not u.guard.majors(11) for u in fp16)


# --- the lists: facts any TensorRT user knows, which a broken extraction would lose ---------------
@pytest.mark.parametrize("version", sorted(SUPPORTED))
def test_lists_hold_the_core_api(version):
    names = BY_VERSION[version]
    for n in ("Builder", "OnnxParser", "ICudaEngine", "IExecutionContext", "execute_async_v3",
              "set_tensor_address", "num_io_tensors", "get_tensor_name", "STRONGLY_TYPED", "IProgressMonitor",
              "create_timing_cache", "__version__", "nptype", "volume"):
        assert n in names, n


def test_tail_merged_names_match_by_suffix():
    whole = {ln.strip() for ln in (LISTS / "tensorrt-11.4.0.106.txt").read_text().splitlines()}
    assert "Runtime" not in whole  # stored only as the tail of a longer literal ...
    assert "Runtime" in BY_VERSION["11.4.0.106"]  # ... and still found
    assert "untime" in BY_VERSION["11.4.0.106"]  # the price of suffix matching: fragments pass too


def test_lists_differ_where_tensorrt_changed():
    assert "FP16" in BY_VERSION["10.3.0"] and "FP16" not in BY_VERSION["11.4.0.106"]  # weak typing removed in 11
    assert "EXPLICIT_BATCH" in BY_VERSION["10.3.0"] and "EXPLICIT_BATCH" not in BY_VERSION["11.4.0.106"]


# --- the checker itself --------------------------------------------------------------------------
def test_unguarded_fp16_flag_fails_on_11_only():
    out = findings("""
        import tensorrt as trt
        config.set_flag(trt.BuilderFlag.FP16)
    """)
    assert len(out) == 1 and "FP16 not in TensorRT 11.4.0.106" in out[0] and out[0].startswith("<string>:3:")


def test_nonexistent_name_fails_on_every_version():
    out = findings("import tensorrt as trt\nx = trt.NotAThing\n")
    assert sorted(o.split("TensorRT ")[1].split(" ")[0] for o in out) == sorted(SUPPORTED)


def test_nonexistent_name_in_the_project_code_would_fail(tmp_path):
    src = (ROOT / "act_edge/trt/build.py").read_text().replace(
        "trt.BuilderFlag.GPU_FALLBACK", "trt.BuilderFlag.GPU_FALLBACKK")
    out = findings(src)
    assert len(out) == 3 and all("GPU_FALLBACKK" in o for o in out)


@pytest.mark.parametrize("src", [
    """
    import tensorrt as trt
    if trt_major(trt) < 11:
        config.set_flag(trt.BuilderFlag.FP16)
    """,
    """
    def f(trt):
        if hasattr(trt.BuilderFlag, "FP16"):
            config.set_flag(trt.BuilderFlag.FP16)
    """,
    """
    def f(trt):
        if trt_major(trt) >= 11:
            raise RuntimeError("no weak typing")
        config.set_flag(trt.BuilderFlag.FP16)
    """,
    """
    def f(trt):
        if 11 > trt_major(trt):
            config.set_flag(trt.BuilderFlag.FP16)
        else:
            pass
    """,
    """
    def f(trt):
        flag = trt.BuilderFlag.FP16 if TRT_MAJOR == 10 else None
    """,
])
def test_guarded_fp16_passes(src):
    assert findings(src) == []


def test_version_guard_still_checks_the_versions_it_admits():
    out = findings("""
        import tensorrt as trt
        if trt_major(trt) >= 11:
            config.set_flag(trt.BuilderFlag.FP16)   # wrong branch: 11 has no FP16
        else:
            x = trt.NotAThing                        # checked against 10.x only
    """)
    assert len(out) == 3
    assert sum("FP16 not in TensorRT 11.4" in o for o in out) == 1
    assert {o.split("TensorRT ")[1].split(" ")[0] for o in out if "NotAThing" in o} == {"10.3.0", "10.13.3.9"}


def test_hasattr_guard_exempts_only_the_tested_name():
    out = findings("""
        def f(trt):
            if hasattr(trt, "IProgressMonitor"):
                class M(trt.IProgressMonitor):
                    pass
                y = trt.NotAThing
    """)
    assert len(out) == 3 and all("NotAThing" in o for o in out)


def test_early_exit_hasattr_guards_the_rest_of_the_block():
    assert findings("""
        def f(trt):
            if not hasattr(trt, "FancyNewThing"):
                return None
            return trt.FancyNewThing()
    """) == []
    assert len(findings("""
        def f(trt):
            if not hasattr(trt, "FancyNewThing"):
                log("old")
            return trt.FancyNewThing()
    """)) == 3  # no exit in the if-body: not a guard for what follows


def test_other_aliases_and_from_imports():
    assert len(findings("import tensorrt as tr\nx = tr.NotAThing\n")) == 3
    out = findings("from tensorrt import Builder\n")
    assert len(out) == 1 and "from tensorrt import" in out[0]


# --- reproducibility of the lists ------------------------------------------------------------------
@pytest.mark.skipif(not os.environ.get("TRT_WHEELS"), reason="set TRT_WHEELS=<dir with the 3 bindings wheels>")
def test_lists_regenerate_identically(tmp_path):
    names = _load("trt_api_names")
    assert names.main([os.environ["TRT_WHEELS"], "--out", str(tmp_path)]) == 0
    for version in SUPPORTED:
        name = f"tensorrt-{version}.txt"
        assert (tmp_path / name).read_text() == (LISTS / name).read_text()


def test_relative_import_of_our_own_tensorrt_module_is_not_the_tensorrt_package():
    """`from .tensorrt import X` names act_edge.backends.tensorrt, not NVIDIA's package."""
    assert findings("from .tensorrt import TensorRTBackend\n") == []
    assert len(findings("from tensorrt.foo import Bar\n")) == 1
