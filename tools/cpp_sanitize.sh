#!/usr/bin/env bash
# cpp_bindings under AddressSanitizer + UndefinedBehaviorSanitizer (any finding fatal): a second
# CMake build in build/cpp-asan (-DACT_EDGE_SANITIZE=ON), its ctest suite with leak checking, then the
# pybind parity tests (tests/test_cpp_bindings.py) against the sanitized module. The module is
# loaded into a non-instrumented python, so the ASan runtime is preloaded and leak checking is off
# for that run (python's own allocations at exit are not ours); --capture=sys leaves fd 2 to a
# sanitizer report, which pytest's default fd capture would swallow when the process aborts.
#   tools/cpp_sanitize.sh [python]        (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
BUILD=build/cpp-asan
JOBS="$(nproc 2>/dev/null || echo 2)"

cmake -S cpp_bindings -B "$BUILD" -DACT_EDGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DACT_EDGE_BUILD_PYTHON=ON -DACT_EDGE_BUILD_BENCH=OFF -DPython_EXECUTABLE="$("$PY" -c 'import sys; print(sys.executable)')" >/dev/null
cmake --build "$BUILD" -j "$JOBS"

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1" \
    ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"

# libstdc++ is preloaded too: python does not link it, and ASan resolves the real __cxa_throw when it
# starts (without it the first C++ exception aborts with "CHECK failed ... real___cxa_throw").
LIBASAN="$(${CXX:-c++} -print-file-name=libasan.so)"
LIBSTDCXX="$(${CXX:-c++} -print-file-name=libstdc++.so)"
for lib in "$LIBASAN" "$LIBSTDCXX"; do
    [ -f "$lib" ] || { echo "cpp_sanitize: $lib not found (${CXX:-c++} -print-file-name)" >&2; exit 1; }
done
ACT_EDGE_CPP_SANITIZE=1 LD_PRELOAD="$LIBASAN $LIBSTDCXX" ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=1" \
    PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" \
    "$PY" -m pytest tests/test_cpp_bindings.py tests/test_cpp_async.py -q -p no:cacheprovider --capture=sys \
    --deselect tests/test_cpp_bindings.py::test_ctest
