// PostSteps (runtime.post_steps) and the model-output finite check (find_non_finite): parsing, the
// Python runtime's messages, and apply() against a hand-computed expectation.
#include "catch_compat.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "act_edge/action_check.hpp"
#include "act_edge/manifest.hpp"
#include "act_edge/post_steps.hpp"

using namespace act_edge;

namespace {

const char* kGood = R"([{"op": "snap_gripper", "indices": [1, 4], "threshold": [0.5, -0.25],
                         "low": [0.0, -1.0], "high": [1.0, 0.04],
                         "normalized": {"threshold": 0.0, "values": [-1.0, 1.0]}}])";

std::string error_of(const std::string& json_text, std::size_t action_dim = 5) {
    try {
        PostSteps p(json_text, action_dim);
    } catch (const BundleError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("post_steps: a snap_gripper step parses", "[post_steps]") {
    PostSteps p(kGood, 5);
    REQUIRE(p.snaps().size() == 2);
    CHECK(p.snaps()[0].index == 1);
    CHECK(p.snaps()[0].threshold == 0.5f);
    CHECK(p.snaps()[1].index == 4);
    CHECK(p.snaps()[1].high == 0.04f);
    CHECK(bool(p));
    CHECK(p.action_dim() == 5);
    CHECK(PostSteps("null", 5).empty());
    CHECK(PostSteps("[]", 5).empty());
    CHECK_FALSE(bool(PostSteps()));
    // Python's int(): a float index is truncated.
    CHECK(PostSteps(R"([{"op": "snap_gripper", "indices": [2.0], "threshold": [0], "low": [0], "high": [1]}])", 5)
              .snaps()[0].index == 2);
}

TEST_CASE("post_steps: bad entries give the Python runtime's messages", "[post_steps]") {
    const std::string tail = " (this runtime knows ['snap_gripper']); upgrade act-edge rather than run the policy without it";
    CHECK(error_of(R"([{"op": "clip"}])") == "manifest runtime.post_steps[0]: unknown op 'clip'" + tail);
    CHECK(error_of(R"([{"indices": [1]}])") == "manifest runtime.post_steps[0]: unknown op None" + tail);
    CHECK(error_of(R"([5])") == "manifest runtime.post_steps[0]: unknown op None" + tail);
    CHECK(error_of(R"([{"op": 3}])") == "manifest runtime.post_steps[0]: unknown op 3" + tail);
    CHECK(error_of(R"([{"op": "it's"}])") == "manifest runtime.post_steps[0]: unknown op \"it's\"" + tail);
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [1], "threshold": [0], "low": [0], "high": [1]},
                       {"op": "clip"}])") == "manifest runtime.post_steps[1]: unknown op 'clip'" + tail);
    const std::string needs = "manifest runtime.post_steps[0]: snap_gripper needs indices, threshold, low, high (";
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [1], "low": [0], "high": [1]}])") == needs + "'threshold')");
    CHECK(error_of(R"([{"op": "snap_gripper"}])") == needs + "'indices')");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": 1, "threshold": [0], "low": [0], "high": [1]}])") ==
          needs + "'int' object is not iterable)");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [1], "threshold": null, "low": [0], "high": [1]}])") ==
          needs + "'NoneType' object is not iterable)");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [1, 2], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: indices/threshold/low/high have different lengths");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [9], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: index 9 is outside the action's 0..4");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [-1], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: index -1 is outside the action's 0..4");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [5.5], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: index 5.5 is outside the action's 0..4");
    // issue 10 defect 8: 3.7 was silently dimension 3, true dimension 1 (6.0 stays dimension 6).
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [3.7], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: index 3.7 is not an integer");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [true], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: index True is not an integer");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [1], "threshold": [false], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: threshold[0] False is not a number");
    // Where Python raises something other than BundleError, C++ still refuses with one line.
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": ["a"], "threshold": [0], "low": [0], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: index 'a' is not an integer");
    CHECK(error_of(R"([{"op": "snap_gripper", "indices": [1], "threshold": [0], "low": [null], "high": [1]}])") ==
          "manifest runtime.post_steps[0]: low[0] None is not a number");
    CHECK(error_of(R"({"op": "snap_gripper"})") ==
          R"(manifest runtime.post_steps: expected a list of steps, got {"op":"snap_gripper"})");
    CHECK(error_of("[") == "manifest runtime.post_steps: not valid JSON");
    for (const std::string& bad : {error_of(R"([{"op": "clip"}])"), error_of(R"([{"op": "snap_gripper"}])")})
        CHECK(bad.find('\n') == std::string::npos);
}

TEST_CASE("post_steps: apply snaps in place, ties go to low", "[post_steps]") {
    PostSteps p(kGood, 5);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    const std::size_t rows = 37;
    std::vector<float> a(rows * 5);
    for (auto& x : a) x = nd(rng);
    a[0 * 5 + 1] = 0.5f;     // exactly at the threshold: low
    a[1 * 5 + 4] = -0.25f;   // idem
    a[2 * 5 + 1] = std::nextafter(0.5f, 1.0f);  // just above: high
    std::vector<float> want = a;
    for (std::size_t r = 0; r < rows; ++r) {
        float& g1 = want[r * 5 + 1];
        g1 = g1 > 0.5f ? 1.0f : 0.0f;
        float& g4 = want[r * 5 + 4];
        g4 = g4 > -0.25f ? 0.04f : -1.0f;
    }
    p.apply(a.data(), rows);
    CHECK(a == want);
    CHECK(a[0 * 5 + 1] == 0.0f);
    CHECK(a[1 * 5 + 4] == -1.0f);
    CHECK(a[2 * 5 + 1] == 1.0f);
    // No steps: nothing changes.
    std::vector<float> b = want;
    PostSteps().apply(b.data(), rows);
    CHECK(b == want);
}

TEST_CASE("post_steps: the manifest carries them, refused at load", "[post_steps]") {
    auto j = nlohmann::json::parse(R"({
      "format": "act-edge-bundle", "schema_version": 1,
      "spec": {"cameras": [{"name": "top", "height": 4, "width": 6}], "state_dim": 5, "action_dim": 5, "chunk_size": 3},
      "io": {"inputs": [{"name": "state", "dtype": "float32", "shape": ["batch", 5]}],
             "outputs": [{"name": "actions", "dtype": "float32", "shape": ["batch", 3, 5]}]},
      "runtime": {"temporal_ensemble_coeff": null, "n_action_steps": 3}
    })");
    CHECK(parse_manifest(j.dump(), "m.json").runtime.post_steps.empty());
    j["runtime"]["post_steps"] = nlohmann::json::parse(kGood);
    CHECK(parse_manifest(j.dump(), "m.json").runtime.post_steps.snaps().size() == 2);
    j["runtime"]["post_steps"] = nlohmann::json::parse(R"([{"op": "clip"}])");
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "m.json"),
                      "manifest runtime.post_steps[0]: unknown op 'clip' (this runtime knows ['snap_gripper']); "
                      "upgrade act-edge rather than run the policy without it");
}

TEST_CASE("find_non_finite: the Python runtime's ActionError message", "[action_check]") {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    std::vector<float> a(6 * 3, 0.25f);
    const std::int64_t s2[2] = {6, 3}, s3[3] = {2, 3, 3}, s1[1] = {18};
    CHECK_FALSE(find_non_finite(a.data(), s2, 2).has_value());
    CHECK_NOTHROW(check_finite(a.data(), s2, 2));
    a[4 * 3 + 1] = nan;
    a[5 * 3 + 2] = inf;
    const std::string tail = " (the ensemble/queue was not updated); check the observation's scale and the bundle";
    CHECK(find_non_finite(a.data(), s2, 2).value() == "model output: non-finite action nan at (4, 1)" + tail);
    CHECK(find_non_finite(a.data(), s3, 3).value() == "model output: non-finite action nan at (1, 1, 1)" + tail);
    CHECK(find_non_finite(a.data(), s1, 1).value() == "model output: non-finite action nan at (13,)" + tail);
    a[4 * 3 + 1] = -nan;
    CHECK(find_non_finite(a.data(), s2, 2).value() == "model output: non-finite action nan at (4, 1)" + tail);
    a[4 * 3 + 1] = 1.0f;
    CHECK(find_non_finite(a.data(), s2, 2).value() == "model output: non-finite action inf at (5, 2)" + tail);
    a[0] = -inf;
    CHECK_THROWS_AS(check_finite(a.data(), s2, 2), ActionError);
    CHECK_THROWS_WITH(check_finite(a.data(), s3, 3), "model output: non-finite action -inf at (0, 0, 0)" + tail);
    // Largest finite values are finite.
    std::vector<float> big{std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::denorm_min()};
    const std::int64_t sb[1] = {3};
    CHECK_FALSE(find_non_finite(big.data(), sb, 1).has_value());
    const std::int64_t empty[2] = {0, 3};
    CHECK_FALSE(find_non_finite(nullptr, empty, 2).has_value());
}
