// The engine a TrtPolicy runs: chosen from the manifest for this machine (select_engine), confined
// to the bundle, sha256-checked, and deserialized on the DLA core it was built for. TensorRT builds only.
#pragma once

#include <string>

#include "act_edge/engine_selection.hpp"
#include "act_edge/manifest.hpp"
#include "cuda_raii.hpp"

namespace act_edge::trt {

struct LoadedEngine {
    const EngineEntry* entry = nullptr;  // into the manifest's engines
    std::string path;                    // the plan file on disk
    // Declaration order = reverse destruction order: the engine goes before its runtime.
    TrtPtr<nvinfer1::IRuntime> runtime;
    TrtPtr<nvinfer1::ICudaEngine> engine;
};

// Picks the engine (BackendUnavailable with the one-line reason and rebuild command if none fits,
// std::invalid_argument for an impossible request), checks its path stays in the bundle and (when
// `verify_sha256`) its sha256, reads it, sets the runtime's DLA core for a DLA engine
// (BackendUnavailable if this device has no such core) and deserializes it (BackendUnavailable if
// TensorRT refuses the plan).
LoadedEngine load_engine(const Manifest& manifest, const MachineInfo& machine, const EngineRequest& request,
                         bool verify_sha256, nvinfer1::ILogger& logger);

}  // namespace act_edge::trt
