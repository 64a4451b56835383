// TrtPolicy: a bundle's TensorRT engine in a C++ control process, no Python.
//
// Declared in every build. Built with TensorRT and CUDA (ACT_EDGE_WITH_TENSORRT is then defined for
// consumers of the act_edge target, and tensorrt_available() is true) it runs the engine; built
// without them its constructor throws BackendUnavailable (src/trt_policy_stub.cpp). The header has
// no CUDA/TensorRT includes (pimpl), so it can be included anywhere.
//
// Engine choice: select_engine (engine_selection.hpp, the Python rule); a DLA engine runs on the
// DLA core it was built for (IRuntime::setDLACore before deserializing).
//
// Per step:  validate -> stage_inputs (host pinned buffers) -> host_to_device -> infer (enqueueV3
//            or CUDA graph) -> device_to_host -> ensemble / chunk queue, each timed into one
//            profiler step (total included; predict_chunk() records one too, without ensemble).
//            A chunk with nan/inf is refused (ActionError) before the ensemble / queue sees it; the
//            manifest's runtime.post_steps (gripper snapping) are applied to the action step() emits.
// Everything (buffers, stream, events, ensemble ring) is allocated in the constructor; tensor
// addresses are bound once.
// Inference::Async: H2D -> infer -> D2H run on one worker thread (AsyncStepper, async_runner.hpp);
// step() validates, stages into the pinned buffers when the worker is idle and a chunk is due, folds
// in finished chunks and returns without waiting (the first step after reset() waits).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "act_edge/async_runner.hpp"
#include "act_edge/engine_selection.hpp"
#include "act_edge/errors.hpp"
#include "act_edge/manifest.hpp"
#include "act_edge/observation.hpp"
#include "act_edge/profiler.hpp"

namespace act_edge {

struct TrtPolicyOptions {
    // The bundle directory (<name>.actedge/) holding manifest.json and engines/.
    std::string bundle_dir;
    // CUDA device index the engine is deserialized on and runs on.
    int device = 0;
    // Engine precision / typing to pick from the manifest's engines ("fp16", "fp32" / "strong",
    // "weak"); "" = any, in the order of select_engine (fp16 strong, fp16 weak, fp32; GPU before DLA;
    // the smallest max_batch >= this max_batch, or 1 if it is 0).
    std::string precision;
    std::string typing;
    // How a chunk becomes an action per step. ManifestDefault: the manifest's runtime section
    // (temporal_ensemble_coeff non-null -> ensemble, else chunk queue with its n_action_steps).
    enum class Mode { ManifestDefault, Ensemble, ChunkQueue };
    Mode mode = Mode::ManifestDefault;
    // Temporal ensemble coefficient k in exp(-k*i) (Mode::Ensemble); 0.01 in ACT.
    double ensemble_coeff = 0.01;
    // Actions taken per chunk (Mode::ChunkQueue), 1..chunk_size; 0 = the manifest's n_action_steps,
    // or chunk_size if it has none.
    int n_action_steps = 0;
    // Capture enqueueV3 for batch 1 in a CUDA graph at load and replay it each step (lower launch
    // overhead and jitter). Falls back to enqueueV3 if capture fails.
    bool use_cuda_graph = true;
    // Largest batch predict_chunk(batched) accepts; buffers are sized for it. The engine chosen is
    // the smallest whose profile allows it (none: BackendUnavailable). 0 = the chosen engine key's
    // max_batch (engines for batch 1 and up are considered).
    int max_batch = 0;
    // Verify the engine file's sha256 against the manifest before deserializing it.
    bool verify_sha256 = true;
    // Steps kept by the profiler's ring (its report's window).
    std::size_t profiler_capacity = 4096;
    // Sync: step() runs the engine and waits for it. Async (docs/async.md, async_runner.hpp): one
    // worker thread runs the engine; step() hands it the observation when it is idle and a chunk is
    // due, folds in finished chunks and returns at once (the first step after reset() waits).
    enum class Inference { Sync, Async };
    Inference inference = Inference::Sync;
    // Async chunk queue: request the next chunk when <= this many actions are left; -1 = the
    // measured latency in ticks + 1.
    int refill_margin = -1;
};

class TrtPolicy {
public:
    // Reads and checks the manifest, picks the engine for this machine (BackendUnavailable with the
    // one-line reason and rebuild command otherwise; std::invalid_argument for a precision / typing
    // that no engine can have), verifies its sha256, deserializes it (on its DLA core for a DLA
    // engine), allocates every buffer, binds tensor addresses and optionally captures a CUDA graph.
    // Built without TensorRT: throws BackendUnavailable.
    explicit TrtPolicy(TrtPolicyOptions options);
    ~TrtPolicy();
    TrtPolicy(TrtPolicy&&) noexcept;
    TrtPolicy& operator=(TrtPolicy&&) noexcept;
    TrtPolicy(const TrtPolicy&) = delete;
    TrtPolicy& operator=(const TrtPolicy&) = delete;

    // Threads: one control thread calls step(), reset(), predict_chunk() and close(). A second thread
    // entering one of them while another thread is inside one gets ConcurrentUseError at once and
    // nothing is touched (sync and async; the Python Policy's rule).
    //
    // Start a new episode: clears the ensemble / chunk queue. Async: a chunk in flight is discarded
    // when it arrives.
    void reset();
    // One control step from a single observation: writes action_dim floats to `action`, after the
    // manifest's post-steps. Throws ObservationError (nothing staged, ensemble untouched),
    // ActionError (the model gave nan/inf; ensemble / queue untouched, `action` not written) or
    // std::runtime_error (CUDA/TRT). Async: a failure of the worker's inference is thrown by the
    // next step() (same types); ConcurrentUseError if another thread is inside step()/reset().
    void step(const Observation& obs, float* action);
    // The raw chunk(s) for an observation: writes (batch, chunk_size, action_dim) floats to `out`
    // (batch = 1 unless `batched`); returns the batch. Does not touch the ensemble / queue; the
    // post-steps are NOT applied (post_steps().apply(out, batch * chunk_size) does). Throws
    // ActionError (`out` not written) for nan/inf, as step() does. Always synchronous; in async mode
    // it first waits for the worker's inference in flight. Call it from the control thread.
    std::size_t predict_chunk(const Observation& obs, float* out, bool batched = false);
    // Async: stop and join the worker (also done by the destructor); later step() throws
    // std::logic_error. Sync: nothing to do.
    void close();
    // The async stepper (stats: ticks, inferences, starved ticks, chunk ages), or null in sync mode.
    const AsyncStepper* async() const noexcept;

    std::size_t action_dim() const noexcept;
    std::size_t chunk_size() const noexcept;
    std::size_t max_batch() const noexcept;
    const Manifest& manifest() const noexcept;
    // The manifest's runtime.post_steps, as step() applies them.
    const PostSteps& post_steps() const noexcept;
    const ObservationSchema& schema() const noexcept;
    Profiler& profiler() noexcept;
    // "TensorRT 10.3.0 on Orin (sm_87), fp16, CUDA graph"
    std::string describe() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// TensorRT version (major.minor.patch) and GPU of this machine (device index), as the engine key
// writes them. Built without TensorRT: throws BackendUnavailable.
MachineInfo this_machine(int device);

// Whether this build runs TrtPolicy (false: built without TensorRT, TrtPolicy's constructor throws).
bool tensorrt_available() noexcept;

}  // namespace act_edge
