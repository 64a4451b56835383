"""cpp_bindings' TensorRT sources compile against the TensorRT / CUDA declarations they use.

TYPE-CHECK ONLY: tests/trt_typecheck/ holds hand-written declarations (not TensorRT, not CUDA) of
the subset of NvInfer.h and cuda_runtime_api.h the code calls; each TensorRT translation unit is
compiled with `-fsyntax-only` against them (nothing is linked or run). This catches a misspelt or
mistyped call, a wrong const/noexcept and code that no longer compiles, on a machine without
TensorRT. It is not a test of the TensorRT code (that needs a TensorRT build on a GPU).
Each TensorRT function the declarations offer maps to its Python binding's name, which must be in
every supported version's list (tests/data/trt_api, the lists tools/trt_api_check.py uses).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CPP = ROOT / "cpp_bindings"
DECLS = ROOT / "tests" / "trt_typecheck"
TRT_SOURCES = ["src/trt_policy.cpp", "src/trt/engine_loader.cpp", "src/trt/buffer_manager.cpp",
               "src/trt/stream_executor.cpp"]
# C++ API (nvinfer1) -> the Python binding of the same call (tests/data/trt_api lists are the
# Python API's names).
PYTHON_NAME = {
    "getInferLibVersion": "__version__", "createInferRuntime": "Runtime",
    "setDLACore": "DLA_core", "getDLACore": "DLA_core", "getNbDLACores": "num_DLA_cores",
    "deserializeCudaEngine": "deserialize_cuda_engine", "createExecutionContext": "create_execution_context",
    "getNbIOTensors": "num_io_tensors", "getIOTensorName": "get_tensor_name", "getTensorIOMode": "get_tensor_mode",
    "getTensorDataType": "get_tensor_dtype", "getTensorShape": "get_tensor_shape",
    "setTensorAddress": "set_tensor_address", "setInputShape": "set_input_shape", "enqueueV3": "execute_async_v3",
    "log": "log",
}


def _compiler() -> str:
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.fail("c++ not found: install the Debian package g++ (bash tools/setup.sh)", pytrace=False)
    return cxx


def _syntax_check(source: Path) -> subprocess.CompletedProcess:
    cmd = [_compiler(), "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{CPP / 'include'}",
           f"-I{CPP / 'src'}", "-isystem", str(DECLS), str(source)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("source", TRT_SOURCES)
def test_tensorrt_source_type_checks(source):
    proc = _syntax_check(CPP / source)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_a_misspelt_tensorrt_call_fails_the_check(tmp_path):
    bad = tmp_path / "bad.cpp"
    bad.write_text("#include <NvInfer.h>\nvoid f(nvinfer1::IRuntime& r) { r.setDlaCore(1); }\n")
    proc = _syntax_check(bad)
    assert proc.returncode != 0 and "setDlaCore" in proc.stderr


def test_every_declared_tensorrt_function_is_in_every_supported_name_list():
    text = re.sub(r"//[^\n]*", "", (DECLS / "NvInfer.h").read_text())
    declared = set(re.findall(r"\b([A-Za-z_]\w*)\s*\([^;{()]*\)\s*(?:const\s*)?noexcept", text))
    declared -= {"ILogger", "IRuntime", "ICudaEngine", "IExecutionContext", "INoCopy"}
    assert declared == set(PYTHON_NAME), "map each declared TensorRT function to its Python name"
    lists = {p.stem: {ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
             for p in sorted((ROOT / "tests" / "data" / "trt_api").glob("tensorrt-*.txt"))}
    assert len(lists) >= 3
    for version, names in lists.items():
        # Suffix match, as tools/trt_api_check.py (the linker tail-merges string literals).
        missing = [py for py in PYTHON_NAME.values() if py not in ("__version__", "log")
                   and not any(n.endswith(py) for n in names)]
        assert missing == [], f"{version}: {missing}"


def test_the_check_covers_every_tensorrt_translation_unit():
    cmake = (CPP / "CMakeLists.txt").read_text()
    listed = re.search(r"set\(ACT_EDGE_TRT_SOURCES([^)]*)\)", cmake).group(1).split()
    assert sorted(listed) == sorted(TRT_SOURCES)
    for path in CPP.joinpath("src").rglob("*.cpp"):  # every file including a TensorRT header is checked
        if "<NvInfer.h>" in path.read_text() or "cuda_raii.hpp" in path.read_text():
            assert path.relative_to(CPP).as_posix() in TRT_SOURCES, path
