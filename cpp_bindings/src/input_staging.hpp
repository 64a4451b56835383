// Staging: a validated observation copied into an engine's host input buffers (TrtPolicy's
// stage_inputs). Plain memory only, no CUDA or TensorRT: compiled and unit-tested in every build.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "act_edge/observation.hpp"

namespace act_edge {

// One engine input's host buffer, sized for the largest batch.
struct HostInput {
    std::string name;                // graph input name ("images", "state", ...)
    void* data = nullptr;
    std::size_t per_item_bytes = 0;  // one batch item
    std::size_t frames = 1;          // the per-item leading axis (cameras along N for image inputs)
};

class InputStager {
public:
    InputStager(const ObservationSchema& schema, std::vector<HostInput> inputs);

    // 1 unless `batched`, else the batch of "state" (one batch across fields: validated before).
    // Throws std::invalid_argument naming the field if an array has no data pointer (validation
    // alone accepts shape-only views).
    std::size_t batch_of(const Observation& obs, bool batched) const;
    // Copies `batch` items of every field of a validated observation into the host inputs: vectors
    // (float32 as is, float64 converted), stacked camera arrays as is, per-camera frames to their
    // index along N.
    void stage(const Observation& obs, std::size_t batch) const;

private:
    const HostInput& input(const std::string& name) const;  // BundleError if the engine has none

    const ObservationSchema* schema_;
    std::vector<HostInput> inputs_;
};

}  // namespace act_edge
