#include "catch_compat.hpp"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "act_edge/manifest.hpp"
#include "act_edge/sha256.hpp"

using namespace act_edge;
namespace fs = std::filesystem;

namespace {

nlohmann::json sample_manifest() {
    return nlohmann::json::parse(R"({
      "format": "act-edge-bundle", "schema_version": 1, "name": "aloha-sim",
      "spec": {"name": "act", "cameras": [{"name": "top", "height": 480, "width": 640, "channels": 3}],
               "state_dim": 14, "action_dim": 14, "chunk_size": 100, "env_state_dim": 0},
      "io": {"inputs": [
               {"name": "images", "dtype": "uint8", "shape": ["batch", 1, 480, 640, 3], "layout": "BNHWC", "cameras": ["top"]},
               {"name": "state", "dtype": "float32", "shape": ["batch", 14], "layout": "BS", "units": "robot"}],
             "outputs": [{"name": "actions", "dtype": "float32", "shape": ["batch", 100, 14], "layout": "BTA", "units": "robot"}]},
      "max_batch": 8,
      "runtime": {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1},
      "engines": [{"path": "engines/orin.fp16.engine", "sha256": "x",
                   "key": {"trt_version": "10.3.0", "gpu_name": "Orin", "compute_capability": "8.7",
                           "precision": "fp16", "typing": "weak", "onnx_sha256": "abc", "max_batch": 8}}]
    })");
}

fs::path tmp_dir(const std::string& name) {
    fs::path p = fs::path(ACT_EDGE_TEST_TMP) / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

void write(const fs::path& p, const std::string& text) {
    std::ofstream f(p, std::ios::binary);
    f << text;
}

}  // namespace

TEST_CASE("sha256 known vectors", "[sha256]") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    Sha256 h;  // one million 'a', fed in odd pieces
    std::string piece(997, 'a');
    std::size_t left = 1000000;
    while (left) {
        const std::size_t n = std::min(left, piece.size());
        h.update(piece.data(), n);
        left -= n;
    }
    CHECK(h.hexdigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("manifest parses the bundle-format fields", "[manifest]") {
    Manifest m = parse_manifest(sample_manifest().dump(), "b/manifest.json");
    CHECK(m.name == "aloha-sim");
    CHECK(m.spec.chunk_size == 100);
    CHECK(m.spec.cameras.at(0).name == "top");
    REQUIRE(m.inputs.size() == 2);
    CHECK(m.inputs[0].shape == std::vector<std::int64_t>{-1, 1, 480, 640, 3});
    CHECK(m.inputs[0].cameras == std::vector<std::string>{"top"});
    CHECK(m.outputs.at(0).name == "actions");
    CHECK(m.max_batch == 8);
    REQUIRE(m.runtime.temporal_ensemble_coeff.has_value());
    CHECK(*m.runtime.temporal_ensemble_coeff == 0.01);
    REQUIRE(m.engines.size() == 1);
    CHECK(m.engines[0].key.compute_capability == "8.7");
    CHECK(m.engines[0].key.max_batch == 8);

    auto j = sample_manifest();
    j["runtime"]["temporal_ensemble_coeff"] = nullptr;
    j["engines"][0]["key"]["compute_capability"] = {8, 7};
    m = parse_manifest(j.dump(), "b/manifest.json");
    CHECK_FALSE(m.runtime.temporal_ensemble_coeff.has_value());
    CHECK(m.engines[0].key.compute_capability == "8.7");
    for (auto cc : {nlohmann::json("sm_87"), nlohmann::json("87"), nlohmann::json(8.7)}) {
        j["engines"][0]["key"]["compute_capability"] = cc;
        CHECK(parse_manifest(j.dump(), "b/manifest.json").engines[0].key.compute_capability == "8.7");
    }
    j["engines"][0]["key"]["compute_capability"] = "ampere";
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: engines[0].key.compute_capability: expected \"8.7\", [8, 7] or \"sm_87\", got \"ampere\"");
}

TEST_CASE("manifest errors are one line naming the file", "[manifest]") {
    auto j = sample_manifest();
    j["format"] = "onnx";
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: not an act-edge manifest (format field is not 'act-edge-bundle')");
    j = sample_manifest();
    j["schema_version"] = 2;
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: schema_version 2, this act-edge reads 1; re-export the bundle with this version");
    j = sample_manifest();
    j["spec"].erase("action_dim");
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"), "b/manifest.json: spec: missing field 'action_dim'");
    j = sample_manifest();
    j["io"]["inputs"][1]["shape"] = {"batch", -3};
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: io.inputs[1].shape: expected non-negative integers or \"batch\", got [\"batch\",-3]");
    j = sample_manifest();
    j["engines"][0]["key"].erase("gpu_name");
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"), "b/manifest.json: engines[0].key: missing field 'gpu_name'");
    try {
        parse_manifest("{\"format\": ", "b/manifest.json");
        FAIL("no throw");
    } catch (const BundleError& e) {
        const std::string what = e.what();
        CHECK(what.rfind("b/manifest.json: unreadable manifest: ", 0) == 0);
        CHECK(what.find('\n') == std::string::npos);
    }
}

TEST_CASE("read_manifest and engine sha256 verification", "[manifest]") {
    fs::path dir = tmp_dir("bundle.actedge");
    CHECK_THROWS_WITH(read_manifest(dir.string()),
                      dir.string() + ": no manifest.json (not an act-edge bundle, or a half-written one)");
    fs::create_directories(dir / "engines");
    const std::string plan = "not really a TensorRT plan";
    write(dir / "engines/orin.fp16.engine", plan);
    auto j = sample_manifest();
    j["engines"][0]["sha256"] = sha256_hex(plan);
    write(dir / "manifest.json", j.dump(2));
    Manifest m = read_manifest(dir.string());
    CHECK(m.bundle_dir == dir.string());
    const std::string engine = (dir / m.engines[0].path).string();
    CHECK(sha256_file(engine) == sha256_hex(plan));
    CHECK_NOTHROW(verify_sha256(engine, m.engines[0].sha256));
    write(dir / "engines/orin.fp16.engine", plan + "!");
    CHECK_THROWS_WITH(verify_sha256(engine, m.engines[0].sha256),
                      engine + ": sha256 " + sha256_hex(plan + "!").substr(0, 12) + "... does not match the manifest's " +
                          m.engines[0].sha256.substr(0, 12) + "... (file modified or truncated; re-export the bundle)");
    CHECK_THROWS_AS(verify_sha256((dir / "nope").string(), "x"), BundleError);
}

TEST_CASE("engine compatibility key", "[manifest]") {
    Manifest m = parse_manifest(sample_manifest().dump(), "b.actedge/manifest.json");
    m.bundle_dir = "b.actedge";
    MachineInfo orin{"10.3.0.26", "Orin", "8.7"};
    CHECK(engine_incompatibility(m.engines[0], orin, m.bundle_dir) == "");
    CHECK(&select_engine(m, orin) == &m.engines[0]);
    MachineInfo h100{"10.7.0", "NVIDIA H100 80GB HBM3", "9.0"};
    const std::string want =
        "engine b.actedge/engines/orin.fp16.engine was built for TensorRT 10.3.0 on Orin (sm_87); this machine has "
        "TensorRT 10.7.0 on NVIDIA H100 80GB HBM3 (sm_90); rebuild with: act-edge build-engine b.actedge";
    CHECK(engine_incompatibility(m.engines[0], h100, m.bundle_dir) == want);
    CHECK_THROWS_WITH(select_engine(m, h100), want);
    CHECK_THROWS_AS(select_engine(m, orin, "fp32"), BackendUnavailable);
}
