// TrtPolicy over the TensorRT 10 C++ API and the CUDA runtime: the composition of the engine loader
// (trt/engine_loader), the buffers and bindings (trt/buffer_manager), the stream execution
// (trt/stream_executor) and staging (input_staging), with the inference sequence written once
// (Impl::infer). Compiled only when CMake finds TensorRT and CUDA (ACT_EDGE_WITH_TENSORRT);
// trt_policy_stub.cpp stands in otherwise.
#include "act_edge/trt_policy.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "act_edge/action_check.hpp"
#include "act_edge/async_runner.hpp"
#include "act_edge/call_guard.hpp"
#include "act_edge/engine_selection.hpp"
#include "act_edge/temporal_ensemble.hpp"
#include "input_staging.hpp"
#include "trt/buffer_manager.hpp"
#include "trt/cuda_raii.hpp"
#include "trt/engine_loader.hpp"
#include "trt/stream_executor.hpp"

namespace act_edge {
namespace {

using trt::cuda_check;

// The ensemble / queue refused a (rows, cols) chunk: ActionError with the Python Policy's message.
[[noreturn]] void refuse_chunk(const float* chunk, std::size_t rows, std::size_t cols) {
    throw ActionError(refused_chunk_message(chunk, rows, cols));
}

// Held by step(), reset(), predict_chunk() and close() for the call: a second thread entering one of
// them meanwhile gets ConcurrentUseError at once, nothing touched (the Python Policy's rule, issue 10).
constexpr const char* kConcurrentMessage =
    "TrtPolicy used from two threads at once: step(), reset(), predict_chunk() and close() must be called "
    "from one control thread (nothing was changed)";

}  // namespace

bool tensorrt_available() noexcept { return true; }

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
    std::size_t chunk = 0, adim = 0, max_batch = 1;

    // Declaration order = reverse destruction order: executor and buffers before the context, the
    // context before the engine (held by `loaded`) and its runtime.
    trt::Logger logger;
    trt::LoadedEngine loaded;
    trt::TrtPtr<nvinfer1::IExecutionContext> context;
    std::optional<trt::BufferManager> buffers;
    std::optional<trt::StreamExecutor> executor;
    std::optional<InputStager> stager;

    std::optional<TemporalEnsemble> ensemble;
    std::optional<ChunkQueue> queue;
    Profiler profiler;

    // Async inference: the worker thread runs EngineModel::infer (upload, execute, download) on the
    // inputs the control thread staged while the worker was idle. Declared last: destroyed first, so
    // the worker is joined before any CUDA / TensorRT object goes.
    struct EngineModel : ChunkModel {
        Impl* m = nullptr;
        void infer(float* out) override {
            cuda_check(cudaSetDevice(m->opt.device), "cudaSetDevice");  // the worker thread's device
            m->executor->run(1);
            std::memcpy(out, m->buffers->output(), m->chunk * m->adim * sizeof(float));
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
        setup_mode();

        cuda_check(cudaSetDevice(opt.device), "cudaSetDevice");
        machine = this_machine(opt.device);
        const EngineRequest request{opt.precision, opt.typing, opt.max_batch > 0 ? opt.max_batch : 1};
        loaded = trt::load_engine(manifest, machine, request, opt.verify_sha256, logger);
        // select_engine refused an engine whose profile is smaller than the requested batch.
        max_batch = static_cast<std::size_t>(opt.max_batch > 0 ? opt.max_batch : loaded.entry->key.max_batch);
        context.reset(loaded.engine->createExecutionContext());
        if (!context) throw std::runtime_error("TensorRT: createExecutionContext failed for " + loaded.path);
        buffers.emplace(*loaded.engine, *context, manifest, loaded.path, max_batch);
        executor.emplace(*context, *buffers, opt.use_cuda_graph);
        stager.emplace(schema, buffers->host_inputs());
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

    void setup_mode() {
        using Mode = TrtPolicyOptions::Mode;
        Mode mode = opt.mode;
        double coeff = opt.ensemble_coeff;
        if (mode == Mode::ManifestDefault) {
            mode = manifest.runtime.temporal_ensemble_coeff ? Mode::Ensemble : Mode::ChunkQueue;
            if (manifest.runtime.temporal_ensemble_coeff) coeff = *manifest.runtime.temporal_ensemble_coeff;
        }
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

    // THE inference sequence of the C++ runtime: validate -> stage -> upload -> execute -> download
    // -> finite check, each stage timed into the profiler's current step (step() and predict_chunk()
    // both go through here; the async worker runs its upload -> execute -> download, EngineModel).
    // Returns (batch, chunk, A) floats; `*batch_out` = batch (1 unless `batched`). The finite check's
    // ActionError names the value's index in (batch, chunk, A) if `batch_axis`, else in (chunk, A)
    // (step()'s chunk), as the Python Policy does.
    const float* infer(const Observation& obs, bool batched, bool batch_axis, std::size_t* batch_out) {
        const auto t0 = Profiler::Clock::now();
        validate_observation(schema, obs, batched, static_cast<std::int64_t>(max_batch));
        const std::size_t batch = stager->batch_of(obs, batched);
        const auto t1 = Profiler::Clock::now();
        profiler.record(Stage::Validate, t0, t1);
        stager->stage(obs, batch);
        profiler.record(Stage::StageInputs, t1, Profiler::Clock::now());
        executor->run(batch);
        const trt::StageTimes gpu = executor->last_times();
        profiler.record(Stage::HostToDevice, gpu.host_to_device_us);
        profiler.record(Stage::Infer, gpu.infer_us);
        profiler.record(Stage::DeviceToHost, gpu.device_to_host_us);
        const float* out = buffers->output();
        const std::int64_t shape3[3] = {static_cast<std::int64_t>(batch), static_cast<std::int64_t>(chunk),
                                        static_cast<std::int64_t>(adim)};
        if (batch_axis) check_finite(out, shape3, 3);
        else check_finite(out, shape3 + 1, 2);
        *batch_out = batch;
        return out;
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
    std::size_t batch = 1;
    Profiler::Clock::time_point t1;  // the ensemble stage starts here
    if (m.async) {
        // Validated on this thread before anything changes; staged into the pinned host buffers only
        // while the worker is idle and a chunk is due; the worker's failure is rethrown here.
        validate_observation(m.schema, obs, false);
        m.stager->batch_of(obs, false);  // every array has data
        t1 = Profiler::Clock::now();
        m.profiler.record(Stage::Validate, t0, t1);
        m.async->step([&] { m.stager->stage(obs, 1); }, action);  // hand-off, folding in, pop (staging when due)
    } else if (m.ensemble) {
        // A chunk with nan/inf is refused before the ensemble sees it; the ensemble also refuses one
        // whose weighted sums overflow (ActionError, ensemble unchanged).
        const float* out = m.infer(obs, false, false, &batch);
        t1 = Profiler::Clock::now();
        if (!m.ensemble->update(out, action)) refuse_chunk(out, m.chunk, m.adim);
    } else {
        if (m.queue->empty()) {
            const float* out = m.infer(obs, false, false, &batch);
            if (!m.queue->push(out, m.chunk)) refuse_chunk(out, m.chunk, m.adim);
        } else {
            validate_observation(m.schema, obs, false);  // every step, as the Python Policy does
            m.profiler.record(Stage::Validate, t0, Profiler::Clock::now());
        }
        t1 = Profiler::Clock::now();
        m.queue->pop(action);
    }
    // The post-steps act on the emitted action, never on the ensemble's / queue's state.
    m.manifest.runtime.post_steps.apply(action, 1);
    const auto t2 = Profiler::Clock::now();
    m.profiler.record(Stage::Ensemble, t1, t2);
    m.profiler.record(Stage::Total, t0, t2);
    m.profiler.end_step();
}

std::size_t TrtPolicy::predict_chunk(const Observation& obs, float* out, bool batched) {
    // Profiled as a step without the ensemble stage, as the Python Policy does. Async: the staging
    // buffers and the stream are the worker's while it runs, so wait for it to finish first (its
    // chunk is kept in the runner and folded in by the next step()).
    Impl& m = *impl_;
    CallGuard guard(m.busy, kConcurrentMessage);
    if (m.async) m.async->runner().wait();
    m.profiler.begin_step();
    const auto t0 = Profiler::Clock::now();
    std::size_t batch = 1;
    // (batch, chunk, A) whether batched or not, as Python checks the backend's download; `out` is
    // left alone on ActionError. Post-steps are not applied: they act on executed actions (step()).
    const float* chunks = m.infer(obs, batched, true, &batch);
    std::memcpy(out, chunks, batch * m.buffers->output_item_bytes());
    m.profiler.record(Stage::Total, t0, Profiler::Clock::now());
    m.profiler.end_step();
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
    const auto& key = m.loaded.entry->key;
    return "TensorRT " + m.machine.trt_version + " on " + m.machine.gpu_name + " (sm_" + cc + "), " + key.precision +
           (key.dla_core ? ", DLA core " + std::to_string(*key.dla_core) : std::string()) +
           (m.executor->uses_cuda_graph() ? ", CUDA graph" : ", enqueueV3") + (m.async ? ", async" : "");
}

}  // namespace act_edge
