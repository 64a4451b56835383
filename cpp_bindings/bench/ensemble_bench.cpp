// Google Benchmark of TemporalEnsemble::update (steady state) and ChunkQueue::update.
//   cmake --build build --target ensemble_bench && build/ensemble_bench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "act_edge/temporal_ensemble.hpp"

static void BM_EnsembleStep(benchmark::State& state) {
    const auto C = static_cast<std::size_t>(state.range(0)), A = static_cast<std::size_t>(state.range(1));
    act_edge::TemporalEnsemble e(C, A, 0.01);
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    std::vector<float> chunks(8 * C * A), out(A);  // 8 different chunks, as a policy would produce
    for (auto& x : chunks) x = nd(rng);
    bool ok = true;
    for (std::size_t i = 0; i < 2 * C; ++i) ok &= e.update(chunks.data() + (i % 8) * C * A, out.data());  // past warm-up
    std::size_t i = 0;
    for (auto _ : state) {
        ok &= e.update(chunks.data() + (i++ % 8) * C * A, out.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    if (!ok) state.SkipWithError("a finite chunk was refused");
}
BENCHMARK(BM_EnsembleStep)->Args({100, 14})->Args({20, 23})->Args({100, 7})->Repetitions(5)->ReportAggregatesOnly(true);

static void BM_ChunkQueueStep(benchmark::State& state) {
    act_edge::ChunkQueue q(100, 14);
    std::vector<float> chunk(100 * 14, 1.0f), out(14);
    bool ok = true;
    for (auto _ : state) {
        ok &= q.update(chunk.data(), 100, out.data());
        benchmark::DoNotOptimize(out.data());
    }
    if (!ok) state.SkipWithError("a finite chunk was refused");
}
BENCHMARK(BM_ChunkQueueStep);

BENCHMARK_MAIN();
