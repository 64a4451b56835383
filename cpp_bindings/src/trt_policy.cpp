// TrtPolicy, written against the TensorRT 10 C++ API (NvInfer.h) and the CUDA runtime.
// Compiled only when CMake finds both (ACT_EDGE_WITH_TENSORRT).
#include "act_edge/trt_policy.hpp"

#include "act_edge/call_guard.hpp"

#include <cuda_runtime_api.h>
#include <NvInfer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "act_edge/action_check.hpp"
#include "act_edge/async_runner.hpp"
#include "act_edge/temporal_ensemble.hpp"

namespace act_edge {
namespace {

// The ensemble / queue refused a (rows, cols) chunk: ActionError with the Python Policy's message.
[[noreturn]] void refuse_chunk(const float* chunk, const std::int64_t* shape) {
    throw ActionError(refused_chunk_message(chunk, static_cast<std::size_t>(shape[0]), static_cast<std::size_t>(shape[1])));
}

// Held by step(), reset(), predict_chunk() and close() for the call: a second thread entering one of
// them meanwhile gets ConcurrentUseError at once, nothing touched (the Python Policy's rule, issue 10).
constexpr const char* kConcurrentMessage =
    "TrtPolicy used from two threads at once: step(), reset(), predict_chunk() and close() must be called "
    "from one control thread (nothing was changed)";

void cuda_check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// --- RAII over CUDA resources (move-only, as in the TensorRT samples' buffers.h) ----------------

// Move-only owner of `bytes` of CUDA memory, zeroed at allocation; Memory says which kind.
template <class Memory>
class CudaBuffer {
public:
    CudaBuffer() = default;
    explicit CudaBuffer(std::size_t bytes) : ptr_(bytes ? Memory::allocate(bytes) : nullptr), bytes_(bytes) {}
    ~CudaBuffer() { if (ptr_) Memory::release(ptr_); }
    CudaBuffer(CudaBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    CudaBuffer& operator=(CudaBuffer&& o) noexcept {
        if (this != &o) {
            if (ptr_) Memory::release(ptr_);
            ptr_ = std::exchange(o.ptr_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    CudaBuffer(const CudaBuffer&) = delete;
    CudaBuffer& operator=(const CudaBuffer&) = delete;
    void* get() const noexcept { return ptr_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

struct DeviceMemory {
    static void* allocate(std::size_t n) {
        void* p = nullptr;
        cuda_check(cudaMalloc(&p, n), "cudaMalloc");
        if (cudaError_t e = cudaMemset(p, 0, n); e != cudaSuccess) {  // defined inputs for the warm-up run
            cudaFree(p);
            cuda_check(e, "cudaMemset");
        }
        return p;
    }
    static void release(void* p) noexcept { cudaFree(p); }
};

// Pinned host memory (cudaMallocHost): async copies really overlap and do not stage through pageable memory.
struct PinnedHostMemory {
    static void* allocate(std::size_t n) {
        void* p = nullptr;
        cuda_check(cudaMallocHost(&p, n), "cudaMallocHost");
        std::memset(p, 0, n);
        return p;
    }
    static void release(void* p) noexcept { cudaFreeHost(p); }
};

using DeviceBuffer = CudaBuffer<DeviceMemory>;
using HostBuffer = CudaBuffer<PinnedHostMemory>;

struct StreamDeleter { void operator()(CUstream_st* s) const noexcept { cudaStreamDestroy(s); } };
using CudaStream = std::unique_ptr<CUstream_st, StreamDeleter>;
CudaStream make_stream() {
    cudaStream_t s = nullptr;
    cuda_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return CudaStream(s);
}

struct EventDeleter { void operator()(CUevent_st* e) const noexcept { cudaEventDestroy(e); } };
using CudaEvent = std::unique_ptr<CUevent_st, EventDeleter>;
CudaEvent make_event() {
    cudaEvent_t e = nullptr;
    cuda_check(cudaEventCreate(&e), "cudaEventCreate");
    return CudaEvent(e);
}

struct GraphDeleter { void operator()(CUgraph_st* g) const noexcept { cudaGraphDestroy(g); } };
struct GraphExecDeleter { void operator()(CUgraphExec_st* g) const noexcept { cudaGraphExecDestroy(g); } };

// TensorRT 10 objects are released with delete (destroy() is gone).
template <class T>
using TrtPtr = std::unique_ptr<T>;

class Logger : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char* msg) noexcept override {
        if (severity <= Severity::kWARNING) std::fprintf(stderr, "[act_edge TensorRT] %s\n", msg);
    }
};

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

// One engine I/O tensor with its buffers, sized for max_batch.
struct Binding {
    std::string name;
    bool is_input = false;
    std::vector<std::int64_t> dims;  // without the batch axis
    std::size_t elem_size = 0;
    std::size_t per_item_bytes = 0;  // one batch item
    DeviceBuffer device;
    HostBuffer host;
};

}  // namespace

MachineInfo this_machine(int device) {
    MachineInfo m;
    const int v = getInferLibVersion();  // TensorRT 10: major*10000 + minor*100 + patch
    const int major = v >= 10000 ? v / 10000 : v / 1000;
    const int minor = v >= 10000 ? (v / 100) % 100 : (v / 100) % 10;
    const int patch = v % 100;
    m.trt_version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    cudaDeviceProp prop{};
    cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    m.gpu_name = prop.name;
    m.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    return m;
}

struct TrtPolicy::Impl {
    TrtPolicyOptions opt;
    Manifest manifest;
    ObservationSchema schema;
    MachineInfo machine;
    const EngineEntry* engine_entry = nullptr;
    std::size_t chunk = 0, adim = 0, max_batch = 1;

    Logger logger;
    // Declaration order = reverse destruction order: context before engine before runtime.
    TrtPtr<nvinfer1::IRuntime> runtime;
    TrtPtr<nvinfer1::ICudaEngine> engine;
    TrtPtr<nvinfer1::IExecutionContext> context;
    CudaStream stream;
    CudaEvent ev_start, ev_h2d, ev_infer, ev_d2h;
    std::unique_ptr<CUgraph_st, GraphDeleter> graph;
    std::unique_ptr<CUgraphExec_st, GraphExecDeleter> graph_exec;
    std::vector<Binding> bindings;
    Binding* output = nullptr;
    std::size_t bound_batch = 0;  // batch the input shapes are set for

    std::optional<TemporalEnsemble> ensemble;
    std::optional<ChunkQueue> queue;
    std::vector<float> chunk_buf;  // (chunk, A), for the queue / ensemble
    Profiler profiler;

    // Async inference: the worker thread runs EngineModel::infer (H2D, engine, D2H) on the inputs the
    // control thread staged into the pinned host buffers while the worker was idle. Declared last:
    // destroyed first, so the worker is joined before any CUDA / TensorRT object goes.
    struct EngineModel : ChunkModel {
        Impl* m = nullptr;
        void infer(float* out) override {
            cuda_check(cudaSetDevice(m->opt.device), "cudaSetDevice");  // the worker thread's device
            m->launch(1, false);
            std::memcpy(out, m->output->host.get(), m->chunk * m->adim * sizeof(float));
        }
    };
    EngineModel engine_model;
    std::atomic<bool> busy{false};  // CallGuard
    std::unique_ptr<AsyncStepper> async;

    explicit Impl(TrtPolicyOptions o) : opt(std::move(o)), profiler(opt.profiler_capacity) {
        manifest = read_manifest(opt.bundle_dir);
        schema = ObservationSchema::from_io_inputs(manifest.inputs);
        chunk = static_cast<std::size_t>(manifest.spec.chunk_size);
        adim = static_cast<std::size_t>(manifest.spec.action_dim);

        cuda_check(cudaSetDevice(opt.device), "cudaSetDevice");
        machine = this_machine(opt.device);
        engine_entry = &select_engine(manifest, machine, opt.precision);
        // Confined to the bundle (no '..', absolute path or symbolic link), checked again right before opening.
        const std::string engine_path = resolve_in_bundle(
            opt.bundle_dir, engine_entry->path,
            "engines[" + std::to_string(engine_entry - manifest.engines.data()) + "].path", manifest.manifest_path);
        if (opt.verify_sha256) verify_sha256(engine_path, engine_entry->sha256);

        max_batch = static_cast<std::size_t>(opt.max_batch > 0 ? opt.max_batch : std::max<std::int64_t>(1, engine_entry->key.max_batch));
        if (static_cast<std::int64_t>(max_batch) > std::max<std::int64_t>(engine_entry->key.max_batch, 1)) {
            throw std::invalid_argument("TrtPolicyOptions.max_batch " + std::to_string(max_batch) + " exceeds the engine's max_batch " +
                                        std::to_string(engine_entry->key.max_batch) + " (" + engine_path + ")");
        }

        std::ifstream f(engine_path, std::ios::binary);
        if (!f) throw BundleError(engine_path + ": cannot open engine file");
        std::vector<char> plan((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        runtime.reset(nvinfer1::createInferRuntime(logger));
        if (!runtime) throw std::runtime_error("TensorRT: createInferRuntime failed");
        engine.reset(runtime->deserializeCudaEngine(plan.data(), plan.size()));
        if (!engine) throw BackendUnavailable(engine_path + ": TensorRT could not deserialize the engine (see the log above); rebuild with: act-edge build-engine " + opt.bundle_dir);
        context.reset(engine->createExecutionContext());
        if (!context) throw std::runtime_error("TensorRT: createExecutionContext failed for " + engine_path);
        stream = make_stream();
        ev_start = make_event(); ev_h2d = make_event(); ev_infer = make_event(); ev_d2h = make_event();

        allocate_and_bind(engine_path);
        set_batch(1);
        setup_mode();
        if (opt.use_cuda_graph) capture_graph();
        if (opt.inference == TrtPolicyOptions::Inference::Async) {
            AsyncOptions ao;
            if (ensemble) {
                ao.mode = AsyncOptions::Mode::Ensemble;
                ao.ensemble_coeff = ensemble->coeff();
            } else {
                ao.mode = AsyncOptions::Mode::ChunkQueue;
                ao.n_action_steps = queue->n_action_steps();
            }
            ao.refill_margin = opt.refill_margin;
            engine_model.m = this;
            async = std::make_unique<AsyncStepper>(engine_model, chunk, adim, ao);  // starts the worker
        }
    }

    void allocate_and_bind(const std::string& engine_path) {
        const int n = engine->getNbIOTensors();
        bindings.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            Binding b;
            b.name = engine->getIOTensorName(i);
            b.is_input = engine->getTensorIOMode(b.name.c_str()) == nvinfer1::TensorIOMode::kINPUT;
            const nvinfer1::DataType dt = engine->getTensorDataType(b.name.c_str());
            b.elem_size = dtype_size(dt);
            // The manifest is the contract: same names, dtypes and per-item shapes.
            const auto& list = b.is_input ? manifest.inputs : manifest.outputs;
            auto it = std::find_if(list.begin(), list.end(), [&](const IoTensor& t) { return t.name == b.name; });
            if (it == list.end()) throw BundleError(engine_path + ": engine tensor '" + b.name + "' is not in the manifest's io");
            if (it->dtype != numpy_name(dt)) {
                throw BundleError(engine_path + ": engine tensor '" + b.name + "' is " + numpy_name(dt) + ", the manifest says " + it->dtype);
            }
            if (it->shape.empty() || it->shape[0] != -1)
                throw BundleError(engine_path + ": manifest io '" + b.name + "' has no leading \"batch\" axis");
            b.dims.assign(it->shape.begin() + 1, it->shape.end());  // drop "batch"
            const nvinfer1::Dims ed = engine->getTensorShape(b.name.c_str());  // -1 = dynamic
            bool same = ed.nbDims == static_cast<int>(it->shape.size());
            for (int d = 1; same && d < ed.nbDims; ++d) same = ed.d[d] == -1 || ed.d[d] == it->shape[d];
            if (!same) {
                std::vector<std::int64_t> got(ed.d, ed.d + std::max(ed.nbDims, 0));
                throw BundleError(engine_path + ": engine tensor '" + b.name + "' has shape " +
                                  format_shape(got.data(), static_cast<int>(got.size())) + ", the manifest says " +
                                  format_shape(it->shape.data(), static_cast<int>(it->shape.size())) +
                                  " (engine built from another export; rebuild with: act-edge build-engine " + opt.bundle_dir + ")");
            }
            std::size_t vol = 1;
            for (auto d : b.dims) vol *= static_cast<std::size_t>(d);
            b.per_item_bytes = vol * b.elem_size;
            b.device = DeviceBuffer(b.per_item_bytes * max_batch);
            b.host = HostBuffer(b.per_item_bytes * max_batch);
            bindings.push_back(std::move(b));
        }
        for (auto& b : bindings) {  // bound once: the buffers never move
            if (!context->setTensorAddress(b.name.c_str(), b.device.get()))
                throw std::runtime_error("TensorRT: setTensorAddress failed for '" + b.name + "'");
            if (!b.is_input && b.name == manifest.outputs[0].name) output = &b;
        }
        if (!output) throw BundleError(engine_path + ": the engine has no output '" + manifest.outputs[0].name + "'");
        if (output->per_item_bytes != chunk * adim * sizeof(float))
            throw BundleError(engine_path + ": output '" + output->name + "' is not (batch, chunk, action_dim) float32");
    }

    void set_batch(std::size_t batch) {
        if (batch == bound_batch) return;
        for (auto& b : bindings) {
            if (!b.is_input) continue;
            nvinfer1::Dims d{};
            d.nbDims = static_cast<int>(b.dims.size() + 1);
            d.d[0] = static_cast<std::int64_t>(batch);
            for (std::size_t i = 0; i < b.dims.size(); ++i) d.d[i + 1] = b.dims[i];
            if (!context->setInputShape(b.name.c_str(), d))
                throw std::runtime_error("TensorRT: setInputShape failed for '" + b.name + "' at batch " + std::to_string(batch));
        }
        bound_batch = batch;
    }

    void setup_mode() {
        using Mode = TrtPolicyOptions::Mode;
        Mode mode = opt.mode;
        double coeff = opt.ensemble_coeff;
        if (mode == Mode::ManifestDefault) {
            mode = manifest.runtime.temporal_ensemble_coeff ? Mode::Ensemble : Mode::ChunkQueue;
            if (manifest.runtime.temporal_ensemble_coeff) coeff = *manifest.runtime.temporal_ensemble_coeff;
        }
        chunk_buf.assign(chunk * adim, 0.0f);
        if (mode == Mode::Ensemble) {
            ensemble.emplace(chunk, adim, coeff);
            return;
        }
        std::int64_t n = opt.n_action_steps > 0 ? opt.n_action_steps
                        : manifest.runtime.n_action_steps > 0 ? manifest.runtime.n_action_steps
                                                              : static_cast<std::int64_t>(chunk);
        if (n < 1 || n > static_cast<std::int64_t>(chunk))
            throw std::invalid_argument("n_action_steps must be in 1.." + std::to_string(chunk) + ", got " + std::to_string(n));
        queue.emplace(static_cast<std::size_t>(n), adim);
    }

    void capture_graph() {
        // enqueueV3 once outside capture (TensorRT sets up deferred state on the first run).
        if (!context->enqueueV3(stream.get())) throw std::runtime_error("TensorRT: enqueueV3 failed");
        cuda_check(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize");
        cudaGraph_t g = nullptr;
        if (cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal) != cudaSuccess) return;
        const bool ok = context->enqueueV3(stream.get());
        const cudaError_t end = cudaStreamEndCapture(stream.get(), &g);
        if (!ok || end != cudaSuccess || g == nullptr) {
            if (g) cudaGraphDestroy(g);
            cudaGetLastError();  // clear; plain enqueueV3 is used instead
            std::fprintf(stderr, "[act_edge] CUDA graph capture failed; using enqueueV3\n");
            return;
        }
        graph.reset(g);
        cudaGraphExec_t exec = nullptr;
        if (cudaGraphInstantiateWithFlags(&exec, g, 0) != cudaSuccess) {
            cudaGetLastError();
            graph.reset();
            return;
        }
        graph_exec.reset(exec);
    }

    // --- staging: observation -> pinned host buffers -------------------------------------------
    Binding& binding(const std::string& name) {
        for (auto& b : bindings)
            if (b.name == name) return b;
        throw BundleError("engine has no input '" + name + "'");
    }

    static void copy_vector(const ArrayView& a, float* dst, std::size_t n) {
        if (a.dtype == "float32") std::memcpy(dst, a.data, n * sizeof(float));
        else {
            const auto* src = static_cast<const double*>(a.data);
            for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
        }
    }

    // Every array must carry data to be staged (validation alone accepts shape-only views).
    static void require_data(const Observation& obs) {
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

    std::size_t batch_of(const Observation& obs, bool batched) {
        require_data(obs);
        if (!batched) return 1;
        const ObservationField* st = obs.find("state");
        if (st == nullptr) st = obs.find("env_state");  // a state-less (env state only) bundle
        return static_cast<std::size_t>(st->array.shape[0]);  // one batch across fields, <= max_batch: validated
    }

    void stage(const Observation& obs, std::size_t batch) {
        for (const auto& f : obs.fields) {
            if (f.name == "state" || f.name == "env_state") {
                Binding& b = binding(std::string(f.name));
                copy_vector(f.array, static_cast<float*>(b.host.get()), batch * b.per_item_bytes / sizeof(float));
                continue;
            }
            const bool depth = f.name == "depth";
            if (f.kind == ObservationField::Kind::Array) {  // stacked, manifest order, one resolution
                const auto& cam0 = schema.cameras[0];
                Binding& b = binding(depth ? cam0.depth_input : cam0.images_input);
                std::memcpy(b.host.get(), f.array.data, batch * b.per_item_bytes);
                continue;
            }
            for (const auto& [name, view] : f.cameras) {
                auto it = std::find_if(schema.cameras.begin(), schema.cameras.end(), [&](const auto& c) { return c.name == name; });
                Binding& b = binding(depth ? it->depth_input : it->images_input);
                const std::size_t frame = b.per_item_bytes / static_cast<std::size_t>(b.dims[0]);  // one camera, one item
                const auto* src = static_cast<const std::uint8_t*>(view.data);
                auto* dst = static_cast<std::uint8_t*>(b.host.get());
                for (std::size_t i = 0; i < batch; ++i)
                    std::memcpy(dst + i * b.per_item_bytes + static_cast<std::size_t>(it->index) * frame, src + i * frame, frame);
            }
        }
    }

    // validate -> stage_inputs -> host_to_device -> infer -> device_to_host, each recorded into the
    // profiler's current step; the chunk(s) land in output->host.
    std::size_t run(const Observation& obs, bool batched) {
        const auto t0 = Profiler::Clock::now();
        validate_observation(schema, obs, batched, static_cast<std::int64_t>(max_batch));
        const std::size_t batch = batch_of(obs, batched);
        const auto t1 = Profiler::Clock::now();
        profiler.record(Stage::Validate, t0, t1);
        stage(obs, batch);
        profiler.record(Stage::StageInputs, t1, Profiler::Clock::now());
        launch(batch, true);
        return batch;
    }

    // host_to_device -> infer -> device_to_host for the staged inputs, then wait for the stream;
    // `record`: the three GPU stages go into the profiler (never from the async worker thread: the
    // profiler belongs to the control thread).
    void launch(std::size_t batch, bool record) {
        cudaStream_t s = stream.get();
        cuda_check(cudaEventRecord(ev_start.get(), s), "cudaEventRecord");
        for (auto& b : bindings)
            if (b.is_input) cuda_check(cudaMemcpyAsync(b.device.get(), b.host.get(), batch * b.per_item_bytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync h2d");
        cuda_check(cudaEventRecord(ev_h2d.get(), s), "cudaEventRecord");
        if (batch == 1 && graph_exec) {
            cuda_check(cudaGraphLaunch(graph_exec.get(), s), "cudaGraphLaunch");
        } else {
            set_batch(batch);
            if (!context->enqueueV3(s)) throw std::runtime_error("TensorRT: enqueueV3 failed");
        }
        cuda_check(cudaEventRecord(ev_infer.get(), s), "cudaEventRecord");
        cuda_check(cudaMemcpyAsync(output->host.get(), output->device.get(), batch * output->per_item_bytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync d2h");
        cuda_check(cudaEventRecord(ev_d2h.get(), s), "cudaEventRecord");
        cuda_check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        if (batch != 1 && graph_exec) set_batch(1);  // the graph was captured for batch 1
        if (!record) return;
        float ms = 0;
        cudaEventElapsedTime(&ms, ev_start.get(), ev_h2d.get());
        profiler.record(Stage::HostToDevice, ms * 1e3);
        cudaEventElapsedTime(&ms, ev_h2d.get(), ev_infer.get());
        profiler.record(Stage::Infer, ms * 1e3);
        cudaEventElapsedTime(&ms, ev_infer.get(), ev_d2h.get());
        profiler.record(Stage::DeviceToHost, ms * 1e3);
    }
};

TrtPolicy::TrtPolicy(TrtPolicyOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
TrtPolicy::~TrtPolicy() = default;
TrtPolicy::TrtPolicy(TrtPolicy&&) noexcept = default;
TrtPolicy& TrtPolicy::operator=(TrtPolicy&&) noexcept = default;

void TrtPolicy::reset() {
    CallGuard guard(impl_->busy, kConcurrentMessage);
    if (impl_->async) {
        impl_->async->reset();  // the request in flight (if any) is discarded when it arrives
        return;
    }
    if (impl_->ensemble) impl_->ensemble->reset();
    if (impl_->queue) impl_->queue->reset();
}

void TrtPolicy::step(const Observation& obs, float* action) {
    Impl& m = *impl_;
    CallGuard guard(m.busy, kConcurrentMessage);
    m.profiler.begin_step();  // a step that throws is never ended: the next begin_step() drops it
    const auto t0 = Profiler::Clock::now();
    if (m.async) {
        // Validated on this thread before anything changes; staged into the pinned host buffers only
        // while the worker is idle and a chunk is due; the worker's failure is rethrown here.
        validate_observation(m.schema, obs, false);
        m.batch_of(obs, false);  // every array has data
        const auto t1 = Profiler::Clock::now();
        m.profiler.record(Stage::Validate, t0, t1);
        m.async->step([&] { m.stage(obs, 1); }, action);
        m.manifest.runtime.post_steps.apply(action, 1);
        const auto t2 = Profiler::Clock::now();
        m.profiler.record(Stage::Ensemble, t1, t2);  // hand-off, folding in, pop (and staging when due)
        m.profiler.record(Stage::Total, t0, t2);
        m.profiler.end_step();
        return;
    }
    const std::int64_t chunk_shape[2] = {static_cast<std::int64_t>(m.chunk), static_cast<std::int64_t>(m.adim)};
    const PostSteps& post = m.manifest.runtime.post_steps;
    if (m.ensemble) {
        m.run(obs, false);
        const auto* out = static_cast<const float*>(m.output->host.get());
        const auto t1 = Profiler::Clock::now();
        // The ensemble refuses a chunk with nan/inf and stays unchanged: ActionError naming the value.
        if (!m.ensemble->update(out, action)) refuse_chunk(out, chunk_shape);
        post.apply(action, 1);  // on the emitted action, never on the ensemble's state
        const auto t2 = Profiler::Clock::now();
        m.profiler.record(Stage::Ensemble, t1, t2);
        m.profiler.record(Stage::Total, t0, t2);
        m.profiler.end_step();
        return;
    }
    if (m.queue->empty()) {
        m.run(obs, false);
        const auto* out = static_cast<const float*>(m.output->host.get());
        // The queue refuses a chunk with nan/inf and stays empty: ActionError naming the value.
        if (!m.queue->push(out, m.chunk)) refuse_chunk(out, chunk_shape);
    } else {
        validate_observation(m.schema, obs, false);  // every step, as the Python Policy does
        m.profiler.record(Stage::Validate, t0, Profiler::Clock::now());
    }
    const auto t1 = Profiler::Clock::now();
    m.queue->pop(action);
    post.apply(action, 1);
    const auto t2 = Profiler::Clock::now();
    m.profiler.record(Stage::Ensemble, t1, t2);
    m.profiler.record(Stage::Total, t0, t2);
    m.profiler.end_step();
}

std::size_t TrtPolicy::predict_chunk(const Observation& obs, float* out, bool batched) {
    // Profiled as a step without the ensemble stage, as the Python Policy does. Async: the staging
    // buffers and the stream are the worker's while it runs, so wait for it to finish first (its
    // chunk is kept in the runner and folded in by the next step()).
    CallGuard guard(impl_->busy, kConcurrentMessage);
    if (impl_->async) impl_->async->runner().wait();
    impl_->profiler.begin_step();
    const auto t0 = Profiler::Clock::now();
    const std::size_t batch = impl_->run(obs, batched);
    // (batch, chunk, A) whether batched or not, as Python checks the backend's download; `out` is
    // left alone on ActionError. Post-steps are not applied: they act on executed actions (step()).
    const std::int64_t shape[3] = {static_cast<std::int64_t>(batch), static_cast<std::int64_t>(impl_->chunk),
                                   static_cast<std::int64_t>(impl_->adim)};
    check_finite(static_cast<const float*>(impl_->output->host.get()), shape, 3);
    std::memcpy(out, impl_->output->host.get(), batch * impl_->output->per_item_bytes);
    impl_->profiler.record(Stage::Total, t0, Profiler::Clock::now());
    impl_->profiler.end_step();
    return batch;
}

std::size_t TrtPolicy::action_dim() const noexcept { return impl_->adim; }
std::size_t TrtPolicy::chunk_size() const noexcept { return impl_->chunk; }
std::size_t TrtPolicy::max_batch() const noexcept { return impl_->max_batch; }
const Manifest& TrtPolicy::manifest() const noexcept { return impl_->manifest; }
const PostSteps& TrtPolicy::post_steps() const noexcept { return impl_->manifest.runtime.post_steps; }
const ObservationSchema& TrtPolicy::schema() const noexcept { return impl_->schema; }
Profiler& TrtPolicy::profiler() noexcept { return impl_->profiler; }

const AsyncStepper* TrtPolicy::async() const noexcept { return impl_->async.get(); }

void TrtPolicy::close() {
    if (!impl_) return;
    CallGuard guard(impl_->busy, kConcurrentMessage);
    if (impl_->async) impl_->async->close();
}

std::string TrtPolicy::describe() const {
    const Impl& m = *impl_;
    std::string cc;
    for (char c : m.machine.compute_capability) if (c != '.') cc += c;
    return "TensorRT " + m.machine.trt_version + " on " + m.machine.gpu_name + " (sm_" + cc + "), " +
           m.engine_entry->key.precision + (m.graph_exec ? ", CUDA graph" : ", enqueueV3") + (m.async ? ", async" : "");
}

}  // namespace act_edge
