#include "buffer_manager.hpp"

#include <algorithm>

#include "act_edge/errors.hpp"
#include "act_edge/observation.hpp"

namespace act_edge::trt {
namespace {

std::size_t dtype_size(nvinfer1::DataType t) {
    switch (t) {
        case nvinfer1::DataType::kFLOAT: return 4;
        case nvinfer1::DataType::kHALF: return 2;
        case nvinfer1::DataType::kINT32: return 4;
        case nvinfer1::DataType::kINT64: return 8;
        case nvinfer1::DataType::kINT8: return 1;
        case nvinfer1::DataType::kUINT8: return 1;
        case nvinfer1::DataType::kBOOL: return 1;
        default: throw std::runtime_error("unsupported TensorRT data type in the engine's I/O");
    }
}

const char* numpy_name(nvinfer1::DataType t) {
    switch (t) {
        case nvinfer1::DataType::kFLOAT: return "float32";
        case nvinfer1::DataType::kHALF: return "float16";
        case nvinfer1::DataType::kINT32: return "int32";
        case nvinfer1::DataType::kINT64: return "int64";
        case nvinfer1::DataType::kINT8: return "int8";
        case nvinfer1::DataType::kUINT8: return "uint8";
        case nvinfer1::DataType::kBOOL: return "bool";
        default: return "?";
    }
}

}  // namespace

BufferManager::BufferManager(const nvinfer1::ICudaEngine& engine, nvinfer1::IExecutionContext& context,
                             const Manifest& manifest, const std::string& engine_path, std::size_t max_batch)
    : context_(context) {
    const std::string rebuild = " (engine built from another export; rebuild with: act-edge build-engine " + manifest.bundle_dir + ")";
    const int n = engine.getNbIOTensors();
    bindings_.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        Binding b;
        b.name = engine.getIOTensorName(i);
        b.is_input = engine.getTensorIOMode(b.name.c_str()) == nvinfer1::TensorIOMode::kINPUT;
        const nvinfer1::DataType dt = engine.getTensorDataType(b.name.c_str());
        b.elem_size = dtype_size(dt);
        // The manifest is the contract: same names, dtypes and per-item shapes.
        const auto& list = b.is_input ? manifest.inputs : manifest.outputs;
        auto it = std::find_if(list.begin(), list.end(), [&](const IoTensor& t) { return t.name == b.name; });
        if (it == list.end()) throw BundleError(engine_path + ": engine tensor '" + b.name + "' is not in the manifest's io");
        if (it->dtype != numpy_name(dt))
            throw BundleError(engine_path + ": engine tensor '" + b.name + "' is " + numpy_name(dt) + ", the manifest says " + it->dtype);
        if (it->shape.empty() || it->shape[0] != -1)
            throw BundleError(engine_path + ": manifest io '" + b.name + "' has no leading \"batch\" axis");
        b.dims.assign(it->shape.begin() + 1, it->shape.end());  // drop "batch"
        const nvinfer1::Dims ed = engine.getTensorShape(b.name.c_str());  // -1 = dynamic
        bool same = ed.nbDims == static_cast<int>(it->shape.size());
        for (int d = 1; same && d < ed.nbDims; ++d) same = ed.d[d] == -1 || ed.d[d] == it->shape[d];
        if (!same) {
            std::vector<std::int64_t> got(ed.d, ed.d + std::max(ed.nbDims, 0));
            throw BundleError(engine_path + ": engine tensor '" + b.name + "' has shape " +
                              format_shape(got.data(), static_cast<int>(got.size())) + ", the manifest says " +
                              format_shape(it->shape.data(), static_cast<int>(it->shape.size())) + rebuild);
        }
        std::size_t vol = 1;
        for (auto d : b.dims) vol *= static_cast<std::size_t>(d);
        b.per_item_bytes = vol * b.elem_size;
        b.device = DeviceBuffer(b.per_item_bytes * max_batch);
        b.host = HostBuffer(b.per_item_bytes * max_batch);
        bindings_.push_back(std::move(b));
    }
    for (auto& b : bindings_) {  // bound once: the buffers never move
        if (!context_.setTensorAddress(b.name.c_str(), b.device.get()))
            throw std::runtime_error("TensorRT: setTensorAddress failed for '" + b.name + "'");
        if (!b.is_input && b.name == manifest.outputs[0].name) output_ = &b;
    }
    if (!output_) throw BundleError(engine_path + ": the engine has no output '" + manifest.outputs[0].name + "'");
    const auto chunk = static_cast<std::size_t>(manifest.spec.chunk_size), adim = static_cast<std::size_t>(manifest.spec.action_dim);
    if (output_->per_item_bytes != chunk * adim * sizeof(float))
        throw BundleError(engine_path + ": output '" + output_->name + "' is not (batch, chunk, action_dim) float32");
}

void BufferManager::set_batch(std::size_t batch) {
    if (batch == bound_batch_) return;
    for (auto& b : bindings_) {
        if (!b.is_input) continue;
        nvinfer1::Dims d{};
        d.nbDims = static_cast<int>(b.dims.size() + 1);
        d.d[0] = static_cast<std::int64_t>(batch);
        for (std::size_t i = 0; i < b.dims.size(); ++i) d.d[i + 1] = b.dims[i];
        if (!context_.setInputShape(b.name.c_str(), d))
            throw std::runtime_error("TensorRT: setInputShape failed for '" + b.name + "' at batch " + std::to_string(batch));
    }
    bound_batch_ = batch;
}

void BufferManager::upload(std::size_t batch, cudaStream_t stream) {
    for (auto& b : bindings_)
        if (b.is_input)
            cuda_check(cudaMemcpyAsync(b.device.get(), b.host.get(), batch * b.per_item_bytes, cudaMemcpyHostToDevice, stream),
                       "cudaMemcpyAsync h2d");
}

void BufferManager::download(std::size_t batch, cudaStream_t stream) {
    cuda_check(cudaMemcpyAsync(output_->host.get(), output_->device.get(), batch * output_->per_item_bytes,
                               cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync d2h");
}

std::vector<HostInput> BufferManager::host_inputs() const {
    std::vector<HostInput> out;
    for (const auto& b : bindings_)
        if (b.is_input)
            out.push_back({b.name, b.host.get(), b.per_item_bytes, b.dims.empty() ? 1 : static_cast<std::size_t>(b.dims[0])});
    return out;
}

}  // namespace act_edge::trt
