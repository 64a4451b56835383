#include "act_edge/manifest.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "act_edge/sha256.hpp"
#include "post_steps_json.hpp"

namespace act_edge {
namespace {

using json = nlohmann::json;

std::string join_path(const std::string& dir, const std::string& rel) {
    if (dir.empty() || dir.back() == '/') return dir + rel;
    return dir + "/" + rel;
}

// Typed access with one-line errors: "<origin>: <where>: expected <what>, got <json>".
struct Reader {
    const std::string& origin;

    [[noreturn]] void fail(const std::string& where, const std::string& what) const {
        throw BundleError(origin + ": " + where + ": " + what);
    }
    const json& at(const json& obj, const std::string& key, const std::string& where) const {
        if (!obj.is_object()) fail(where, "expected an object, got " + std::string(obj.type_name()));
        auto it = obj.find(key);
        if (it == obj.end()) fail(where, "missing field '" + key + "'");
        return *it;
    }
    std::string str(const json& obj, const std::string& key, const std::string& where, bool required = true) const {
        if (!required && (!obj.contains(key) || obj[key].is_null())) return "";
        const json& v = at(obj, key, where);
        if (!v.is_string()) fail(where + "." + key, "expected a string, got " + v.dump());
        return v.get<std::string>();
    }
    std::int64_t integer(const json& obj, const std::string& key, const std::string& where, bool required = true,
                         std::int64_t fallback = 0) const {
        if (!required && (!obj.contains(key) || obj[key].is_null())) return fallback;
        const json& v = at(obj, key, where);
        if (!v.is_number_integer()) fail(where + "." + key, "expected an integer, got " + v.dump());
        return v.get<std::int64_t>();
    }
};

IoTensor parse_io(const json& e, const Reader& r, const std::string& where) {
    IoTensor t;
    t.name = r.str(e, "name", where);
    t.dtype = r.str(e, "dtype", where);
    const json& shape = r.at(e, "shape", where);
    if (!shape.is_array()) r.fail(where + ".shape", "expected a list, got " + shape.dump());
    for (const auto& d : shape) {
        if (d.is_string() && d.get<std::string>() == "batch") t.shape.push_back(-1);
        else if (d.is_number_integer() && d.get<std::int64_t>() >= 0) t.shape.push_back(d.get<std::int64_t>());
        else r.fail(where + ".shape", "expected non-negative integers or \"batch\", got " + shape.dump());
    }
    t.layout = r.str(e, "layout", where, false);
    t.units = r.str(e, "units", where, false);
    if (e.contains("cameras") && !e["cameras"].is_null()) {
        const json& cams = e["cameras"];
        if (!cams.is_array()) r.fail(where + ".cameras", "expected a list of names, got " + cams.dump());
        for (const auto& c : cams) {
            if (!c.is_string()) r.fail(where + ".cameras", "expected a list of names, got " + cams.dump());
            t.cameras.push_back(c.get<std::string>());
        }
    }
    return t;
}

std::vector<IoTensor> parse_io_list(const json& arr, const Reader& r, const std::string& where) {
    if (!arr.is_array()) r.fail(where, "expected a list, got " + std::string(arr.type_name()));
    std::vector<IoTensor> out;
    for (std::size_t i = 0; i < arr.size(); ++i) out.push_back(parse_io(arr[i], r, where + "[" + std::to_string(i) + "]"));
    return out;
}

std::string sm(const std::string& cc) {
    std::string s = "sm_";
    for (char c : cc)
        if (c != '.') s += c;
    return s;
}

// "10.3.0.26" -> "10.3.0": engines are tied to major.minor.patch, not to the build number.
std::string version3(const std::string& v) {
    std::size_t dots = 0, i = 0;
    for (; i < v.size(); ++i)
        if (v[i] == '.' && ++dots == 3) break;
    return v.substr(0, i);
}

// "8.7", 8.7, [8, 7], "87", "sm_87" -> "8.7"; "" if unrecognized.
std::string normalize_cc(const json& cc) {
    if (cc.is_array() && cc.size() == 2 && cc[0].is_number_integer() && cc[1].is_number_integer())
        return std::to_string(cc[0].get<int>()) + "." + std::to_string(cc[1].get<int>());
    std::string s = cc.is_string() ? cc.get<std::string>() : cc.is_number() ? cc.dump() : "";
    if (s.rfind("sm_", 0) == 0) s = s.substr(3);
    const auto dot = s.find('.');
    const bool digits = !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
    if (!digits) return "";
    if (dot == std::string::npos) return s.size() >= 2 ? s.substr(0, s.size() - 1) + "." + s.substr(s.size() - 1) : "";
    if (dot == 0 || dot + 1 == s.size() || s.find('.', dot + 1) != std::string::npos) return "";
    return s;
}

}  // namespace

std::vector<IoTensor> parse_io_tensors(std::string_view json_text) {
    static const std::string origin = "io.inputs";
    Reader r{origin};
    json j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
    if (j.is_discarded()) throw BundleError("io.inputs: not valid JSON");
    return parse_io_list(j, r, "io.inputs");
}

Manifest parse_manifest(std::string_view json_text, const std::string& origin) {
    json j;
    try {
        j = json::parse(json_text.begin(), json_text.end());
    } catch (const json::parse_error& e) {
        std::string what = e.what();
        for (char& c : what)
            if (c == '\n') c = ' ';
        throw BundleError(origin + ": unreadable manifest: " + what);
    }
    const std::string fmt = kBundleFormat;
    if (!j.is_object() || !j.contains("format") || j["format"] != fmt) {
        throw BundleError(origin + ": not an act-edge manifest (format field is not '" + fmt + "')");
    }
    if (!j.contains("schema_version") || j["schema_version"] != kSchemaVersion) {
        const std::string got = j.contains("schema_version") ? j["schema_version"].dump() : "None";
        throw BundleError(origin + ": schema_version " + got + ", this act-edge reads " +
                          std::to_string(kSchemaVersion) + "; re-export the bundle with this version");
    }
    Reader r{origin};
    Manifest m;
    m.manifest_path = origin;
    m.name = r.str(j, "name", "manifest", false);

    const json& spec = r.at(j, "spec", "manifest");
    m.spec.name = r.str(spec, "name", "spec", false);
    m.spec.state_dim = r.integer(spec, "state_dim", "spec");
    m.spec.action_dim = r.integer(spec, "action_dim", "spec");
    m.spec.chunk_size = r.integer(spec, "chunk_size", "spec");
    m.spec.env_state_dim = r.integer(spec, "env_state_dim", "spec", false, 0);
    if (m.spec.action_dim < 1 || m.spec.chunk_size < 1 || m.spec.state_dim < 1)
        r.fail("spec", "state_dim, action_dim and chunk_size must be >= 1");
    const json& cams = r.at(spec, "cameras", "spec");
    if (!cams.is_array() || cams.empty()) r.fail("spec.cameras", "expected a non-empty list");
    for (std::size_t i = 0; i < cams.size(); ++i) {
        const std::string where = "spec.cameras[" + std::to_string(i) + "]";
        CameraInfo c;
        c.name = r.str(cams[i], "name", where);
        c.height = r.integer(cams[i], "height", where);
        c.width = r.integer(cams[i], "width", where);
        c.channels = r.integer(cams[i], "channels", where, false, 3);
        m.spec.cameras.push_back(std::move(c));
    }

    const json& io = r.at(j, "io", "manifest");
    m.inputs = parse_io_list(r.at(io, "inputs", "io"), r, "io.inputs");
    m.outputs = parse_io_list(r.at(io, "outputs", "io"), r, "io.outputs");
    if (m.outputs.empty()) r.fail("io.outputs", "expected at least one output (actions)");
    m.max_batch = r.integer(j, "max_batch", "manifest", false, 1);

    if (j.contains("runtime") && j["runtime"].is_object()) {
        const json& rt = j["runtime"];
        if (rt.contains("temporal_ensemble_coeff") && !rt["temporal_ensemble_coeff"].is_null()) {
            if (!rt["temporal_ensemble_coeff"].is_number())
                r.fail("runtime.temporal_ensemble_coeff", "expected a number or null, got " + rt["temporal_ensemble_coeff"].dump());
            m.runtime.temporal_ensemble_coeff = rt["temporal_ensemble_coeff"].get<double>();
        }
        m.runtime.n_action_steps = r.integer(rt, "n_action_steps", "runtime", false, 0);
        // Refused here, at load, with the Python Policy's text (no file prefix: it names the field).
        if (rt.contains("post_steps"))
            m.runtime.post_steps = detail::parse_post_steps(rt["post_steps"], static_cast<std::size_t>(m.spec.action_dim));
    }

    if (j.contains("engines")) {
        const json& engines = j["engines"];
        if (!engines.is_array()) r.fail("engines", "expected a list, got " + engines.dump());
        for (std::size_t i = 0; i < engines.size(); ++i) {
            const std::string where = "engines[" + std::to_string(i) + "]";
            EngineEntry e;
            e.path = r.str(engines[i], "path", where);
            e.sha256 = r.str(engines[i], "sha256", where);
            const json& key = r.at(engines[i], "key", where);
            const std::string kw = where + ".key";
            e.key.trt_version = r.str(key, "trt_version", kw);
            e.key.gpu_name = r.str(key, "gpu_name", kw);
            const json& cc = r.at(key, "compute_capability", kw);
            e.key.compute_capability = normalize_cc(cc);
            if (e.key.compute_capability.empty())
                r.fail(kw + ".compute_capability", "expected \"8.7\", [8, 7] or \"sm_87\", got " + cc.dump());
            e.key.precision = r.str(key, "precision", kw);
            e.key.typing = r.str(key, "typing", kw, false);
            e.key.onnx_sha256 = r.str(key, "onnx_sha256", kw, false);
            e.key.max_batch = r.integer(key, "max_batch", kw, false, 1);
            m.engines.push_back(std::move(e));
        }
    }
    return m;
}

Manifest read_manifest(const std::string& bundle_dir) {
    const std::string path = join_path(bundle_dir, "manifest.json");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw BundleError(bundle_dir + ": no manifest.json (not an act-edge bundle, or a half-written one)");
    std::stringstream ss;
    ss << f.rdbuf();
    Manifest m = parse_manifest(ss.str(), path);
    m.bundle_dir = bundle_dir;
    return m;
}

void verify_sha256(const std::string& path, const std::string& expected_hex) {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw BundleError(path + ": missing (listed in the manifest)");
    const std::string got = sha256_file(path);
    if (got != expected_hex) {
        throw BundleError(path + ": sha256 " + got.substr(0, 12) + "... does not match the manifest's " +
                          expected_hex.substr(0, 12) + "... (file modified or truncated; re-export the bundle)");
    }
}

std::string engine_incompatibility(const EngineEntry& engine, const MachineInfo& machine, const std::string& bundle_dir) {
    const EngineKey& k = engine.key;
    if (version3(k.trt_version) == version3(machine.trt_version) && k.gpu_name == machine.gpu_name &&
        k.compute_capability == machine.compute_capability) {
        return "";
    }
    return "engine " + join_path(bundle_dir, engine.path) + " was built for TensorRT " + k.trt_version + " on " +
           k.gpu_name + " (" + sm(k.compute_capability) + "); this machine has TensorRT " + machine.trt_version +
           " on " + machine.gpu_name + " (" + sm(machine.compute_capability) +
           "); rebuild with: act-edge build-engine " + bundle_dir;
}

const EngineEntry& select_engine(const Manifest& m, const MachineInfo& machine, const std::string& precision) {
    std::string first_error;
    for (const auto& e : m.engines) {
        if (!precision.empty() && e.key.precision != precision) continue;
        std::string why = engine_incompatibility(e, machine, m.bundle_dir);
        if (why.empty()) return e;
        if (first_error.empty()) first_error = why;
    }
    if (!first_error.empty()) throw BackendUnavailable(first_error);
    throw BackendUnavailable(m.bundle_dir + ": no " + (precision.empty() ? std::string("") : precision + " ") +
                             "TensorRT engine in the manifest; build one with: act-edge build-engine " + m.bundle_dir);
}

}  // namespace act_edge
