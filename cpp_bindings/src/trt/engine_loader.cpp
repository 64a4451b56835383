#include "engine_loader.hpp"

#include <fstream>
#include <iterator>
#include <vector>

namespace act_edge::trt {

LoadedEngine load_engine(const Manifest& manifest, const MachineInfo& machine, const EngineRequest& request,
                         bool verify_sha256, nvinfer1::ILogger& logger) {
    LoadedEngine out;
    out.entry = &select_engine(manifest, machine, request);
    const EngineEntry& e = *out.entry;
    // Confined to the bundle (no '..', absolute path or symbolic link), checked again right before opening.
    out.path = resolve_in_bundle(manifest.bundle_dir, e.path,
                                 "engines[" + std::to_string(out.entry - manifest.engines.data()) + "].path",
                                 manifest.manifest_path);
    if (verify_sha256) act_edge::verify_sha256(out.path, e.sha256);

    std::ifstream f(out.path, std::ios::binary);
    if (!f) throw BundleError(out.path + ": cannot open engine file");
    std::vector<char> plan((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());

    out.runtime.reset(nvinfer1::createInferRuntime(logger));
    if (!out.runtime) throw std::runtime_error("TensorRT: createInferRuntime failed");
    if (e.key.dla_core) {  // a DLA plan runs on the core it was built for; set before deserializing
        const int cores = out.runtime->getNbDLACores();
        if (*e.key.dla_core >= cores) {
            EngineKey gpu = e.key;
            gpu.dla_core.reset();
            throw BackendUnavailable("engine " + e.path + " runs on DLA core " + std::to_string(*e.key.dla_core) +
                                     ", this device has " + std::to_string(cores) +
                                     " DLA cores; build a GPU engine here: " + rebuild_command(gpu, manifest.bundle_dir));
        }
        out.runtime->setDLACore(*e.key.dla_core);
    }
    out.engine.reset(out.runtime->deserializeCudaEngine(plan.data(), plan.size()));
    if (!out.engine)
        throw BackendUnavailable(out.path + ": TensorRT could not deserialize the engine (see the log above); rebuild it here: " +
                                 rebuild_command(e.key, manifest.bundle_dir));
    return out;
}

}  // namespace act_edge::trt
