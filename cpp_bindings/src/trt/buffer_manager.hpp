// The engine's I/O tensors: checked against the manifest's io, one device buffer and one pinned host
// buffer each, sized for max_batch, bound once (the TensorRT samples' BufferManager). TensorRT builds only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "act_edge/manifest.hpp"
#include "cuda_raii.hpp"
#include "../input_staging.hpp"

namespace act_edge::trt {

// One engine I/O tensor with its buffers.
struct Binding {
    std::string name;
    bool is_input = false;
    std::vector<std::int64_t> dims;  // without the batch axis
    std::size_t elem_size = 0;
    std::size_t per_item_bytes = 0;  // one batch item
    DeviceBuffer device;
    HostBuffer host;
};

class BufferManager {
public:
    // Checks every engine tensor against the manifest io (name, dtype, per-item shape; BundleError
    // naming `engine_path` otherwise) and that the first manifest output is (batch, chunk, action_dim)
    // float32, allocates the buffers for `max_batch` and binds each tensor's device address on `context`.
    BufferManager(const nvinfer1::ICudaEngine& engine, nvinfer1::IExecutionContext& context, const Manifest& manifest,
                  const std::string& engine_path, std::size_t max_batch);
    BufferManager(const BufferManager&) = delete;
    BufferManager& operator=(const BufferManager&) = delete;

    // Input shapes for `batch` items (nothing to do if they are set already).
    void set_batch(std::size_t batch);
    // Enqueue the copies of `batch` items: every input host -> device / the output device -> host.
    void upload(std::size_t batch, cudaStream_t stream);
    void download(std::size_t batch, cudaStream_t stream);

    // The output's host buffer: (max_batch, chunk, action_dim) float32, valid after download + sync.
    const float* output() const noexcept { return static_cast<const float*>(output_->host.get()); }
    std::size_t output_item_bytes() const noexcept { return output_->per_item_bytes; }
    // The inputs' host buffers, for staging.
    std::vector<HostInput> host_inputs() const;

private:
    nvinfer1::IExecutionContext& context_;
    std::vector<Binding> bindings_;
    Binding* output_ = nullptr;
    std::size_t bound_batch_ = 0;  // batch the input shapes are set for
};

}  // namespace act_edge::trt
