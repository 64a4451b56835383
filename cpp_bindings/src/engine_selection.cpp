#include "act_edge/engine_selection.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace act_edge {
namespace {

// "8.7" -> "sm87" (EngineKey.sm)
std::string sm(const std::string& cc) {
    std::string s = "sm";
    for (char c : cc)
        if (c != '.') s += c;
    return s;
}

// A key parsed without "typing" is strongly typed (the precision exactly as in the ONNX).
std::string typing_of(const EngineKey& k) { return k.typing.empty() ? "strong" : k.typing; }

std::string quote(const std::string& path) {
    for (unsigned char c : path)
        if (std::isspace(c)) return "'" + path + "'";
    return path;
}

// EngineKey.describe: "TensorRT 10.3.0 on Orin (sm87), fp16 strongly typed, max batch 8[, DLA core 0]"
std::string describe(const EngineKey& k) {
    std::string s = "TensorRT " + k.trt_version + " on " + k.gpu_name + " (" + sm(k.compute_capability) + "), " +
                    k.precision + " " + typing_of(k) + "ly typed, max batch " + std::to_string(k.max_batch);
    if (k.dla_core) s += ", DLA core " + std::to_string(*k.dla_core);
    return s;
}

// 0 fp16 strong, 1 fp16 weak, 2 fp32 (the order of preference).
int precision_rank(const EngineKey& k) {
    if (k.precision == "fp16") return typing_of(k) == "strong" ? 0 : 1;
    return 2;
}

// The sha256 of the manifest artifact `name` ("" if absent).
std::string artifact_sha256(const Manifest& m, const std::string& name) {
    for (const auto& a : m.artifacts)
        if (a.key == name) return a.sha256;
    return "";
}

// Parsed from another ONNX than the bundle's: strong engines come from the ONNX of their precision,
// weak ones from the fp32 ONNX (+ the FP16 builder flag). No such artifact: nothing to compare with.
bool stale(const EngineKey& k, const Manifest& m) {
    const bool from_fp16 = k.precision == "fp16" && typing_of(k) == "strong";
    const std::string sha = artifact_sha256(m, from_fp16 ? "onnx_fp16" : "onnx_fp32");
    return !sha.empty() && sha != k.onnx_sha256;
}

void check_request(const EngineRequest& r) {
    if (!r.precision.empty() && r.precision != "fp16" && r.precision != "fp32")
        throw std::invalid_argument("engine request: precision '" + r.precision + "' is not one of fp16, fp32");
    if (!r.typing.empty() && r.typing != "strong" && r.typing != "weak")
        throw std::invalid_argument("engine request: typing '" + r.typing + "' is not one of strong, weak");
    if (r.typing == "weak" && r.precision == "fp32")
        throw std::invalid_argument("engine request: weak typing only means something for fp16 (fp32 ONNX + BuilderFlag.FP16)");
    if (r.max_batch < 1)
        throw std::invalid_argument("engine request: max_batch must be >= 1, got " + std::to_string(r.max_batch));
}

}  // namespace

std::string trt_release(const std::string& version) {
    std::size_t dots = 0, i = 0;
    for (; i < version.size(); ++i)
        if (version[i] == '.' && ++dots == 3) break;
    return version.substr(0, i);
}

std::vector<std::string> mismatch_reasons(const EngineKey& k, const MachineInfo& machine) {
    std::vector<std::string> out;
    if (trt_release(k.trt_version) != trt_release(machine.trt_version))
        out.push_back("TensorRT " + machine.trt_version + " (engine built with " + k.trt_version + ")");
    if (k.gpu_name != machine.gpu_name || k.compute_capability != machine.compute_capability)
        out.push_back("GPU " + machine.gpu_name + " " + sm(machine.compute_capability) + " (engine built on " + k.gpu_name +
                      " " + sm(k.compute_capability) + ")");
    return out;
}

std::string rebuild_command(const EngineKey& k, const std::string& bundle) {
    std::string s = "act-edge build-engine " + quote(bundle) + " --" + k.precision;
    if (typing_of(k) == "weak") s += " --weak-typing";
    s += " --max-batch " + std::to_string(k.max_batch);
    if (k.dla_core) s += " --dla-core " + std::to_string(*k.dla_core);
    return s;
}

std::string engine_incompatibility(const EngineEntry& engine, const MachineInfo& machine, const std::string& bundle_dir) {
    const std::vector<std::string> reasons = mismatch_reasons(engine.key, machine);
    if (reasons.empty()) return "";
    std::string joined;
    for (const auto& r : reasons) joined += (joined.empty() ? "" : "; ") + r;
    return "engine " + engine.path + " does not match this machine: expected " + joined +
           "; rebuild it here: " + rebuild_command(engine.key, bundle_dir);
}

const EngineEntry& select_engine(const Manifest& m, const MachineInfo& machine, const EngineRequest& request) {
    check_request(request);
    const std::string& bundle = m.bundle_dir;
    std::vector<const EngineEntry*> fresh, wanted;
    for (const auto& e : m.engines)
        if (!stale(e.key, m)) fresh.push_back(&e);
    for (const EngineEntry* e : fresh)
        if ((request.precision.empty() || e->key.precision == request.precision) &&
            (request.typing.empty() || typing_of(e->key) == request.typing))
            wanted.push_back(e);
    if (wanted.empty()) {
        std::string have;
        for (const EngineEntry* e : fresh) have += (have.empty() ? "" : ", ") + describe(e->key);
        EngineKey rebuild;
        rebuild.precision = request.precision.empty() ? "fp16" : request.precision;
        rebuild.typing = request.typing.empty() ? "strong" : request.typing;
        rebuild.max_batch = std::max(request.max_batch, m.max_batch);
        throw BackendUnavailable(bundle + ": no TensorRT engine for " + rebuild.precision + " " + rebuild.typing +
                                 "ly typed (bundle has: " + (have.empty() ? "none" : have) +
                                 "); build one on this machine: " + rebuild_command(rebuild, bundle));
    }
    const EngineEntry* best = nullptr;     // the preferred engine whose profile is big enough
    const EngineEntry* largest = nullptr;  // the runnable engine with the largest profile
    auto better = [](const EngineKey& a, const EngineKey& b) {
        const int ra = precision_rank(a), rb = precision_rank(b);
        if (ra != rb) return ra < rb;
        if (a.dla_core.has_value() != b.dla_core.has_value()) return !a.dla_core.has_value();  // GPU before DLA
        return a.max_batch < b.max_batch;
    };
    for (const EngineEntry* e : wanted) {
        if (!mismatch_reasons(e->key, machine).empty()) continue;
        if (!largest || e->key.max_batch > largest->key.max_batch) largest = e;
        if (e->key.max_batch >= request.max_batch && (!best || better(e->key, best->key))) best = e;
    }
    if (best) return *best;
    if (largest) {
        EngineKey k = largest->key;
        k.max_batch = request.max_batch;
        throw BackendUnavailable("engine " + largest->path + " allows batch <= " + std::to_string(largest->key.max_batch) +
                                 ", expected max batch " + std::to_string(request.max_batch) +
                                 "; rebuild it here: " + rebuild_command(k, bundle));
    }
    throw BackendUnavailable(engine_incompatibility(*wanted.front(), machine, bundle));
}

}  // namespace act_edge
