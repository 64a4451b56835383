#include "catch_compat.hpp"

#include <filesystem>
#include <functional>
#include <fstream>

#include <nlohmann/json.hpp>

#include "act_edge/engine_selection.hpp"
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
      "engines": [{"path": "engines/orin.fp16.engine", "sha256": "00000000000000000000000000000000000000000000000000000000000000aa",
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
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"), "b/manifest.json: spec.action_dim: missing (required)");
    j = sample_manifest();
    j["io"]["inputs"][1]["shape"] = {"batch", -3};
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: io.inputs[1].shape[1]: expected an int in 1..16384, got -3");
    j = sample_manifest();
    j["engines"][0]["key"].erase("gpu_name");
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"), "b/manifest.json: engines[0].key.gpu_name: missing (required)");
    try {
        parse_manifest("{\"format\": ", "b/manifest.json");
        FAIL("no throw");
    } catch (const BundleError& e) {
        const std::string what = e.what();
        CHECK(what.rfind("b/manifest.json: unreadable manifest: ", 0) == 0);
        CHECK(what.find('\n') == std::string::npos);
    }
}

TEST_CASE("manifest spec.architecture: detr by default, decoder_only takes a state vector only", "[manifest]") {
    CHECK(parse_manifest(sample_manifest().dump(), "b/manifest.json").spec.architecture == "detr");
    auto j = sample_manifest();  // the simplified ACT: no cameras, no env state, io = state only
    j["spec"]["architecture"] = "decoder_only";
    j["spec"]["cameras"] = nlohmann::json::array();
    j["io"]["inputs"].erase(0);
    Manifest m = parse_manifest(j.dump(), "b/manifest.json");
    CHECK(m.spec.architecture == "decoder_only");
    CHECK(m.spec.cameras.empty());
    REQUIRE(m.inputs.size() == 1);
    CHECK(m.inputs[0].name == "state");
    j["spec"]["architecture"] = "transformer";
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: spec.architecture: expected one of [\"detr\",\"decoder_only\"], got \"transformer\"");
    j = sample_manifest();
    j["spec"]["architecture"] = "decoder_only";  // with its camera
    CHECK_THROWS_WITH(parse_manifest(j.dump(), "b/manifest.json"),
                      "b/manifest.json: spec.architecture: decoder_only takes one state vector: no cameras, no env state, "
                      "state_dim > 0");
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
    MachineInfo orin{"10.3.0.26", "Orin", "8.7"};  // the build number is not part of the key
    CHECK(engine_incompatibility(m.engines[0], orin, m.bundle_dir) == "");
    CHECK(&select_engine(m, orin) == &m.engines[0]);
    MachineInfo h100{"10.7.0", "NVIDIA H100 80GB HBM3", "9.0"};
    const std::string want =
        "engine engines/orin.fp16.engine does not match this machine: expected TensorRT 10.7.0 (engine built with "
        "10.3.0); GPU NVIDIA H100 80GB HBM3 sm90 (engine built on Orin sm87); rebuild it here: act-edge build-engine "
        "b.actedge --fp16 --weak-typing --max-batch 8";
    CHECK(engine_incompatibility(m.engines[0], h100, m.bundle_dir) == want);
    CHECK_THROWS_WITH(select_engine(m, h100), want);
    CHECK_THROWS_AS(select_engine(m, orin, EngineRequest{"fp32", "", 1}), BackendUnavailable);
}

TEST_CASE("engine key dla_core: absent or null is a GPU engine, else 0..15", "[manifest]") {
    auto j = sample_manifest();
    CHECK_FALSE(parse_manifest(j.dump(), "m.json").engines[0].key.dla_core.has_value());
    j["engines"][0]["key"]["dla_core"] = nullptr;
    CHECK_FALSE(parse_manifest(j.dump(), "m.json").engines[0].key.dla_core.has_value());
    j["engines"][0]["key"]["dla_core"] = 1;
    CHECK(parse_manifest(j.dump(), "m.json").engines[0].key.dla_core == 1);
    for (const char* bad : {"16", "-1", "0.5", "\"0\""}) {
        j["engines"][0]["key"]["dla_core"] = nlohmann::json::parse(bad);
        CHECK_THROWS_AS(parse_manifest(j.dump(), "m.json"), BundleError);
    }
}

// --- issue 10 defect 5: artifact and engine paths stay inside the bundle ------------------------

namespace {

// A bundle on disk with model.onnx and an engine, their sha256 in the manifest; `outside` next to it.
struct DiskBundle {
    fs::path root, dir, outside;
    std::string onnx = "onnx bytes, random enough: 8f3a19c2";
    nlohmann::json manifest = sample_manifest();
    explicit DiskBundle(const std::string& name) {
        root = tmp_dir(name);
        dir = root / "b.actedge";
        outside = root / "outside";
        fs::create_directories(dir / "engines");
        fs::create_directories(outside);
        write(dir / "model.onnx", onnx);
        write(dir / "engines/orin.fp16.engine", "plan");
        write(outside / "evil.onnx", onnx);  // same bytes: its hash matches the manifest's
        manifest["artifacts"] = {{"onnx_fp32", {{"path", "model.onnx"}, {"sha256", sha256_hex(onnx)}, {"bytes", onnx.size()}}}};
        manifest["engines"][0]["sha256"] = sha256_hex("plan");
        save();
    }
    void save() const { write(dir / "manifest.json", manifest.dump(1)); }
    std::string error() const {
        try {
            read_manifest(dir.string());
        } catch (const BundleError& e) {
            return e.what();
        }
        return "";
    }
};

}  // namespace

TEST_CASE("manifest: a well-formed bundle reads, its paths resolve inside it", "[manifest][confinement]") {
    DiskBundle b("confine_ok");
    REQUIRE(b.error() == "");
    const Manifest m = read_manifest(b.dir.string());
    REQUIRE(m.artifacts.size() == 1);
    CHECK(m.artifacts[0].key == "onnx_fp32");
    CHECK(m.artifacts[0].path == "model.onnx");
    CHECK(resolve_in_bundle(b.dir.string(), "engines/orin.fp16.engine", "engines[0].path", "m") ==
          (b.dir / "engines/orin.fp16.engine").string());
    CHECK(resolve_in_bundle(b.dir.string(), "engines/not_built_yet.engine", "engines[0].path", "m") ==
          (b.dir / "engines/not_built_yet.engine").string());  // missing: reported when opened
}

TEST_CASE("manifest: paths out of the bundle are refused before anything is opened", "[manifest][confinement]") {
    DiskBundle b("confine_text");
    const std::string origin = (b.dir / "manifest.json").string();
    struct Case {
        nlohmann::json path;
        std::string message;
    };
    const Case cases[] = {
        {"../../outside/evil.onnx", "\"../../outside/evil.onnx\" has a '..', '.' or empty component; paths must stay inside the bundle"},
        {"../outside/evil.onnx", "\"../outside/evil.onnx\" has a '..', '.' or empty component; paths must stay inside the bundle"},
        {"engines/../model.onnx", "\"engines/../model.onnx\" has a '..', '.' or empty component; paths must stay inside the bundle"},
        {"./model.onnx", "\"./model.onnx\" has a '..', '.' or empty component; paths must stay inside the bundle"},
        {"engines//x.onnx", "\"engines//x.onnx\" has a '..', '.' or empty component; paths must stay inside the bundle"},
        {(b.outside / "evil.onnx").string(), "\"" + (b.outside / "evil.onnx").string() +
                                                 "\" is an absolute path; paths must be relative and stay inside the bundle"},
        {"/etc/passwd", "\"/etc/passwd\" is an absolute path; paths must be relative and stay inside the bundle"},
        {"C:/x.onnx", "\"C:/x.onnx\" is an absolute path; paths must be relative and stay inside the bundle"},
        {"..\\outside\\evil.onnx", "\"..\\\\outside\\\\evil.onnx\": a NUL or backslash in a path (use '/' separators)"},
        {std::string("model.onnx\0../x", 15), "\"model.onnx\\u0000../x\": a NUL or backslash in a path (use '/' separators)"},
        {"", "expected a relative path inside the bundle, got \"\""},
        {5, "expected a relative path inside the bundle, got 5"},
        {nullptr, "expected a relative path inside the bundle, got null"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.path.dump());
        auto j = b.manifest;
        j["artifacts"]["onnx_fp32"]["path"] = c.path;
        // parse_manifest never touches the filesystem: the refusal is pure text, so /etc/passwd is never opened.
        CHECK_THROWS_WITH(parse_manifest(j.dump(), origin), origin + ": artifacts.onnx_fp32.path: " + c.message);
        auto e = b.manifest;
        e["engines"][0]["path"] = c.path;
        CHECK_THROWS_WITH(parse_manifest(e.dump(), origin), origin + ": engines[0].path: " + c.message);
        write(b.dir / "manifest.json", j.dump());
        CHECK(b.error() == origin + ": artifacts.onnx_fp32.path: " + c.message);
    }
    auto j = b.manifest;
    j["artifacts"]["onnx_fp32"].erase("path");
    CHECK_THROWS_WITH(parse_manifest(j.dump(), origin), origin + ": artifacts.onnx_fp32.path: missing (required)");
    CHECK_THROWS_WITH(resolve_in_bundle(b.dir.string(), "/etc/passwd", "engines[0].path", origin),
                      origin + ": engines[0].path: \"/etc/passwd\" is an absolute path; paths must be relative and stay inside the bundle");
}

TEST_CASE("manifest: a symbolic link anywhere on an artifact's path is refused (lstat, nothing opened)", "[manifest][confinement]") {
    DiskBundle b("confine_links");
    const std::string origin = (b.dir / "manifest.json").string();
    SECTION("model.onnx is a link to a file outside with the same bytes") {
        fs::remove(b.dir / "model.onnx");
        fs::create_symlink(b.outside / "evil.onnx", b.dir / "model.onnx");
        CHECK(sha256_file((b.dir / "model.onnx").string()) == b.manifest["artifacts"]["onnx_fp32"]["sha256"]);  // the hash would pass
        CHECK(b.error() == origin + ": artifacts.onnx_fp32.path: \"model.onnx\": model.onnx is a symbolic link; bundle files "
                                    "must be regular files inside the bundle");
    }
    SECTION("a relative link inside the bundle is refused too") {
        fs::rename(b.dir / "model.onnx", b.dir / "real.onnx");
        fs::create_symlink("real.onnx", b.dir / "model.onnx");
        CHECK(b.error() == origin + ": artifacts.onnx_fp32.path: \"model.onnx\": model.onnx is a symbolic link; bundle files "
                                    "must be regular files inside the bundle");
    }
    SECTION("a directory on the way is a link") {
        fs::remove_all(b.dir / "engines");
        fs::create_directories(b.outside / "plans");
        write(b.outside / "plans/orin.fp16.engine", "plan");
        fs::create_directory_symlink(b.outside / "plans", b.dir / "engines");
        CHECK(b.error() == origin + ": engines[0].path: \"engines/orin.fp16.engine\": engines is a symbolic link; bundle "
                                    "files must be regular files inside the bundle");
    }
    SECTION("a dangling link is a link") {
        fs::remove(b.dir / "model.onnx");
        fs::create_symlink(b.root / "nowhere.onnx", b.dir / "model.onnx");
        CHECK(b.error() == origin + ": artifacts.onnx_fp32.path: \"model.onnx\": model.onnx is a symbolic link; bundle files "
                                    "must be regular files inside the bundle");
    }
    SECTION("not a regular file, not a directory on the way") {
        fs::remove(b.dir / "model.onnx");
        fs::create_directories(b.dir / "model.onnx");
        CHECK(b.error() == origin + ": artifacts.onnx_fp32.path: \"model.onnx\" is not a regular file");
        b.manifest["artifacts"]["onnx_fp32"]["path"] = "engines/orin.fp16.engine/x.onnx";
        b.save();
        CHECK(b.error() == origin + ": artifacts.onnx_fp32.path: \"engines/orin.fp16.engine/x.onnx\": "
                                    "engines/orin.fp16.engine is not a directory");
    }
    SECTION("the bundle directory itself may be reached through a link (the user's choice)") {
        fs::create_directory_symlink(b.dir, b.root / "alias.actedge");
        CHECK_NOTHROW(read_manifest((b.root / "alias.actedge").string()));
    }
}

// --- issue 10 defects 3a / 6: every number finite, required keys with types --------------------

TEST_CASE("manifest: NaN, Infinity and overflowing numbers are refused with their key path", "[manifest]") {
    const std::string base = sample_manifest().dump();
    struct Case {
        std::string from, to, message;
    };
    const std::string post = R"("runtime": {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1, "post_steps": [{"op": "snap_gripper", "indices": [6], "threshold": [0.5], "low": [LOW], "high": [HIGH]}]})";
    auto with_post = [&](const std::string& low, const std::string& high) {
        std::string text = base;
        const auto at = text.find("\"runtime\":");
        const auto end = text.find('}', at);
        std::string p = post;
        p.replace(p.find("LOW"), 3, low);
        p.replace(p.find("HIGH"), 4, high);
        return text.replace(at, end - at + 1, p);
    };
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string text = base;
        const auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        return text.replace(at, from.size(), to);
    };
    const std::pair<std::string, std::string> cases[] = {
        {replaced("\"temporal_ensemble_coeff\":0.01", "\"temporal_ensemble_coeff\":NaN"),
         "runtime.temporal_ensemble_coeff: expected a finite number, got NaN"},
        {replaced("\"temporal_ensemble_coeff\":0.01", "\"temporal_ensemble_coeff\":1e999"),
         "runtime.temporal_ensemble_coeff: expected a finite number, got 1e999"},
        {replaced("\"temporal_ensemble_coeff\":0.01", "\"temporal_ensemble_coeff\":-1E+400"),
         "runtime.temporal_ensemble_coeff: expected a finite number, got -1E+400"},
        {with_post("0.0", "Infinity"), "runtime.post_steps[0].high[0]: expected a finite number, got Infinity"},
        {with_post("-Infinity", "1.0"), "runtime.post_steps[0].low[0]: expected a finite number, got -Infinity"},
        {replaced("\"max_batch\":8,\"name\"", "\"max_batch\":8,\"extra\":[1.0,\"NaN\",NaN],\"name\""),
         "extra[2]: expected a finite number, got NaN"},
        {replaced("\"max_batch\":8,\"name\"", "\"max_batch\":8,\"extra\":{\"a b\":[[1e999]]},\"name\""),
         "extra.a b[0][0]: expected a finite number, got 1e999"},
    };
    for (const auto& [text, message] : cases) {
        CAPTURE(text);
        CHECK_THROWS_WITH(parse_manifest(text, "b/manifest.json"), "b/manifest.json: " + message);
    }
    // Finite in JSON but not in float32, where the runtime compares: refused, not cast to inf.
    CHECK_THROWS_WITH(parse_manifest(with_post("0.0", "1e300"), "b/manifest.json"),
                      "manifest runtime.post_steps[0]: high[0] 1e+300 is outside the float32 range");
    CHECK_THROWS_WITH(parse_manifest(with_post("2.0", "1.0"), "b/manifest.json"),
                      "manifest runtime.post_steps[0]: low[0] 2.0 is not below high[0] 1.0");
    CHECK_NOTHROW(parse_manifest(with_post("-3.4e38", "3.4e38"), "b/manifest.json"));
    // A "NaN" string stays a string (no false alarm), duplicates and deep nesting are refused.
    CHECK_THROWS_WITH(parse_manifest(replaced("\"name\":\"aloha-sim\"", "\"name\":\"NaN 1e999\",\"name\":\"x\""), "b/manifest.json"),
                      "b/manifest.json: unreadable manifest: duplicate key \"name\" in an object");
    CHECK_THROWS_WITH(parse_manifest(replaced("\"max_batch\":8", "\"max_batch\":8,\"extra\":" + std::string(40, '[') + std::string(40, ']')),
                                     "b/manifest.json"),
                      "b/manifest.json: unreadable manifest: nested deeper than 32 levels");
    CHECK(parse_manifest(replaced("\"name\":\"aloha-sim\"", "\"name\":\"NaN Infinity 1e999\""), "b/manifest.json").name ==
          "NaN Infinity 1e999");
}

TEST_CASE("manifest: required keys and their types, one line each", "[manifest]") {
    struct Case {
        std::function<void(nlohmann::json&)> edit;
        std::string message;
    };
    const Case cases[] = {
        {[](auto& j) { j.erase("io"); }, "io: missing (required)"},
        {[](auto& j) { j["io"] = {1, 2}; }, "io: expected an object, got [1,2]"},
        {[](auto& j) { j["io"].erase("inputs"); }, "io.inputs: missing (required)"},
        {[](auto& j) { j["io"]["inputs"] = nlohmann::json::array(); }, "io.inputs: expected at least 1 entries, got 0"},
        {[](auto& j) { j["io"]["inputs"][1] = "state"; }, "io.inputs[1]: expected an object, got \"state\""},
        {[](auto& j) { j["io"]["inputs"][1].erase("name"); }, "io.inputs[1].name: missing (required)"},
        {[](auto& j) { j["io"]["inputs"][0]["shape"][2] = 100000; }, "io.inputs[0].shape[2]: expected an int in 1..16384, got 100000"},
        {[](auto& j) { j["io"]["inputs"][0]["shape"][3] = 0; }, "io.inputs[0].shape[3]: expected an int in 1..16384, got 0"},
        {[](auto& j) { j["io"]["inputs"][1]["shape"][1] = "14"; }, "io.inputs[1].shape[1]: expected an int in 1..16384, got \"14\""},
        {[](auto& j) { j["io"]["inputs"][1]["shape"][1] = 14.5; }, "io.inputs[1].shape[1]: expected an int in 1..16384, got 14.5"},
        {[](auto& j) { j["io"]["inputs"][1]["shape"][1] = true; }, "io.inputs[1].shape[1]: expected an int in 1..16384, got true"},
        {[](auto& j) { j["io"]["inputs"][1]["shape"][0] = 1; }, "io.inputs[1].shape[0]: expected \"batch\" (the dynamic batch axis), got 1"},
        {[](auto& j) { j["io"]["inputs"][0]["shape"] = {"batch", 2, 16384, 16384, 3}; },
         "io.inputs[0].shape: [\"batch\",2,16384,16384,3] holds 1610612736 values per sample, at most 134217728"},
        {[](auto& j) { j["io"]["inputs"][0]["cameras"][0] = 7; }, "io.inputs[0].cameras[0]: expected a camera name, got 7"},
        {[](auto& j) { j["max_batch"] = 0; }, "max_batch: expected an int in 1..4096, got 0"},
        {[](auto& j) { j["max_batch"] = "4"; }, "max_batch: expected an int in 1..4096, got \"4\""},
        {[](auto& j) { j["runtime"] = nullptr; }, "runtime: expected an object, got null"},
        {[](auto& j) { j["runtime"] = {0.01}; }, "runtime: expected an object, got [0.01]"},
        {[](auto& j) { j["runtime"]["temporal_ensemble_coeff"] = "0.01"; },
         "runtime.temporal_ensemble_coeff: expected a finite number or null, got \"0.01\""},
        {[](auto& j) { j["runtime"]["temporal_ensemble_coeff"] = true; },
         "runtime.temporal_ensemble_coeff: expected a finite number or null, got true"},
        {[](auto& j) { j["runtime"]["n_action_steps"] = -3; }, "runtime.n_action_steps: expected an int in 1..100, got -3"},
        {[](auto& j) { j["runtime"]["n_action_steps"] = 101; }, "runtime.n_action_steps: expected an int in 1..100, got 101"},
        {[](auto& j) { j["spec"]["chunk_size"] = nullptr; }, "spec.chunk_size: expected an int in 1..16384, got null"},
        {[](auto& j) { j["spec"]["cameras"][0]["height"] = -480; }, "spec.cameras[0].height: expected an int in 1..16384, got -480"},
        {[](auto& j) { j["spec"]["cameras"] = "top"; }, "spec.cameras: expected a list, got \"top\""},
        {[](auto& j) { j["name"] = 5; }, "name: expected a string, got 5"},
        {[](auto& j) { j["artifacts"] = {{"onnx_fp32", "model.onnx"}}; }, "artifacts.onnx_fp32: expected an object, got \"model.onnx\""},
        {[](auto& j) { j["artifacts"] = {{"onnx_fp32", {{"path", "model.onnx"}, {"sha256", "ABC"}}}}; },
         "artifacts.onnx_fp32.sha256: expected a sha256 (64 lowercase hex digits), got \"ABC\""},
        {[](auto& j) { j["engines"] = nlohmann::json::object(); }, "engines: expected a list, got {}"},
        {[](auto& j) { j["engines"][0].erase("key"); }, "engines[0].key: missing (required)"},
        {[](auto& j) { j["engines"][0].erase("sha256"); }, "engines[0].sha256: missing (required)"},
        {[](auto& j) { j["engines"][0]["key"]["max_batch"] = 0; }, "engines[0].key.max_batch: expected an int in 1..4096, got 0"},
    };
    for (const auto& c : cases) {
        auto j = sample_manifest();
        c.edit(j);
        CAPTURE(c.message);
        try {
            parse_manifest(j.dump(), "b/manifest.json");
            FAIL("accepted");
        } catch (const BundleError& e) {
            CHECK(std::string(e.what()) == "b/manifest.json: " + c.message);
        }
    }
}
