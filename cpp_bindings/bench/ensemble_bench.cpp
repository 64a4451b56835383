// Google Benchmark of TemporalEnsemble::update (steady state) and ChunkQueue::update.
//   cmake --build build --target ensemble_bench && build/ensemble_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "act_edge/async_runner.hpp"
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

// Async ensemble: a chunk of age 2 every other tick, pop() every tick (starved never: C = 100).
static void BM_EnsembleAddPop(benchmark::State& state) {
    act_edge::TemporalEnsemble e(100, 14, 0.01);
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    std::vector<float> chunks(8 * 100 * 14), out(14);
    for (auto& x : chunks) x = nd(rng);
    bool ok = true;
    std::size_t i = 0;
    for (int w = 0; w < 200; ++w, ++i) {
        if (i % 2 == 0) ok &= e.add(chunks.data() + (i % 8) * 1400, 2);
        (void)e.pop(out.data());
    }
    for (auto _ : state) {
        if (i % 2 == 0) ok &= e.add(chunks.data() + (i % 8) * 1400, 2);
        (void)e.pop(out.data());
        ++i;
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    if (!ok) state.SkipWithError("a finite chunk was refused");
}
BENCHMARK(BM_EnsembleAddPop)->Repetitions(5)->ReportAggregatesOnly(true);

// AsyncStepper::step on the control thread (model: a 1400-float copy on the worker, so chunks arrive
// as fast as the worker can take them): hand-off, folding in, pop.
namespace {
class CopyModel : public act_edge::ChunkModel {
public:
    std::vector<float> chunk = std::vector<float>(1400, 0.5f);
    void infer(float* out) override { std::copy(chunk.begin(), chunk.end(), out); }
};
}  // namespace
static void BM_AsyncStep(benchmark::State& state) {
    CopyModel model;
    act_edge::AsyncStepper stepper(model, 100, 14, act_edge::AsyncOptions{});
    std::vector<float> out(14);
    for (auto _ : state) {
        stepper.step([] {}, out.data());
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["inferences_per_step"] = static_cast<double>(stepper.stats().inferences) / static_cast<double>(stepper.stats().ticks);
}
BENCHMARK(BM_AsyncStep)->Repetitions(5)->ReportAggregatesOnly(true);

BENCHMARK_MAIN();
