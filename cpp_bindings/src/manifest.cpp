#include "act_edge/manifest.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "act_edge/sha256.hpp"
#include "act_edge/temporal_ensemble.hpp"
#include "post_steps_json.hpp"

namespace act_edge {
namespace {

using json = nlohmann::json;

std::string join_path(const std::string& dir, const std::string& rel) {
    if (dir.empty() || dir.back() == '/') return dir + rel;
    return dir + "/" + rel;
}

constexpr int kMaxDepth = 32;                 // nesting of JSON objects / lists
constexpr std::int64_t kMaxDim = 16384;         // any io axis but the batch axis
constexpr std::int64_t kMaxElements = 1 << 27;  // per sample of one io tensor
constexpr std::int64_t kMaxBatch = 4096;
constexpr std::size_t kMaxPathChars = 1024;

// Typed access with one-line errors "<origin>: <key path>: <rule>, got <JSON value>" (the form of
// act_edge/manifest_schema.py).
struct Reader {
    const std::string& origin;

    [[noreturn]] void fail(const std::string& where, const std::string& what) const {
        throw BundleError(origin + ": " + where + ": " + what);
    }
    // The value of a required key; `where` is its key path.
    const json& at(const json& obj, const std::string& key, const std::string& where) const {
        auto it = obj.find(key);
        if (it == obj.end()) fail(where, "missing (required)");
        return *it;
    }
    const json& object(const json& obj, const std::string& key, const std::string& where) const {
        const json& v = at(obj, key, where);
        if (!v.is_object()) fail(where, "expected an object, got " + show(v));
        return v;
    }
    const json& list(const json& obj, const std::string& key, const std::string& where) const {
        const json& v = at(obj, key, where);
        if (!v.is_array()) fail(where, "expected a list, got " + show(v));
        return v;
    }
    std::string str(const json& obj, const std::string& key, const std::string& where, bool required = true) const {
        if (!required && !obj.contains(key)) return "";
        const json& v = at(obj, key, where);
        if (!v.is_string()) fail(where, "expected a string, got " + show(v));
        return v.get<std::string>();
    }
    std::int64_t int_in(const json& v, const std::string& where, std::int64_t low, std::int64_t high) const {
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(high)) ||
            v.get<std::int64_t>() < low || v.get<std::int64_t>() > high) {
            const std::string rule = high == INT64_MAX ? (low == 1 ? std::string("a positive int") : "an int >= " + std::to_string(low))
                                                       : "an int in " + std::to_string(low) + ".." + std::to_string(high);
            fail(where, "expected " + rule + ", got " + show(v));
        }
        return v.get<std::int64_t>();
    }
    std::int64_t integer(const json& obj, const std::string& key, const std::string& where, std::int64_t low,
                         std::int64_t high = INT64_MAX) const {
        return int_in(at(obj, key, where), where, low, high);
    }
    std::string sha256(const json& obj, const std::string& key, const std::string& where) const {
        const json& v = at(obj, key, where);
        const bool ok = v.is_string() && v.get<std::string>().size() == 64 &&
                        v.get<std::string>().find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!ok) fail(where, "expected a sha256 (64 lowercase hex digits), got " + show(v));
        return v.get<std::string>();
    }
    // Compact JSON of a value, cut to 80 characters.
    static std::string show(const json& v) {
        std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
        return text.size() <= 80 ? text : text.substr(0, 77) + "...";
    }
};

IoTensor parse_io(const json& e, const Reader& r, const std::string& where) {
    if (!e.is_object()) r.fail(where, "expected an object, got " + Reader::show(e));
    IoTensor t;
    t.name = r.str(e, "name", where + ".name");
    if (t.name.empty()) r.fail(where + ".name", "expected a non-empty string");
    t.dtype = r.str(e, "dtype", where + ".dtype");
    const json& shape = r.list(e, "shape", where + ".shape");
    if (shape.size() < 2 || shape.size() > 8)
        r.fail(where + ".shape", "expected 2..8 axes (\"batch\" first), got " + Reader::show(shape));
    if (shape[0] != "batch")
        r.fail(where + ".shape[0]", "expected \"batch\" (the dynamic batch axis), got " + Reader::show(shape[0]));
    t.shape.push_back(-1);
    double elements = 1;  // exact below 2^53; up to 16384^7 does not overflow a double
    for (std::size_t k = 1; k < shape.size(); ++k) {
        t.shape.push_back(r.int_in(shape[k], where + ".shape[" + std::to_string(k) + "]", 1, kMaxDim));
        elements *= static_cast<double>(t.shape.back());
    }
    if (elements > static_cast<double>(kMaxElements)) {
        char count[32];
        std::snprintf(count, sizeof count, "%.0f", elements);
        r.fail(where + ".shape", Reader::show(shape) + " holds " + count + " values per sample, at most " +
                                 std::to_string(kMaxElements));
    }
    t.layout = r.str(e, "layout", where + ".layout", false);
    t.units = r.str(e, "units", where + ".units", false);
    if (e.contains("cameras")) {
        const json& cams = r.list(e, "cameras", where + ".cameras");
        for (std::size_t k = 0; k < cams.size(); ++k) {
            if (!cams[k].is_string() || cams[k].get<std::string>().empty())
                r.fail(where + ".cameras[" + std::to_string(k) + "]", "expected a camera name, got " + Reader::show(cams[k]));
            t.cameras.push_back(cams[k].get<std::string>());
        }
    }
    return t;
}

std::vector<IoTensor> parse_io_list(const json& arr, const Reader& r, const std::string& where) {
    if (!arr.is_array()) r.fail(where, "expected a list, got " + Reader::show(arr));
    if (arr.empty()) r.fail(where, "expected at least 1 entries, got 0");
    std::vector<IoTensor> out;
    for (std::size_t i = 0; i < arr.size(); ++i) out.push_back(parse_io(arr[i], r, where + "[" + std::to_string(i) + "]"));
    return out;
}

// A bundle-relative path as the manifest holds it: its components, or BundleError if it is absolute
// or could leave the bundle (act_edge/manifest_schema.py check_relative_path, same texts). Pure text:
// nothing on disk is looked at.
std::vector<std::string> relative_parts(const json& value, const std::string& where, const Reader& r) {
    if (!value.is_string() || value.get<std::string>().empty())
        r.fail(where, "expected a relative path inside the bundle, got " + Reader::show(value));
    const std::string& p = value.get_ref<const std::string&>();
    if (p.size() > kMaxPathChars)
        r.fail(where, "path of " + std::to_string(p.size()) + " characters (at most " + std::to_string(kMaxPathChars) + ")");
    if (p.find('\0') != std::string::npos || p.find('\\') != std::string::npos)
        r.fail(where, Reader::show(value) + ": a NUL or backslash in a path (use '/' separators)");
    const bool drive = p.size() >= 2 && p[1] == ':' && std::isalpha(static_cast<unsigned char>(p[0]));
    if (p[0] == '/' || drive)
        r.fail(where, Reader::show(value) + " is an absolute path; paths must be relative and stay inside the bundle");
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = p.find('/', start);
        parts.push_back(p.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    for (const auto& part : parts)
        if (part.empty() || part == "." || part == "..")
            r.fail(where, Reader::show(value) + " has a '..', '.' or empty component; paths must stay inside the bundle");
    return parts;
}

// Every bundle path of the manifest with its key path: artifacts.<key>.path, engines[i].path.
std::vector<std::pair<std::string, std::string>> bundle_paths(const Manifest& m) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& a : m.artifacts) out.emplace_back("artifacts." + a.key + ".path", a.path);
    for (std::size_t i = 0; i < m.engines.size(); ++i) out.emplace_back("engines[" + std::to_string(i) + "].path", m.engines[i].path);
    return out;
}

// --- strict JSON: every number finite, no duplicate keys, bounded nesting ------------------------

// The text of a manifest whose JSON holds NaN / Infinity / -Infinity (what Python's json writes
// for non-finite floats) or a number that overflows a double, each replaced by a marker string
// (kMarker + the original text) so that the key path holding it can be named; "" if it has none.
constexpr const char* kMarker = "\\u0000act-edge non-finite:";  // JSON text: a NUL, then a tag

std::string mark_non_finite(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool marked = false, in_string = false;
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) out += text[++i];
            else if (c == '"') in_string = false;
            ++i;
            continue;
        }
        if (c == '"') {
            in_string = true;
            out += c;
            ++i;
            continue;
        }
        std::string_view token;
        for (std::string_view lit : {"-Infinity", "Infinity", "NaN"})
            if (text.substr(i, lit.size()) == lit) token = text.substr(i, lit.size());
        if (token.empty() && (c == '-' || (c >= '0' && c <= '9'))) {
            std::size_t j = i + 1;
            while (j < text.size() && std::strchr("0123456789.eE+-", text[j]) != nullptr) ++j;
            const std::string number(text.substr(i, j - i));
            errno = 0;
            const double v = std::strtod(number.c_str(), nullptr);
            if (std::isinf(v)) token = text.substr(i, j - i);
            else {
                out += number;
                i = j;
                continue;
            }
        }
        if (token.empty()) {
            out += c;
            ++i;
            continue;
        }
        out += "\"";
        out += kMarker;
        out += token;
        out += "\"";
        marked = true;
        i += token.size();
    }
    return marked ? out : std::string();
}

// The key path of the first marker string in `j` ("" if none), as manifest_schema's _key_path.
bool find_marker(const json& j, std::string& path, std::string& original) {
    static const std::string marker = std::string(1, '\0') + "act-edge non-finite:";
    if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        if (s.rfind(marker, 0) == 0) {
            original = s.substr(marker.size());
            return true;
        }
        return false;
    }
    if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            if (find_marker(j[i], path, original)) {
                path = "[" + std::to_string(i) + "]" + path;
                return true;
            }
        }
    } else if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (find_marker(it.value(), path, original)) {
                path = "." + it.key() + path;
                return true;
            }
        }
    }
    return false;
}

// Parse with the strict rules; `origin` names the text in errors.
json parse_strict(std::string_view text, const std::string& origin) {
    std::vector<std::set<std::string>> keys;  // per open object
    std::string error;
    const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
        if (!error.empty()) return false;
        if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth >= kMaxDepth) {
            error = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
            throw BundleError(error);
        }
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        else if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
        else if (event == json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
            error = "duplicate key " + parsed.dump() + " in an object";
            throw BundleError(error);
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), check);
    } catch (const BundleError&) {
        throw BundleError(origin + ": unreadable manifest: " + error);
    } catch (const json::exception& e) {
        const std::string marked = mark_non_finite(text);
        if (!marked.empty()) {
            json j = json::parse(marked, nullptr, false);
            std::string path, original;
            if (!j.is_discarded() && find_marker(j, path, original)) {
                if (!path.empty() && path[0] == '.') path.erase(0, 1);
                throw BundleError(origin + ": " + (path.empty() ? std::string("(top level)") : path) +
                                  ": expected a finite number, got " + original);
            }
        }
        std::string what = e.what();
        for (char& ch : what)
            if (ch == '\n') ch = ' ';
        throw BundleError(origin + ": unreadable manifest: " + what);
    }
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
    const json j = parse_strict(json_text, origin);
    const std::string fmt = kBundleFormat;
    if (!j.is_object() || !j.contains("format") || j["format"] != fmt) {
        throw BundleError(origin + ": not an act-edge manifest (format field is not '" + fmt + "')");
    }
    if (!j.contains("schema_version") || !j["schema_version"].is_number_integer() || j["schema_version"] != kSchemaVersion) {
        const std::string got = j.contains("schema_version") ? j["schema_version"].dump() : "None";
        throw BundleError(origin + ": schema_version " + got + ", this act-edge reads " +
                          std::to_string(kSchemaVersion) + "; re-export the bundle with this version");
    }
    Reader r{origin};
    Manifest m;
    m.manifest_path = origin;
    m.name = r.str(j, "name", "name", false);

    const json& spec = r.object(j, "spec", "spec");
    m.spec.name = r.str(spec, "name", "spec.name", false);
    m.spec.state_dim = r.integer(spec, "state_dim", "spec.state_dim", 0, kMaxDim);  // 0: env state only
    m.spec.action_dim = r.integer(spec, "action_dim", "spec.action_dim", 1, kMaxDim);
    m.spec.chunk_size = r.integer(spec, "chunk_size", "spec.chunk_size", 1, kMaxDim);
    m.spec.env_state_dim = spec.contains("env_state_dim") ? r.integer(spec, "env_state_dim", "spec.env_state_dim", 0, kMaxDim) : 0;
    m.spec.architecture = spec.contains("architecture") ? r.str(spec, "architecture", "spec.architecture") : "detr";
    const bool decoder_only = m.spec.architecture == "decoder_only";
    if (!decoder_only && m.spec.architecture != "detr")
        r.fail("spec.architecture", "expected one of [\"detr\",\"decoder_only\"], got " + Reader::show(spec["architecture"]));
    const json& cams = r.list(spec, "cameras", "spec.cameras");  // empty: a camera-less (state-only) policy
    if (decoder_only && (!cams.empty() || m.spec.env_state_dim != 0 || m.spec.state_dim == 0))
        r.fail("spec.architecture", "decoder_only takes one state vector: no cameras, no env state, state_dim > 0");
    if (cams.empty() && m.spec.env_state_dim == 0 && !decoder_only)
        r.fail("spec.cameras", "no cameras and no env state (env_state_dim 0): the policy would have no observation input");
    if (m.spec.state_dim == 0 && m.spec.env_state_dim == 0)
        r.fail("spec.state_dim", "0 (no robot state) needs an env state (env_state_dim > 0)");
    for (std::size_t i = 0; i < cams.size(); ++i) {
        const std::string where = "spec.cameras[" + std::to_string(i) + "]";
        if (!cams[i].is_object()) r.fail(where, "expected an object, got " + Reader::show(cams[i]));
        CameraInfo c;
        c.name = r.str(cams[i], "name", where + ".name");
        c.height = r.integer(cams[i], "height", where + ".height", 1, kMaxDim);
        c.width = r.integer(cams[i], "width", where + ".width", 1, kMaxDim);
        c.channels = cams[i].contains("channels") ? r.integer(cams[i], "channels", where + ".channels", 3, 4) : 3;
        m.spec.cameras.push_back(std::move(c));
    }

    const json& io = r.object(j, "io", "io");
    m.inputs = parse_io_list(r.at(io, "inputs", "io.inputs"), r, "io.inputs");
    m.outputs = parse_io_list(r.at(io, "outputs", "io.outputs"), r, "io.outputs");
    m.max_batch = j.contains("max_batch") ? r.integer(j, "max_batch", "max_batch", 1, kMaxBatch) : 1;

    if (j.contains("runtime")) {
        const json& rt = r.object(j, "runtime", "runtime");
        if (rt.contains("temporal_ensemble_coeff") && !rt["temporal_ensemble_coeff"].is_null()) {
            const json& k = rt["temporal_ensemble_coeff"];
            if (!k.is_number() || !std::isfinite(k.get<double>()))
                r.fail("runtime.temporal_ensemble_coeff", "expected a finite number or null, got " + Reader::show(k));
            m.runtime.temporal_ensemble_coeff = k.get<double>();
            // The ensemble's own limit (as the Python validator applies it): refused at load, not at first use.
            const std::string refused =
                ensemble_coeff_error(static_cast<std::size_t>(m.spec.chunk_size), *m.runtime.temporal_ensemble_coeff);
            if (!refused.empty()) r.fail("runtime.temporal_ensemble_coeff", refused);
        }
        if (rt.contains("n_action_steps"))
            m.runtime.n_action_steps = r.integer(rt, "n_action_steps", "runtime.n_action_steps", 1, m.spec.chunk_size);
        // Refused here, at load, with the Python Policy's text (no file prefix: it names the field).
        if (rt.contains("post_steps"))
            m.runtime.post_steps = detail::parse_post_steps(rt["post_steps"], static_cast<std::size_t>(m.spec.action_dim));
    }

    if (j.contains("artifacts")) {
        const json& arts = r.object(j, "artifacts", "artifacts");
        for (auto it = arts.begin(); it != arts.end(); ++it) {
            const std::string where = "artifacts." + it.key();
            if (!it.value().is_object()) r.fail(where, "expected an object, got " + Reader::show(it.value()));
            ArtifactEntry a;
            a.key = it.key();
            relative_parts(r.at(it.value(), "path", where + ".path"), where + ".path", r);
            a.path = it.value()["path"].get<std::string>();
            a.sha256 = r.sha256(it.value(), "sha256", where + ".sha256");
            m.artifacts.push_back(std::move(a));
        }
    }

    if (j.contains("engines")) {
        const json& engines = r.list(j, "engines", "engines");
        for (std::size_t i = 0; i < engines.size(); ++i) {
            const std::string where = "engines[" + std::to_string(i) + "]";
            if (!engines[i].is_object()) r.fail(where, "expected an object, got " + Reader::show(engines[i]));
            EngineEntry e;
            relative_parts(r.at(engines[i], "path", where + ".path"), where + ".path", r);
            e.path = engines[i]["path"].get<std::string>();
            e.sha256 = r.sha256(engines[i], "sha256", where + ".sha256");
            const std::string kw = where + ".key";
            const json& key = r.object(engines[i], "key", kw);
            e.key.trt_version = r.str(key, "trt_version", kw + ".trt_version");
            e.key.gpu_name = r.str(key, "gpu_name", kw + ".gpu_name");
            const json& cc = r.at(key, "compute_capability", kw + ".compute_capability");
            e.key.compute_capability = normalize_cc(cc);
            if (e.key.compute_capability.empty())
                r.fail(kw + ".compute_capability", "expected \"8.7\", [8, 7] or \"sm_87\", got " + cc.dump());
            e.key.precision = r.str(key, "precision", kw + ".precision");
            if (key.contains("typing") && !key["typing"].is_null()) e.key.typing = r.str(key, "typing", kw + ".typing");
            if (key.contains("onnx_sha256") && !key["onnx_sha256"].is_null())
                e.key.onnx_sha256 = r.str(key, "onnx_sha256", kw + ".onnx_sha256");
            e.key.max_batch = key.contains("max_batch") ? r.integer(key, "max_batch", kw + ".max_batch", 1, kMaxBatch) : 1;
            if (key.contains("dla_core") && !key["dla_core"].is_null())
                e.key.dla_core = static_cast<int>(r.integer(key, "dla_core", kw + ".dla_core", 0, 15));
            m.engines.push_back(std::move(e));
        }
    }
    return m;
}

std::string resolve_in_bundle(const std::string& bundle_dir, const std::string& rel, const std::string& where,
                              const std::string& origin) {
    Reader r{origin};
    const std::vector<std::string> parts = relative_parts(json(rel), where, r);
    std::string p = bundle_dir.empty() ? std::string(".") : bundle_dir;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        p = join_path(p, parts[i]);
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return join_path(bundle_dir, rel);  // missing: reported when opened
            r.fail(where, Reader::show(json(rel)) + ": cannot stat " + p + " (" + std::strerror(errno) + ")");
        }
        std::string sub = parts[0];
        for (std::size_t k = 1; k <= i; ++k) sub += "/" + parts[k];
        if (S_ISLNK(st.st_mode))
            r.fail(where, Reader::show(json(rel)) + ": " + sub + " is a symbolic link; bundle files must be regular files inside the bundle");
        if (i + 1 < parts.size() && !S_ISDIR(st.st_mode)) r.fail(where, Reader::show(json(rel)) + ": " + sub + " is not a directory");
        if (i + 1 == parts.size() && !S_ISREG(st.st_mode)) r.fail(where, Reader::show(json(rel)) + " is not a regular file");
    }
    return p;
}

Manifest read_manifest(const std::string& bundle_dir) {
    const std::string path = join_path(bundle_dir, "manifest.json");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw BundleError(bundle_dir + ": no manifest.json (not an act-edge bundle, or a half-written one)");
    std::stringstream ss;
    ss << f.rdbuf();
    Manifest m = parse_manifest(ss.str(), path);
    m.bundle_dir = bundle_dir;
    // Every artifact and engine path stays inside the bundle: no symbolic link on the way (lstat of
    // each component), before anything is opened or hashed.
    for (const auto& [where, rel] : bundle_paths(m)) resolve_in_bundle(bundle_dir, rel, where, path);
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

}  // namespace act_edge
