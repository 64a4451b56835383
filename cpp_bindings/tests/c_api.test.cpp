#include "catch_compat.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "act_edge/act_edge.h"
#include "act_edge/temporal_ensemble.hpp"

TEST_CASE("C API ensemble agrees with the C++ class", "[c_api]") {
    act_edge_ensemble* e = act_edge_ensemble_create(10, 3, 0.01);
    REQUIRE(e != nullptr);
    act_edge::TemporalEnsemble ref(10, 3, 0.01);
    std::vector<float> chunk(30), a(3), b(3);
    for (int s = 0; s < 25; ++s) {
        for (int i = 0; i < 30; ++i) chunk[i] = std::sin(0.1f * (s * 30 + i));
        REQUIRE(act_edge_ensemble_update(e, chunk.data(), 30, a.data(), 3) == ACT_EDGE_OK);
        REQUIRE(ref.update(chunk.data(), b.data()));
        CHECK(a == b);
    }
    CHECK(act_edge_ensemble_reset(e) == ACT_EDGE_OK);
    act_edge_ensemble_destroy(e);
    act_edge_ensemble_destroy(nullptr);
}

TEST_CASE("C API errors are codes and last_error, never exceptions", "[c_api]") {
    CHECK(act_edge_ensemble_create(0, 3, 0.01) == nullptr);
    CHECK(std::string(act_edge_last_error()).find("chunk_size and action_dim must be >= 1") != std::string::npos);
    CHECK(act_edge_ensemble_create(10, 3, NAN) == nullptr);
    CHECK(std::string(act_edge_last_error()) == "temporal_ensemble_coeff must be finite, got nan");
    // The Python runtime's limit |k| (C-1) <= 600 (a coefficient Python loads, the C API takes too).
    CHECK(act_edge_ensemble_create(100, 14, 7.0) == nullptr);
    CHECK(std::string(act_edge_last_error()) ==
          "temporal_ensemble_coeff 7.0 with chunk 100: weights span exp(693), beyond float64; use |coeff| <= 6.06");
    act_edge_ensemble* wide = act_edge_ensemble_create(100, 14, 1.0);  // span 99: double sums
    REQUIRE(wide != nullptr);
    act_edge_ensemble_destroy(wide);
    act_edge_ensemble* e = act_edge_ensemble_create(10, 3, 0.0);
    float out[3];
    std::vector<float> chunk(30);
    CHECK(act_edge_ensemble_update(e, chunk.data(), 29, out, 3) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    CHECK(act_edge_ensemble_update(nullptr, chunk.data(), 30, out, 3) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    CHECK(act_edge_ensemble_reset(nullptr) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    act_edge_ensemble_destroy(e);

    act_edge_options o;
    act_edge_options_init(&o);
    act_edge_policy* p = act_edge_policy_create("/nonexistent.actedge", &o);
    if (act_edge_has_tensorrt()) {
        CHECK(p == nullptr);
        CHECK(std::string(act_edge_last_error()).find("no manifest.json") != std::string::npos);
    } else {
        CHECK(p == nullptr);  // the stub TrtPolicy's BackendUnavailable, before any file is opened
        CHECK(std::string(act_edge_last_error()).rfind("built without TensorRT: ", 0) == 0);
        CHECK(act_edge_policy_step(nullptr, nullptr, 0, out, 3) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    }
    CHECK(act_edge_policy_create(nullptr, &o) == nullptr);

    CHECK(act_edge_schema_create("not json") == nullptr);
    CHECK(std::string(act_edge_last_error()) == "io.inputs: not valid JSON");
}

TEST_CASE("C API chunk queue", "[c_api]") {
    act_edge_chunk_queue* q = act_edge_chunk_queue_create(2, 1);
    REQUIRE(q);
    float chunk[3] = {1, 2, 3}, out = 0;
    CHECK(act_edge_chunk_queue_empty(q) == 1);
    CHECK(act_edge_chunk_queue_update(q, nullptr, 0, &out, 1) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    CHECK(act_edge_chunk_queue_update(q, chunk, 3, &out, 1) == ACT_EDGE_OK);
    CHECK(out == 1);
    CHECK(act_edge_chunk_queue_update(q, nullptr, 0, &out, 1) == ACT_EDGE_OK);
    CHECK(out == 2);
    CHECK(act_edge_chunk_queue_empty(q) == 1);
    CHECK(act_edge_chunk_queue_create(0, 1) == nullptr);
    act_edge_chunk_queue_destroy(q);
}

TEST_CASE("C API validation gives the documented messages", "[c_api]") {
    act_edge_schema* s = act_edge_schema_create(
        R"([{"name": "images", "dtype": "uint8", "shape": ["batch", 1, 4, 6, 3], "cameras": ["top"]},
            {"name": "state", "dtype": "float32", "shape": ["batch", 2]}])");
    REQUIRE(s);
    const int64_t img_shape[] = {4, 6, 3}, st_shape[] = {2};
    float state[2] = {0, NAN};
    act_edge_tensor obs[] = {{"images", "top", "uint8", 3, img_shape, nullptr},
                             {"state", nullptr, "float32", 1, st_shape, state}};
    CHECK(act_edge_validate(s, obs, 2, 0) == ACT_EDGE_ERR_OBSERVATION);
    CHECK(std::string(act_edge_last_error()) == "state: non-finite value nan at index 1");
    state[1] = 1;
    CHECK(act_edge_validate(s, obs, 2, 0) == ACT_EDGE_OK);
    CHECK(std::string(act_edge_last_error()).empty());
    CHECK(act_edge_validate(s, obs, 1, 0) == ACT_EDGE_ERR_OBSERVATION);
    CHECK(std::string(act_edge_last_error()) == "state: missing (expected float32 array of shape (2,))");
    act_edge_tensor bad = {nullptr, nullptr, "uint8", 0, nullptr, nullptr};
    CHECK(act_edge_validate(s, &bad, 1, 0) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    act_edge_schema_destroy(s);
}

TEST_CASE("C API: state given as a mapping is named with Python's message (issue 10 defect 2)", "[c_api]") {
    // A tensor with a camera name makes `state` a {name: array} mapping. The message once viewed a
    // destroyed std::string (garbage bytes here, a use-after-scope under AddressSanitizer).
    act_edge_schema* s = act_edge_schema_create(
        R"([{"name": "images", "dtype": "uint8", "shape": ["batch", 1, 4, 6, 3], "cameras": ["top"]},
            {"name": "state", "dtype": "float32", "shape": ["batch", 3]},
            {"name": "env_state", "dtype": "float32", "shape": ["batch", 2]}])");
    REQUIRE(s);
    const int64_t img_shape[] = {4, 6, 3}, st_shape[] = {3}, env_shape[] = {2};
    float state[3] = {0.3f, -1.7f, 2.2f}, env[2] = {0.9f, -0.4f};
    act_edge_tensor obs[] = {{"images", "top", "uint8", 3, img_shape, nullptr},
                             {"state", "joints", "float32", 1, st_shape, state},
                             {"env_state", nullptr, "float32", 1, env_shape, env}};
    for (int rep = 0; rep < 3; ++rep) {  // the freed bytes differ between calls
        CHECK(act_edge_validate(s, obs, 3, 0) == ACT_EDGE_ERR_OBSERVATION);
        CHECK(std::string(act_edge_last_error()) == "state: expected a numpy array, got dict");
    }
    obs[1] = {"state", nullptr, "float32", 1, st_shape, state};
    obs[2] = {"env_state", "a", "float32", 1, env_shape, env};
    CHECK(act_edge_validate(s, obs, 3, 0) == ACT_EDGE_ERR_OBSERVATION);
    CHECK(std::string(act_edge_last_error()) == "env_state: expected a numpy array, got dict");
    act_edge_schema_destroy(s);
}

TEST_CASE("C API ensemble and queue refuse non-finite chunks with Python's ActionError text (issue 10 defect 3c)", "[c_api]") {
    act_edge_ensemble* e = act_edge_ensemble_create(10, 3, 0.01);
    act_edge::TemporalEnsemble twin(10, 3, 0.01);
    REQUIRE(e);
    std::vector<float> chunk(30), a(3), b(3);
    for (int s = 0; s < 40; ++s) {
        for (int i = 0; i < 30; ++i) chunk[i] = std::cos(0.37f * (s * 30 + i)) * (1.0f + 0.1f * s);
        if (s % 5 == 2) {
            std::vector<float> bad = chunk;
            bad[13] = s % 2 ? -INFINITY : NAN;  // row 4, dim 1
            bad[29] = INFINITY;
            a.assign(3, -5.0f);
            CHECK(act_edge_ensemble_update(e, bad.data(), 30, a.data(), 3) == ACT_EDGE_ERR_ACTION);
            CHECK(std::string(act_edge_last_error()) ==
                  std::string("model output: non-finite action ") + (s % 2 ? "-inf" : "nan") +
                      " at (4, 1) (the ensemble/queue was not updated); check the observation's scale and the bundle");
            CHECK(a == std::vector<float>(3, -5.0f));
        }
        REQUIRE(act_edge_ensemble_update(e, chunk.data(), 30, a.data(), 3) == ACT_EDGE_OK);
        REQUIRE(twin.update(chunk.data(), b.data()));
        REQUIRE(a == b);  // the refused chunks left no trace
    }
    act_edge_ensemble_destroy(e);

    act_edge_chunk_queue* q = act_edge_chunk_queue_create(2, 2);
    REQUIRE(q);
    float good[6] = {0.5f, -1.5f, 2.25f, 3.0f, -0.75f, 1.25f}, bad[6], out[2] = {9.0f, 9.0f};
    std::copy(good, good + 6, bad);
    bad[5] = NAN;  // row 2: not queued, still refused (the whole chunk, as Python)
    CHECK(act_edge_chunk_queue_update(q, bad, 3, out, 2) == ACT_EDGE_ERR_ACTION);
    CHECK(std::string(act_edge_last_error()) ==
          "model output: non-finite action nan at (2, 1) (the ensemble/queue was not updated); check the observation's scale and the bundle");
    CHECK(act_edge_chunk_queue_empty(q) == 1);
    CHECK(out[0] == 9.0f);
    CHECK(act_edge_chunk_queue_update(q, good, 3, out, 2) == ACT_EDGE_OK);
    CHECK(out[0] == 0.5f);
    CHECK(out[1] == -1.5f);
    act_edge_chunk_queue_destroy(q);
}

TEST_CASE("C API ensemble add/pop agree with the C++ class; options default to sync", "[c_api][async]") {
    act_edge_ensemble* e = act_edge_ensemble_create(6, 2, 0.01);
    REQUIRE(e != nullptr);
    act_edge::TemporalEnsemble ref(6, 2, 0.01);
    std::mt19937 rng(21);
    std::normal_distribution<float> nd;
    std::vector<float> chunk(12), a(2), b(2);
    for (int s = 0; s < 40; ++s) {
        if (s % 3 != 1) {  // gaps every third tick
            for (auto& x : chunk) x = nd(rng);
            const std::size_t age = static_cast<std::size_t>(s % 8);
            REQUIRE(act_edge_ensemble_add(e, chunk.data(), 12, age) == ACT_EDGE_OK);
            REQUIRE(ref.add(chunk.data(), age));
        }
        int starved = -1;
        const act_edge::PopResult want = ref.pop(b.data());
        if (want == act_edge::PopResult::empty) {  // no action since reset: an error, nothing written
            CHECK(act_edge_ensemble_pop(e, a.data(), 2, &starved) == ACT_EDGE_ERR_ACTION);
            CHECK(std::string(act_edge_last_error()) == act_edge::kEnsembleEmptyMessage);
            continue;
        }
        REQUIRE(act_edge_ensemble_pop(e, a.data(), 2, &starved) == ACT_EDGE_OK);
        CHECK(starved == (want == act_edge::PopResult::starved ? 1 : 0));
        CHECK(a == b);
    }
    chunk[0] = INFINITY;
    CHECK(act_edge_ensemble_add(e, chunk.data(), 12, 3) == ACT_EDGE_ERR_ACTION);
    CHECK(std::string(act_edge_last_error()).rfind("model output: non-finite action inf at (0, 0)", 0) == 0);
    CHECK(act_edge_ensemble_add(e, chunk.data(), 11, 0) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    CHECK(act_edge_ensemble_pop(e, a.data(), 3, nullptr) == ACT_EDGE_ERR_INVALID_ARGUMENT);
    act_edge_ensemble_destroy(e);

    act_edge_options o;
    act_edge_options_init(&o);
    CHECK(o.inference == ACT_EDGE_INFERENCE_SYNC);
    CHECK(o.refill_margin == -1);
}
