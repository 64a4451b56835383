// Which of a bundle's TensorRT engines runs on this machine: the C++ port of the Python rule
// (act_edge/engine_key.py find_engine), written down in docs/bundle-format.md ("Engine selection")
// and held to tests/conformance/engine_selection_cases.json by both runtimes' tests. Messages are
// the Python ones, character for character.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act_edge/errors.hpp"
#include "act_edge/manifest.hpp"

namespace act_edge {

// The machine an engine would run on.
struct MachineInfo {
    std::string trt_version;         // "10.3.0" (a fourth, build number component is ignored)
    std::string gpu_name;
    std::string compute_capability;  // "8.7"
};

// What the caller asks for. Empty precision / typing: any ("fp16" strong, then weak, then "fp32").
struct EngineRequest {
    std::string precision;       // "", "fp16", "fp32"
    std::string typing;          // "", "strong", "weak"
    std::int64_t max_batch = 1;  // the largest batch the engine's profile must allow
};

// "10.13.3.9" -> "10.13.3": engines are tied to a TensorRT release, not to its build number.
std::string trt_release(const std::string& version);

// 'expected X (engine built with Y)' fragments where `key` cannot run on `machine` (empty: it can).
std::vector<std::string> mismatch_reasons(const EngineKey& key, const MachineInfo& machine);

// "act-edge build-engine <bundle> --fp16 [--weak-typing] --max-batch N [--dla-core C]" (the bundle
// quoted when it holds whitespace), as EngineKey.rebuild_command.
std::string rebuild_command(const EngineKey& key, const std::string& bundle);

// "" if `engine` runs on `machine`, else the one-line error of the Python check_compatible:
// "engine <path> does not match this machine: expected <reasons>; rebuild it here: <command>".
std::string engine_incompatibility(const EngineEntry& engine, const MachineInfo& machine,
                                   const std::string& bundle_dir);

// The engine of `m` to load on `machine` for `request` (m.bundle_dir names the bundle in messages):
// drop engines parsed from another ONNX than the manifest's onnx_fp16 / onnx_fp32 artifact; keep the
// requested precision / typing; keep those built for this TensorRT release and GPU; keep those whose
// max_batch >= request.max_batch; take fp16 strong, then fp16 weak, then fp32, a GPU engine before a
// DLA one, then the smallest max_batch, then the first listed. Throws std::invalid_argument for a
// request no engine can satisfy, BackendUnavailable (one line, with the rebuild command) when none fits.
const EngineEntry& select_engine(const Manifest& m, const MachineInfo& machine, const EngineRequest& request = {});

}  // namespace act_edge
