#include "input_staging.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "act_edge/errors.hpp"

namespace act_edge {
namespace {

void copy_vector(const ArrayView& a, float* dst, std::size_t n) {
    if (a.dtype == "float32") std::memcpy(dst, a.data, n * sizeof(float));
    else {
        const auto* src = static_cast<const double*>(a.data);
        for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
    }
}

void require_data(const Observation& obs) {
    auto need = [](const ArrayView& a, std::string_view field, std::string_view cam) {
        if (a.data == nullptr) {
            throw std::invalid_argument(std::string(field) + (cam.empty() ? "" : "['" + std::string(cam) + "']") +
                                        ": ArrayView has no data pointer");
        }
    };
    for (const auto& f : obs.fields) {
        if (f.kind == ObservationField::Kind::Array) need(f.array, f.name, {});
        else for (const auto& [cam, v] : f.cameras) need(v, f.name, cam);
    }
}

}  // namespace

InputStager::InputStager(const ObservationSchema& schema, std::vector<HostInput> inputs)
    : schema_(&schema), inputs_(std::move(inputs)) {}

const HostInput& InputStager::input(const std::string& name) const {
    for (const auto& in : inputs_)
        if (in.name == name) return in;
    throw BundleError("engine has no input '" + name + "'");
}

std::size_t InputStager::batch_of(const Observation& obs, bool batched) const {
    require_data(obs);
    if (!batched) return 1;
    const ObservationField* st = obs.find("state");
    if (st == nullptr) st = obs.find("env_state");  // a state-less (env state only) bundle
    return static_cast<std::size_t>(st->array.shape[0]);
}

void InputStager::stage(const Observation& obs, std::size_t batch) const {
    for (const auto& f : obs.fields) {
        if (f.name == "state" || f.name == "env_state") {
            const HostInput& in = input(std::string(f.name));
            copy_vector(f.array, static_cast<float*>(in.data), batch * in.per_item_bytes / sizeof(float));
            continue;
        }
        const bool depth = f.name == "depth";
        if (f.kind == ObservationField::Kind::Array) {  // stacked, manifest order, one resolution
            const auto& cam0 = schema_->cameras[0];
            const HostInput& in = input(depth ? cam0.depth_input : cam0.images_input);
            std::memcpy(in.data, f.array.data, batch * in.per_item_bytes);
            continue;
        }
        for (const auto& [name, view] : f.cameras) {
            auto it = std::find_if(schema_->cameras.begin(), schema_->cameras.end(),
                                   [&](const auto& c) { return c.name == name; });
            const HostInput& in = input(depth ? it->depth_input : it->images_input);
            const std::size_t frame = in.per_item_bytes / in.frames;  // one camera, one item
            const auto* src = static_cast<const std::uint8_t*>(view.data);
            auto* dst = static_cast<std::uint8_t*>(in.data);
            for (std::size_t i = 0; i < batch; ++i)
                std::memcpy(dst + i * in.per_item_bytes + static_cast<std::size_t>(it->index) * frame, src + i * frame, frame);
        }
    }
}

}  // namespace act_edge
