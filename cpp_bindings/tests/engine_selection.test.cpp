// The shared engine selection cases (tests/conformance/engine_selection_cases.json, also run by
// tests/test_engine_selection_conformance.py against the Python find_engine) against select_engine:
// the chosen engine, or the exact one-line refusal. Each case's manifest goes through parse_manifest,
// so the engine keys (dla_core included) are read as a bundle's would be.
#include "catch_compat.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "act_edge/engine_selection.hpp"
#include "act_edge/manifest.hpp"

using namespace act_edge;
using nlohmann::json;

namespace {

json load_cases() {
    const std::string path = std::string(ACT_EDGE_CONFORMANCE_DIR) + "/engine_selection_cases.json";
    std::ifstream f(path);
    if (!f) FAIL("missing " << path << " (the shared conformance cases)");
    std::stringstream ss;
    ss << f.rdbuf();
    return json::parse(ss.str());
}

// A valid manifest with the case's max_batch, artifacts and engines (see the file's "about").
Manifest case_manifest(const json& doc, const json& c) {
    json m = json::parse(R"({
      "format": "act-edge-bundle", "schema_version": 1, "name": "engine-selection",
      "spec": {"name": "act", "cameras": [{"name": "top", "height": 24, "width": 32, "channels": 3}],
               "state_dim": 5, "action_dim": 5, "chunk_size": 8},
      "io": {"inputs": [
               {"name": "images", "dtype": "uint8", "shape": ["batch", 1, 24, 32, 3], "layout": "BNHWC", "cameras": ["top"]},
               {"name": "state", "dtype": "float32", "shape": ["batch", 5], "layout": "BS", "units": "robot"}],
             "outputs": [{"name": "actions", "dtype": "float32", "shape": ["batch", 8, 5], "layout": "BTA", "units": "robot"}]}
    })");
    m["max_batch"] = c.value("manifest_max_batch", 1);
    m["artifacts"] = json::object();
    const json artifacts = c.value("artifacts", json::object());  // items() of a temporary would dangle
    for (const auto& [name, sha] : artifacts.items()) m["artifacts"][name] = {{"path", name + ".onnx"}, {"sha256", sha}};
    m["engines"] = json::array();
    for (const auto& e : c["engines"]) {
        json key = doc["base_key"];
        key.update(e["key"]);
        m["engines"].push_back({{"path", e["path"]}, {"sha256", std::string(64, '0')}, {"key", key}});
    }
    Manifest parsed = parse_manifest(m.dump(), "manifest.json");
    parsed.bundle_dir = c.value("bundle", doc["default_bundle"].get<std::string>());
    return parsed;
}

std::string str_or_empty(const json& r, const char* k) {
    return r.contains(k) && !r[k].is_null() ? r[k].get<std::string>() : std::string();
}

}  // namespace

TEST_CASE("engine selection: the shared conformance cases", "[engine_selection][conformance]") {
    const json doc = load_cases();
    REQUIRE(doc["version"] == 1);
    REQUIRE(doc["cases"].size() >= 30);
    for (const auto& c : doc["cases"]) {
        const std::string name = c["name"];
        INFO("case " << name);
        const Manifest m = case_manifest(doc, c);
        const json mj = c.value("machine", doc["default_machine"]);
        const MachineInfo machine{mj["trt_version"], mj["gpu_name"], mj["compute_capability"]};
        const json r = c.value("request", json::object());
        const EngineRequest request{str_or_empty(r, "precision"), str_or_empty(r, "typing"), r.value("max_batch", 1)};
        const json& expect = c["expect"];
        if (expect.contains("engine")) {
            std::string chosen;
            try {
                chosen = select_engine(m, machine, request).path;
            } catch (const std::exception& e) {
                chosen = std::string("threw: ") + e.what();
            }
            CHECK(chosen == expect["engine"].get<std::string>());
        } else if (expect.contains("error")) {
            CHECK_THROWS_AS(select_engine(m, machine, request), BackendUnavailable);
            CHECK_THROWS_WITH(select_engine(m, machine, request), expect["error"].get<std::string>());
        } else {
            CHECK_THROWS_AS(select_engine(m, machine, request), std::invalid_argument);
            CHECK_THROWS_WITH(select_engine(m, machine, request), expect["request_error"].get<std::string>());
        }
    }
}

TEST_CASE("engine selection: the returned entry is the manifest's own", "[engine_selection]") {
    const json doc = load_cases();
    for (const auto& c : doc["cases"]) {
        if (c["name"] != "smallest_sufficient_max_batch") continue;
        const Manifest m = case_manifest(doc, c);
        const EngineEntry& e = select_engine(m, {"10.3.0", "Orin", "8.7"}, {"", "", 2});
        CHECK(&e == &m.engines[1]);  // a reference into m.engines (TrtPolicy keeps its index)
        CHECK(e.key.max_batch == 2);
    }
}
