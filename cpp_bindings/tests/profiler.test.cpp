#include <catch2/catch.hpp>

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

TEST_CASE("profiler report fields", "[profiler]") {
    Profiler p(100);
    for (int i = 1; i <= 100; ++i) p.record(Stage::Total, static_cast<double>(i));
    p.record(Stage::Infer, 10.0);
    p.record(Stage::Infer, 20.0);
    ProfileReport r = p.report();
    REQUIRE(r.stages[static_cast<int>(Stage::Total)].has_value());
    const StageStats& t = *r.stages[static_cast<int>(Stage::Total)];
    CHECK(t.count == 100);
    CHECK(t.p50_us == Approx(50.5));
    CHECK(t.p90_us == Approx(90.1));
    CHECK(t.p99_us == Approx(99.01));
    CHECK(t.max_us == 100);
    CHECK(t.mean_us == Approx(50.5));
    CHECK(t.std_us == Approx(28.86607));  // numpy std, ddof 0
    // |x - 50.5| for 1..100 = 0.5..49.5, each twice: p99 (index 98.01 of 100 sorted) = 49.5
    CHECK(r.jitter_us == Approx(49.5));
    CHECK_FALSE(r.stages[static_cast<int>(Stage::H2D)].has_value());
    auto j = nlohmann::json::parse(r.to_json());
    CHECK(j["infer"]["p50_us"] == 15.0);
    CHECK(j["infer"]["count"] == 2);
    CHECK(j.contains("jitter_us"));
    CHECK_FALSE(j.contains("h2d"));
    for (const char* k : {"p50_us", "p90_us", "p99_us", "max_us", "mean_us", "std_us", "count"}) CHECK(j["total"].contains(k));
}

TEST_CASE("profiler ring keeps the last samples", "[profiler]") {
    Profiler p(3);
    for (double x : {100.0, 1.0, 2.0, 3.0}) p.record(Stage::Ensemble, x);
    CHECK(p.count(Stage::Ensemble) == 3);
    CHECK(p.report().stages[static_cast<int>(Stage::Ensemble)]->max_us == 3.0);
    { Profiler::Scope s(p, Stage::Validate); }
    CHECK(p.count(Stage::Validate) == 1);
    p.clear();
    CHECK(p.count(Stage::Ensemble) == 0);
    CHECK(std::string(stage_name(Stage::H2D)) == "h2d");
}
