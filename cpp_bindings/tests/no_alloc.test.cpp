// The control-loop paths allocate nothing: ensemble/queue update and add/pop, the async stepper's
// step() (hand-off to the worker, folding in, reset), profiler record, validation of a valid
// observation, the finite check of a finite chunk, post-steps. Counted by replacing the global operator new in this test binary.
#include "catch_compat.hpp"

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "act_edge/action_check.hpp"
#include "act_edge/async_runner.hpp"
#include "act_edge/observation.hpp"
#include "act_edge/post_steps.hpp"
#include "act_edge/profiler.hpp"
#include "act_edge/temporal_ensemble.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

// The whole replaceable set (plain, array, nothrow), so that every delete frees what a matching new
// malloc'ed: replacing only some of them pairs a library's new with this free (AddressSanitizer:
// alloc-dealloc-mismatch, e.g. Catch2's nothrow new).
void* operator new(std::size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++g_allocations;
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

TEST_CASE("hot paths do not allocate", "[alloc]") {
    act_edge::TemporalEnsemble e(100, 14, 0.01);
    act_edge::ChunkQueue q(10, 14);
    act_edge::Profiler prof(64);
    std::vector<float> chunk(100 * 14, 0.5f), out(14);
    auto schema = act_edge::ObservationSchema::from_io_inputs_json(
        R"([{"name": "images", "dtype": "uint8", "shape": ["batch", 1, 4, 6, 3], "cameras": ["top"]},
            {"name": "state", "dtype": "float32", "shape": ["batch", 14]}])");
    act_edge::Observation obs;
    obs.fields.reserve(4);
    obs.add_cameras("images").cameras.emplace_back("top", act_edge::ArrayView("uint8", {4, 6, 3}));
    obs.add_array("state", act_edge::ArrayView("float32", {14}, chunk.data()));
    act_edge::PostSteps post(R"([{"op": "snap_gripper", "indices": [6, 13], "threshold": [0.5, 0.5],
                                  "low": [0, 0], "high": [1, 1]}])", 14);
    const std::int64_t chunk_shape[2] = {100, 14};

    const long before = g_allocations.load();
    for (int s = 0; s < 1000; ++s) {
        prof.begin_step();
        {
            act_edge::Profiler::Scope total(prof, act_edge::Stage::Total);
            REQUIRE_FALSE(act_edge::find_non_finite(chunk.data(), chunk_shape, 2).has_value());
            REQUIRE(e.update(chunk.data(), out.data()));
            post.apply(out.data(), 1);
            REQUIRE(q.update(chunk.data(), 100, out.data()));
            prof.record(act_edge::Stage::Infer, 1.0);
            REQUIRE_FALSE(act_edge::check_observation(schema, obs).has_value());
            if (s == 500) e.reset();
        }
        prof.end_step();
    }
    CHECK(g_allocations.load() == before);
}

namespace {
// Completes at once with a chunk that depends on the staged tick (no allocation in infer()).
class InstantModel : public act_edge::ChunkModel {
public:
    std::uint64_t staged = 0;
    void infer(float* out) override {
        for (std::size_t i = 0; i < 100 * 14; ++i) out[i] = static_cast<float>((staged * 31 + i) % 97) * 0.01f - 0.4f;
    }
};
}  // namespace

TEST_CASE("async step does not allocate (control thread and worker)", "[alloc][async]") {
    // The counter sees every thread: the worker's side (wait, infer, finite check, hand-off) is
    // counted too. Allocation happens in the constructors only.
    for (auto mode : {act_edge::AsyncOptions::Mode::Ensemble, act_edge::AsyncOptions::Mode::ChunkQueue}) {
        InstantModel model;
        act_edge::AsyncOptions opt;
        opt.mode = mode;
        opt.n_action_steps = 20;
        act_edge::AsyncStepper stepper(model, 100, 14, opt);
        std::vector<float> out(14);
        std::vector<float> chunk(100 * 14, 0.25f);
        act_edge::TemporalEnsemble e(100, 14, 0.01);
        const long before = g_allocations.load();
        for (int s = 0; s < 1000; ++s) {
            stepper.step([&] { model.staged = stepper.tick(); }, out.data());
            if (s % 3 == 0) (void)e.add(chunk.data(), static_cast<std::size_t>(s % 120));
            (void)e.pop(out.data());
            if (s == 400) stepper.reset();  // maybe with a request in flight
            if (s % 10 == 5) stepper.runner().wait();  // let the worker finish (and be counted) on a loaded machine
        }
        CHECK(g_allocations.load() == before);
        CHECK(stepper.stats().inferences >= 40);  // the worker's side really ran (queue: one chunk per ~20 ticks)
    }
}
