#include "catch_compat.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "act_edge/manifest.hpp"
#include "act_edge/observation.hpp"

using namespace act_edge;

namespace {

// io.inputs as act_edge/bundle.py writes them: two 480x640 cameras, state 14, env_state 5.
const char* kIo = R"([
  {"name": "images", "dtype": "uint8", "shape": ["batch", 2, 480, 640, 3], "layout": "BNHWC", "cameras": ["top", "wrist"]},
  {"name": "state", "dtype": "float32", "shape": ["batch", 14], "layout": "BS", "units": "robot"},
  {"name": "env_state", "dtype": "float32", "shape": ["batch", 5], "layout": "BE", "units": "robot"}
])";

struct Obs {
    std::vector<float> state = std::vector<float>(14, 0.5f);
    std::vector<double> env = std::vector<double>(5, 0.25);
    Observation o;
    Obs() {
        auto& im = o.add_cameras("images");
        im.cameras.emplace_back("top", ArrayView("uint8", {480, 640, 3}));
        im.cameras.emplace_back("wrist", ArrayView("uint8", {480, 640, 3}));
        o.add_array("state", ArrayView("float32", {14}, state.data()));
        o.add_array("env_state", ArrayView("float64", {5}, env.data()));
    }
    ObservationField& field(std::string_view name) {
        for (auto& f : o.fields)
            if (f.name == name) return f;
        throw std::logic_error("no field");
    }
};

std::string message(const Observation& o, bool batched = false) {
    static const ObservationSchema schema = ObservationSchema::from_io_inputs_json(kIo);
    auto m = check_observation(schema, o, batched);
    return m ? *m : "";
}

}  // namespace

TEST_CASE("schema from io.inputs", "[observation]") {
    auto s = ObservationSchema::from_io_inputs_json(kIo);
    REQUIRE(s.cameras.size() == 2);
    CHECK(s.cameras[1].name == "wrist");
    CHECK(s.cameras[1].index == 1);
    CHECK(s.state_dim == 14);
    CHECK(s.env_state_dim == 5);
    CHECK(s.fields == std::vector<std::string>{"env_state", "images", "state"});
    CHECK_THROWS_AS(ObservationSchema::from_io_inputs_json(R"([{"name": "foo", "dtype": "uint8", "shape": [1]}])"), BundleError);
}

TEST_CASE("valid observations pass", "[observation]") {
    Obs ob;
    CHECK(message(ob.o) == "");
    Observation stacked;
    std::vector<float> st(14, 0.f);
    std::vector<float> en(5, 0.f);
    stacked.add_array("state", ArrayView("float32", {14}, st.data()));
    stacked.add_array("images", ArrayView("uint8", {2, 480, 640, 3}));
    stacked.add_array("env_state", ArrayView("float32", {5}, en.data()));
    CHECK(message(stacked) == "");
}

TEST_CASE("messages match docs/observation-rules.md", "[observation]") {
    SECTION("unknown top-level key") {
        Obs ob;
        ob.o.add_array("joints", ArrayView("float32", {14}));
        CHECK(message(ob.o) == "observation['joints']: unknown field (expected one of ['env_state', 'images', 'state'])");
    }
    SECTION("missing top-level key") {
        Obs ob;
        ob.o.fields.erase(ob.o.fields.begin() + 1);  // state
        CHECK(message(ob.o) == "state: missing (expected float32 array of shape (14,))");
        CHECK(message(ob.o, true) == "state: missing (expected float32 array of shape (batch, 14))");
        ob.o.fields.erase(ob.o.fields.begin());  // images too: state is still reported first (check order)
        CHECK(message(ob.o) == "state: missing (expected float32 array of shape (14,))");
        ob.o.fields.erase(ob.o.fields.begin(), ob.o.fields.end());
        Obs only_state;
        only_state.o.fields.erase(only_state.o.fields.begin());  // images alone missing
        CHECK(message(only_state.o) == "images: missing (expected uint8 array of shape (2, 480, 640, 3))");
    }
    SECTION("unknown camera") {
        Obs ob;
        ob.field("images").cameras.emplace_back("left", ArrayView("uint8", {480, 640, 3}));
        CHECK(message(ob.o) == "images['left']: unknown camera (expected one of ['top', 'wrist'])");
    }
    SECTION("missing camera") {
        Obs ob;
        ob.field("images").cameras.erase(ob.field("images").cameras.begin());
        CHECK(message(ob.o) == "images['top']: missing (expected uint8 array of shape (480, 640, 3))");
        CHECK(message(ob.o, false) == "images['top']: missing (expected uint8 array of shape (480, 640, 3))");
    }
    SECTION("wrong dtype") {
        Obs ob;
        ob.field("state").array.dtype = "int64";
        CHECK(message(ob.o) == "state: expected dtype float32, got int64");
        Obs ob2;
        ob2.field("images").cameras[1].second.dtype = "float32";
        CHECK(message(ob2.o) == "images['wrist']: expected dtype uint8, got float32");
    }
    SECTION("wrong shape") {
        Obs ob;
        ob.field("state").array = ArrayView("float32", {1, 14}, ob.state.data());
        CHECK(message(ob.o) == "state: expected shape (14,), got (1, 14)");
        Obs ob2;
        ob2.field("images").cameras[0].second = ArrayView("uint8", {640, 480, 3});
        CHECK(message(ob2.o) == "images['top']: expected shape (480, 640, 3), got (640, 480, 3)");
        Obs ob3;
        ob3.o.fields[0] = Observation().add_array("images", ArrayView("uint8", {480, 640, 3}));
        CHECK(message(ob3.o) == "images: expected shape (2, 480, 640, 3), got (480, 640, 3)");
    }
    SECTION("a mapping or other value where a vector belongs (issue 10 defect 2)") {
        // Its type name once came from a destroyed std::string: garbage, or use-after-scope under ASan.
        Obs ob;
        Observation mapping;
        mapping.add_cameras("state").cameras.emplace_back("joints", ArrayView("float32", {14}, ob.state.data()));
        ob.field("state") = mapping.fields[0];
        CHECK(message(ob.o) == "state: expected a numpy array, got dict");
        CHECK(message(ob.o, true) == "state: expected a numpy array, got dict");
        Obs ob2;
        ob2.field("env_state") = Observation().add_other("env_state", "list");
        CHECK(message(ob2.o) == "env_state: expected a numpy array, got list");
    }
    SECTION("non-finite values, first flat index") {
        Obs ob;
        ob.state[3] = std::numeric_limits<float>::quiet_NaN();
        ob.state[5] = std::numeric_limits<float>::infinity();
        CHECK(message(ob.o) == "state: non-finite value nan at index 3");
        ob.state[3] = 0;
        CHECK(message(ob.o) == "state: non-finite value inf at index 5");
        ob.state[5] = 0;
        ob.env[4] = -std::numeric_limits<double>::infinity();
        CHECK(message(ob.o) == "env_state: non-finite value -inf at index 4");
    }
    SECTION("order: unknown key before missing before camera before dtype") {
        Obs ob;
        ob.field("state").array.dtype = "int64";
        ob.field("images").cameras.pop_back();
        CHECK(message(ob.o) == "images['wrist']: missing (expected uint8 array of shape (480, 640, 3))");
        ob.o.fields.erase(ob.o.fields.begin() + 2);  // env_state
        CHECK(message(ob.o) == "env_state: missing (expected float32 array of shape (5,))");
        ob.o.add_array("extra", ArrayView("float32", {1}));
        CHECK(message(ob.o) == "observation['extra']: unknown field (expected one of ['env_state', 'images', 'state'])");
    }
    SECTION("batched shapes") {
        Obs ob;
        std::vector<float> st(3 * 14, 0.f);
        std::vector<double> en(3 * 5, 0.0);
        ob.field("state").array = ArrayView("float32", {3, 14}, st.data());
        ob.field("env_state").array = ArrayView("float64", {3, 5}, en.data());
        ob.field("images").cameras[0].second = ArrayView("uint8", {3, 480, 640, 3});
        ob.field("images").cameras[1].second = ArrayView("uint8", {3, 480, 640, 3});
        CHECK(message(ob.o, true) == "");
        ob.field("images").cameras[1].second = ArrayView("uint8", {480, 640, 3});
        CHECK(message(ob.o, true) == "images['wrist']: expected shape (batch, 480, 640, 3), got (480, 640, 3)");
    }
}

TEST_CASE("RGB-D depth field", "[observation]") {
    auto s = ObservationSchema::from_io_inputs_json(R"([
      {"name": "images", "dtype": "uint8", "shape": ["batch", 1, 240, 240, 3], "cameras": ["head"]},
      {"name": "depth", "dtype": "float32", "shape": ["batch", 1, 240, 240], "cameras": ["head"]},
      {"name": "state", "dtype": "float32", "shape": ["batch", 37]}])");
    CHECK(s.fields == std::vector<std::string>{"depth", "images", "state"});
    std::vector<float> st(37, 0.f), d(240 * 240, 1.f);
    Observation o;
    o.add_cameras("images").cameras.emplace_back("head", ArrayView("uint8", {240, 240, 3}));
    o.add_array("state", ArrayView("float32", {37}, st.data()));
    CHECK(*check_observation(s, o) == "depth: missing (expected dict of float32 arrays per camera 'head': (240, 240))");
    auto& dep = o.add_cameras("depth");
    dep.cameras.emplace_back("head", ArrayView("float64", {240, 240}, d.data()));
    CHECK(*check_observation(s, o) == "depth['head']: expected dtype float32, got float64");
    dep.cameras[0].second.dtype = "float32";
    d[240 * 3 + 7] = std::nanf("");
    CHECK(*check_observation(s, o) == "depth['head']: non-finite value nan at index 727");
    d[727] = 0;
    CHECK_FALSE(check_observation(s, o).has_value());
    CHECK_THROWS_WITH(validate_observation(s, Observation()), "state: missing (expected float32 array of shape (37,))");
    CHECK_THROWS_AS(validate_observation(s, Observation()), ObservationError);
}

TEST_CASE("format_shape writes Python tuples", "[observation]") {
    std::int64_t a[] = {14}, b[] = {-1, 480, 640, 3};
    CHECK(format_shape(a, 1) == "(14,)");
    CHECK(format_shape(b, 4) == "(batch, 480, 640, 3)");
    CHECK(format_shape(nullptr, 0) == "()");
}

TEST_CASE("camera-less bundles: no images field; images given is named", "[observation]") {
    const auto with_state = ObservationSchema::from_io_inputs_json(R"([
      {"name": "state", "dtype": "float32", "shape": ["batch", 2], "layout": "BS"},
      {"name": "env_state", "dtype": "float32", "shape": ["batch", 16], "layout": "BE"}])");
    const auto env_only = ObservationSchema::from_io_inputs_json(R"([
      {"name": "env_state", "dtype": "float32", "shape": ["batch", 16], "layout": "BE"}])");
    CHECK(with_state.cameras.empty());
    CHECK(with_state.fields == std::vector<std::string>{"env_state", "state"});
    CHECK(env_only.field_order == std::vector<std::string>{"env_state"});
    std::vector<float> state = {0.3f, -1.2f};
    std::vector<float> env(16, 0.7f);
    std::vector<float> env3(3 * 16, -0.4f);
    Observation o;
    o.add_array("state", ArrayView("float32", {2}, state.data()));
    o.add_array("env_state", ArrayView("float32", {16}, env.data()));
    CHECK_FALSE(check_observation(with_state, o).has_value());
    CHECK(*check_observation(env_only, o) ==
          "observation['state']: unknown field: this bundle has no robot-state input (expected one of ['env_state'])");
    o.add_cameras("images").cameras.emplace_back("top", ArrayView("uint8", {8, 8, 3}));
    CHECK(*check_observation(with_state, o) ==
          "observation['images']: unknown field: this bundle has no cameras (expected one of ['env_state', 'state'])");
    Observation batched;
    batched.add_array("env_state", ArrayView("float32", {3, 16}, env3.data()));
    CHECK_FALSE(check_observation(env_only, batched, true, 3).has_value());
    CHECK(*check_observation(env_only, batched, true, 2) == "env_state: batch 3 is outside 1..2");
    CHECK_THROWS_AS(ObservationSchema::from_io_inputs_json(
                        R"([{"name": "state", "dtype": "float32", "shape": ["batch", 2]}])"), BundleError);
}
