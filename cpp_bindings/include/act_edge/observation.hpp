// Observation validation with the rules and messages of docs/observation-rules.md (identical to the
// Python runtime's act_edge.observation): the first failure, in the documented order, as one line.
//
// The schema is built once from the manifest's io.inputs; an Observation is a list of views (names,
// dtype, shape, data pointer) that a control loop can refill every step without allocating
// (clear() keeps capacity; names are string_views onto the caller's storage).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "act_edge/errors.hpp"

namespace act_edge {

struct IoTensor;  // manifest.hpp

// One array: numpy dtype name ("uint8", "float32", "float64", "int64", ...), shape, and optionally
// the data (needed for the finiteness check of float fields; null skips that check).
struct ArrayView {
    static constexpr int kMaxDims = 8;
    std::string_view dtype;
    int ndim = 0;
    std::array<std::int64_t, kMaxDims> shape{};
    const void* data = nullptr;  // C-contiguous (row-major) elements of `dtype`; must outlive the call
    bool is_array = true;        // false: a non-array value (e.g. a Python list); `dtype` then holds its type name

    ArrayView() = default;
    ArrayView(std::string_view dtype_, std::initializer_list<std::int64_t> dims, const void* data_ = nullptr);
    ArrayView(std::string_view dtype_, const std::int64_t* dims, int ndim_, const void* data_ = nullptr);
};

// A top-level field: an array, a {camera: array} mapping, or something else (its type name, as
// Python's type(x).__name__ writes it, for messages).
struct ObservationField {
    enum class Kind { Array, Cameras, Other };
    std::string_view name;
    Kind kind = Kind::Array;
    ArrayView array;                                              // Kind::Array
    std::vector<std::pair<std::string_view, ArrayView>> cameras;  // Kind::Cameras, in the caller's order
    std::string_view type_name;                                   // Kind::Other
};

// A single (or batched) observation: fields in the caller's (dict insertion) order.
struct Observation {
    std::vector<ObservationField> fields;

    void clear() noexcept { fields.clear(); }
    ObservationField& add_array(std::string_view name, ArrayView a);
    ObservationField& add_cameras(std::string_view name);  // then .cameras.emplace_back(cam, view)
    ObservationField& add_other(std::string_view name, std::string_view type_name);
    const ObservationField* find(std::string_view name) const noexcept;
};

// What the graph expects, derived from the manifest's io.inputs.
struct ObservationSchema {
    struct Camera {
        std::string name;
        std::int64_t height = 0, width = 0;
        std::string images_input;  // graph input holding this camera ("images" or "images_<H>x<W>")
        std::string depth_input;   // "" unless RGB-D
        std::int64_t index = 0;    // position in its graph input's N axis
    };
    std::vector<Camera> cameras;        // manifest order; empty for a camera-less (state-only) bundle
    std::vector<std::string> fields;    // top-level fields, sorted: depth?, env_state?, images?, state?
    std::vector<std::string> field_order;  // the order fields are checked in: state?, images?, depth?, env_state?
    std::int64_t state_dim = 0;         // 0: no state (a camera-less bundle with env_state only)
    std::int64_t env_state_dim = 0;     // 0: no env_state
    bool has_depth = false;

    // Throws BundleError if io.inputs is not one this runtime understands.
    static ObservationSchema from_io_inputs(const std::vector<IoTensor>& inputs);
    static ObservationSchema from_io_inputs_json(std::string_view json_text);  // [{name, dtype, shape, ...}, ...]
};

// The first failure as "<field>: <problem>", or nullopt when the observation is valid.
// Allocates only to build the message.
// `max_batch` bounds the batch of a batched observation (the leading dimension of its `state`, or of
// `env_state` when the bundle has no state input).
std::optional<std::string> check_observation(const ObservationSchema& schema, const Observation& obs,
                                             bool batched = false, std::int64_t max_batch = INT64_MAX);
// Same, throwing ObservationError.
void validate_observation(const ObservationSchema& schema, const Observation& obs, bool batched = false,
                          std::int64_t max_batch = INT64_MAX);

// Python-style shape text: "(14,)", "(480, 640, 3)", "(batch, 14)"; -1 is written "batch".
std::string format_shape(const std::int64_t* dims, int ndim);

}  // namespace act_edge
