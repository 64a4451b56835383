#include "catch_compat.hpp"

#include <nlohmann/json.hpp>

#include "act_edge/profiler.hpp"

using namespace act_edge;

TEST_CASE("percentiles interpolate linearly like numpy", "[profiler]") {
    std::vector<double> v = {4, 1, 3, 2};  // sorted 1 2 3 4
    CHECK(percentile(v, 50) == Approx(2.5));
    CHECK(percentile(v, 90) == Approx(3.7));
    CHECK(percentile(v, 0) == 1);
    CHECK(percentile(v, 100) == 4);
}

TEST_CASE("stage names are the Python profiler's", "[profiler]") {
    const char* python[kNumStages] = {"validate", "stage_inputs", "host_to_device", "infer", "device_to_host", "ensemble", "total"};
    for (int s = 0; s < kNumStages; ++s) {
        CHECK(std::string(stage_name(static_cast<Stage>(s))) == python[s]);
        CHECK(stage_from_name(python[s]) == static_cast<Stage>(s));
    }
    CHECK_FALSE(stage_from_name("h2d").has_value());
}

TEST_CASE("profiler report fields", "[profiler]") {
    Profiler p(100);
    for (int i = 1; i <= 100; ++i) {
        p.begin_step();
        if (i <= 2) p.record(Stage::Infer, 10.0 * i);  // infer runs in 2 steps, skipped (0) in the rest
        p.record(Stage::Total, static_cast<double>(i));
        p.end_step();
    }
    CHECK(p.steps() == 100);
    CHECK(p.window() == 100);
    ProfileReport r = p.report();
    CHECK(r.steps == 100);
    CHECK(r.window == 100);
    REQUIRE(r.stages[static_cast<int>(Stage::Total)].has_value());
    const StageStats& t = *r.stages[static_cast<int>(Stage::Total)];
    CHECK(t.count == 100);
    CHECK(t.p50 == Approx(50.5));
    CHECK(t.p90 == Approx(90.1));
    CHECK(t.p99 == Approx(99.01));
    CHECK(t.max == 100);
    CHECK(t.mean == Approx(50.5));
    CHECK(t.std_dev == Approx(28.86607));  // numpy std, ddof 0
    REQUIRE(r.jitter.has_value());
    CHECK(r.jitter->std_dev == Approx(28.86607));
    // |x - 50.5| for 1..100 = 0.5..49.5, each twice: p99 (index 98.01 of 100 sorted) = 49.5
    CHECK(r.jitter->p99_abs_dev == Approx(49.5));
    CHECK(r.jitter->max_abs_dev == Approx(49.5));
    REQUIRE(r.stages[static_cast<int>(Stage::Infer)].has_value());
    CHECK(r.stages[static_cast<int>(Stage::Infer)]->count == 2);
    CHECK_FALSE(r.stages[static_cast<int>(Stage::HostToDevice)].has_value());

    const std::string text = r.to_json();
    auto j = nlohmann::json::parse(text);
    // Python's key order: steps, window, unit, stages, jitter; per stage count, p50 ... std.
    CHECK(text.rfind("{\"steps\": 100, \"window\": 100, \"unit\": \"us\", \"stages\": {\"infer\": {\"count\": 2, \"p50\": 15.0, ", 0) == 0);
    CHECK(j["unit"] == "us");
    CHECK(j["stages"]["infer"]["p50"] == 15.0);
    CHECK(j["stages"]["infer"]["p50"].is_number_float());
    CHECK(j["stages"]["infer"]["count"] == 2);
    CHECK_FALSE(j["stages"].contains("host_to_device"));
    for (const char* k : {"count", "p50", "p90", "p99", "max", "mean", "std"}) CHECK(j["stages"]["total"].contains(k));
    for (const char* k : {"std", "p99_abs_dev", "max_abs_dev"}) CHECK(j["jitter"].contains(k));
}

TEST_CASE("empty profiler reports no stages and no jitter", "[profiler]") {
    Profiler p(4);
    ProfileReport r = p.report();
    CHECK_FALSE(r.jitter.has_value());
    CHECK(r.to_json() == "{\"steps\": 0, \"window\": 0, \"unit\": \"us\", \"stages\": {}}");
}

TEST_CASE("profiler ring keeps the last steps", "[profiler]") {
    Profiler p(3);
    for (double x : {100.0, 1.0, 2.0, 3.0}) p.record_step({0, 0, 0, 0, 0, x, x});
    CHECK(p.steps() == 4);
    CHECK(p.window() == 3);
    ProfileReport r = p.report();
    CHECK(r.stages[static_cast<int>(Stage::Ensemble)]->count == 3);
    CHECK(r.stages[static_cast<int>(Stage::Ensemble)]->max == 3.0);
    p.begin_step();
    { Profiler::Scope s(p, Stage::Validate); }
    p.record(Stage::Validate, 1.0);  // durations add up within a step
    p.record(Stage::Total, 5.0);
    p.end_step();
    r = p.report();
    CHECK(r.stages[static_cast<int>(Stage::Validate)]->count == 1);
    CHECK(r.stages[static_cast<int>(Stage::Validate)]->max >= 1.0);
    CHECK(r.stages[static_cast<int>(Stage::Ensemble)]->count == 2);  // 1.0 fell out of the ring
    p.clear();
    CHECK(p.steps() == 0);
    CHECK(p.report().to_json() == "{\"steps\": 0, \"window\": 0, \"unit\": \"us\", \"stages\": {}}");
}
