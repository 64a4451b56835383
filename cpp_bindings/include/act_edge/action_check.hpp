// The finite check on a model's output, made before the chunk reaches the ensemble / queue / caller:
// the C++ side of act_edge.policy._check_finite. TrtPolicy throws ActionError with this message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "act_edge/errors.hpp"

namespace act_edge {

// nullopt if every value of the C-order array `data` of shape shape[0..ndim) is finite, else the
// message of the Python runtime's ActionError for its first non-finite value, e.g.
//   "model output: non-finite action nan at (4, 1) (the ensemble/queue was not updated);
//    check the observation's scale and the bundle"   (one line)
// Allocates only when it finds one.
std::optional<std::string> find_non_finite(const float* data, const std::int64_t* shape, int ndim);

// Throws ActionError with find_non_finite's message, if any.
void check_finite(const float* data, const std::int64_t* shape, int ndim);

// Why TemporalEnsemble::update / ChunkQueue::push refused a (rows, cols) chunk: find_non_finite's
// message, or, when every value is finite, that the ensemble's weighted sums overflow float32.
std::string refused_chunk_message(const float* chunk, std::size_t rows, std::size_t cols);

}  // namespace act_edge
