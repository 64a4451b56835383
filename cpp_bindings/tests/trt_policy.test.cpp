// What of TrtPolicy runs without a GPU: staging an observation into host input buffers
// (input_staging, used by TrtPolicy as is) and, in a build without TensorRT, the stub TrtPolicy.
#include "catch_compat.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "act_edge/trt_policy.hpp"
#include "input_staging.hpp"

using namespace act_edge;

namespace {

// Two 4x6 RGB cameras stacked in "images" (top at index 0, wrist at 1), state 3, env_state 2.
const char* kIo = R"([
  {"name": "images", "dtype": "uint8", "shape": ["batch", 2, 4, 6, 3], "layout": "BNHWC", "cameras": ["top", "wrist"]},
  {"name": "state", "dtype": "float32", "shape": ["batch", 3], "layout": "BS", "units": "robot"},
  {"name": "env_state", "dtype": "float32", "shape": ["batch", 2], "layout": "BE", "units": "robot"}
])";
constexpr std::size_t kFrame = 4 * 6 * 3, kMaxBatch = 3;

struct Buffers {
    std::vector<std::uint8_t> images = std::vector<std::uint8_t>(kMaxBatch * 2 * kFrame, 0xAB);
    std::vector<float> state = std::vector<float>(kMaxBatch * 3, -7.0f), env = std::vector<float>(kMaxBatch * 2, -7.0f);
    std::vector<HostInput> inputs() {
        return {{"images", images.data(), 2 * kFrame, 2}, {"state", state.data(), 3 * sizeof(float), 1},
                {"env_state", env.data(), 2 * sizeof(float), 1}};
    }
};

template <class T>
std::vector<T> random_values(std::size_t n, std::mt19937& rng) {
    std::vector<T> v(n);
    std::uniform_real_distribution<double> u(-3.0, 3.0);
    std::uniform_int_distribution<int> b(0, 255);
    for (auto& x : v) x = std::is_integral<T>::value ? static_cast<T>(b(rng)) : static_cast<T>(u(rng));
    return v;
}

}  // namespace

TEST_CASE("staging: per-camera frames go to their index along N, float64 vectors become float32", "[staging]") {
    const ObservationSchema schema = ObservationSchema::from_io_inputs_json(kIo);
    std::mt19937 rng(12);
    const std::size_t batch = 2;
    auto top = random_values<std::uint8_t>(batch * kFrame, rng), wrist = random_values<std::uint8_t>(batch * kFrame, rng);
    auto state = random_values<float>(batch * 3, rng);
    auto env = random_values<double>(batch * 2, rng);
    Observation obs;
    auto& im = obs.add_cameras("images");  // the caller's order is not the graph's
    im.cameras.emplace_back("wrist", ArrayView("uint8", {2, 4, 6, 3}, wrist.data()));
    im.cameras.emplace_back("top", ArrayView("uint8", {2, 4, 6, 3}, top.data()));
    obs.add_array("state", ArrayView("float32", {2, 3}, state.data()));
    obs.add_array("env_state", ArrayView("float64", {2, 2}, env.data()));
    validate_observation(schema, obs, true);

    Buffers buf;
    InputStager stager(schema, buf.inputs());
    REQUIRE(stager.batch_of(obs, true) == batch);
    CHECK(stager.batch_of(obs, false) == 1);
    stager.stage(obs, batch);
    for (std::size_t i = 0; i < batch; ++i) {  // item i = [top_i, wrist_i]
        CHECK(std::memcmp(buf.images.data() + (2 * i) * kFrame, top.data() + i * kFrame, kFrame) == 0);
        CHECK(std::memcmp(buf.images.data() + (2 * i + 1) * kFrame, wrist.data() + i * kFrame, kFrame) == 0);
    }
    for (std::size_t k = 0; k < batch * 3; ++k) CHECK(buf.state[k] == state[k]);
    for (std::size_t k = 0; k < batch * 2; ++k) CHECK(buf.env[k] == static_cast<float>(env[k]));
    // Past the batch nothing is written.
    CHECK(buf.images[batch * 2 * kFrame] == 0xAB);
    CHECK(buf.state[batch * 3] == -7.0f);
    CHECK(buf.env[batch * 2] == -7.0f);
}

TEST_CASE("staging: a stacked images array is copied as is", "[staging]") {
    const ObservationSchema schema = ObservationSchema::from_io_inputs_json(kIo);
    std::mt19937 rng(13);
    auto images = random_values<std::uint8_t>(2 * kFrame, rng);
    auto state = random_values<float>(3, rng), env = random_values<float>(2, rng);
    Observation obs;
    obs.add_array("images", ArrayView("uint8", {2, 4, 6, 3}, images.data()));
    obs.add_array("state", ArrayView("float32", {3}, state.data()));
    obs.add_array("env_state", ArrayView("float32", {2}, env.data()));
    validate_observation(schema, obs, false);
    Buffers buf;
    InputStager stager(schema, buf.inputs());
    stager.stage(obs, stager.batch_of(obs, false));
    CHECK(std::memcmp(buf.images.data(), images.data(), images.size()) == 0);
    CHECK(std::vector<float>(buf.state.begin(), buf.state.begin() + 3) == state);
    CHECK(std::vector<float>(buf.env.begin(), buf.env.begin() + 2) == env);
}

TEST_CASE("staging: an array without data is refused naming it, nothing written", "[staging]") {
    const ObservationSchema schema = ObservationSchema::from_io_inputs_json(kIo);
    std::vector<float> state(3, 0.5f), env(2, 0.25f);
    Observation obs;
    auto& im = obs.add_cameras("images");
    std::vector<std::uint8_t> top(kFrame, 9);
    im.cameras.emplace_back("top", ArrayView("uint8", {4, 6, 3}, top.data()));
    im.cameras.emplace_back("wrist", ArrayView("uint8", {4, 6, 3}));  // shape only
    obs.add_array("state", ArrayView("float32", {3}, state.data()));
    obs.add_array("env_state", ArrayView("float32", {2}, env.data()));
    Buffers buf;
    InputStager stager(schema, buf.inputs());
    CHECK_THROWS_WITH(stager.batch_of(obs, false), "images['wrist']: ArrayView has no data pointer");
    CHECK(buf.images[0] == 0xAB);
}

TEST_CASE("staging: an input the engine lacks is a BundleError naming it", "[staging]") {
    const ObservationSchema schema = ObservationSchema::from_io_inputs_json(kIo);
    std::vector<float> state(3, 0.5f), env(2, 0.25f);
    std::vector<std::uint8_t> images(2 * kFrame, 1);
    Observation obs;
    obs.add_array("images", ArrayView("uint8", {2, 4, 6, 3}, images.data()));
    obs.add_array("state", ArrayView("float32", {3}, state.data()));
    obs.add_array("env_state", ArrayView("float32", {2}, env.data()));
    Buffers buf;
    auto inputs = buf.inputs();
    inputs.pop_back();  // an engine without env_state
    InputStager stager(schema, inputs);
    CHECK_THROWS_AS(stager.stage(obs, 1), BundleError);
    CHECK_THROWS_WITH(stager.stage(obs, 1), "engine has no input 'env_state'");
}

TEST_CASE("TrtPolicy without TensorRT: the stub refuses with BackendUnavailable", "[trt_policy]") {
    if (tensorrt_available()) {
        SUCCEED("built with TensorRT: the real TrtPolicy runs only on a GPU");
        return;
    }
    TrtPolicyOptions opt;
    opt.bundle_dir = "/nonexistent.actedge";
    CHECK_THROWS_AS(TrtPolicy(opt), BackendUnavailable);
    try {
        TrtPolicy p(opt);
    } catch (const BackendUnavailable& e) {
        CHECK(std::string(e.what()).rfind("built without TensorRT: ", 0) == 0);
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
    CHECK_THROWS_AS(this_machine(0), BackendUnavailable);
}
