// Reading a bundle's manifest.json (docs/bundle-format.md) and verifying artifacts by sha256.
// Errors are BundleError with one line naming the file and what was expected / found, in the style
// of act_edge/bundle.py.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "act_edge/errors.hpp"
#include "act_edge/post_steps.hpp"

namespace act_edge {

inline constexpr const char* kBundleFormat = "act-edge-bundle";
inline constexpr int kSchemaVersion = 1;

// One graph input or output (manifest io.inputs[] / io.outputs[]).
struct IoTensor {
    std::string name;
    std::string dtype;                  // numpy name: "uint8", "float32"
    std::vector<std::int64_t> shape;    // -1 = the dynamic "batch" axis
    std::string layout;                 // "BNHWC", "BS", ...
    std::vector<std::string> cameras;   // image/depth inputs: cameras along N, in order
    std::string units;                  // "robot", "m", or ""
};

struct CameraInfo {
    std::string name;
    std::int64_t height = 0, width = 0, channels = 3;
};

// The parts of the ActSpec a runtime needs.
struct SpecInfo {
    std::string name;
    std::vector<CameraInfo> cameras;
    std::int64_t state_dim = 0, action_dim = 0, chunk_size = 0, env_state_dim = 0;
    std::string architecture = "detr";  // "detr" | "decoder_only" (simplified ACT: state input only)
};

// Runtime defaults for the Policy.
struct RuntimeDefaults {
    std::optional<double> temporal_ensemble_coeff;  // nullopt: chunk queue
    std::int64_t n_action_steps = 0;                // 0: not given (use chunk_size)
    PostSteps post_steps;                           // runtime.post_steps, checked; empty: none
};

// What an engine was built for; it runs only where all of it matches.
struct EngineKey {
    std::string trt_version;         // "10.3.0"
    std::string gpu_name;            // "Orin", "NVIDIA H100 80GB HBM3"
    std::string compute_capability;  // "8.7"
    std::string precision;           // "fp16", "fp32"
    std::string typing;              // "strong" / "weak"
    std::string onnx_sha256;
    std::int64_t max_batch = 1;
    std::optional<int> dla_core;     // nullopt: a GPU engine; else the DLA core (0..15) it was built for
};

// One of the manifest's artifacts (artifacts.<key>: onnx_fp32, onnx_fp16, parity_inputs, ...).
struct ArtifactEntry {
    std::string key;
    std::string path;    // relative to the bundle, confined to it (see resolve_in_bundle)
    std::string sha256;
};

struct EngineEntry {
    std::string path;    // relative to the bundle, confined to it (see resolve_in_bundle)
    std::string sha256;
    EngineKey key;
};

struct Manifest {
    std::string bundle_dir;     // as given to read_manifest
    std::string manifest_path;  // <bundle_dir>/manifest.json
    std::string name;
    SpecInfo spec;
    std::vector<IoTensor> inputs, outputs;
    std::int64_t max_batch = 1;
    RuntimeDefaults runtime;
    std::vector<ArtifactEntry> artifacts;  // sorted by key
    std::vector<EngineEntry> engines;
};

// Parse <bundle_dir>/manifest.json and check that every artifact and engine path stays inside the
// bundle on disk (resolve_in_bundle); nothing else is opened. Throws BundleError.
Manifest read_manifest(const std::string& bundle_dir);
// Parse manifest text; `origin` names it in errors (a path). Strict JSON (every number finite, no
// duplicate keys, nesting <= 32), required keys with their types and ranges, and artifact / engine
// paths relative with no '..', '.' or empty component (no file is looked at). Errors are one line:
// "<origin>: <key path>: <rule>, got <value>", as act_edge/manifest_schema.py. Throws BundleError.
Manifest parse_manifest(std::string_view json_text, const std::string& origin);
// Parse a JSON array of io entries (manifest io.inputs). Throws BundleError.
std::vector<IoTensor> parse_io_tensors(std::string_view json_text);

// <bundle_dir>/<rel> for a manifest path `rel` (key path `where`, manifest `origin` in errors):
// BundleError if `rel` is absolute, has a '..', '.' or empty component, or any existing component is
// a symbolic link (lstat, nothing opened), a non-directory on the way, or the file is not a regular
// file. A missing component is not an error here (opening it reports it).
std::string resolve_in_bundle(const std::string& bundle_dir, const std::string& rel, const std::string& where,
                              const std::string& origin);

// Throws BundleError naming the file if it is missing or its sha256 differs from `expected_hex`.
void verify_sha256(const std::string& path, const std::string& expected_hex);

// Engine selection (MachineInfo, select_engine): act_edge/engine_selection.hpp.

}  // namespace act_edge
