// Async inference: the control loop never waits on the model (docs/async.md; issue 13).
//
//   ChunkModel    what the worker runs: infer() turns the input staged in the model's own slot into
//                 one (chunk_size, action_dim) chunk. Any model: TrtPolicy's engine, a test model.
//   AsyncRunner   ONE worker std::thread and a single-slot hand-off: the control thread stages an
//                 input (only while the worker is idle), submit()s it, and later take()s the chunk
//                 or the worker's exception. Mutex + condition variable, no allocation per request
//                 on the control thread.
//   AsyncStepper  the step() of an async policy over a runner: fold in every chunk that finished,
//                 hand the observation to the worker if it is idle and a chunk is due, return the
//                 action for this tick (temporal ensemble add/pop, or a chunk queue that switches to
//                 row t - t0 of a new chunk). It never waits, except for the first chunk after
//                 reset().
//
// Threads: one control thread calls step(), reset() and close(). A second thread entering one of
// them while another is inside gets ConcurrentUseError at once and nothing is touched. The worker
// only runs ChunkModel::infer() and writes the runner's result buffer.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "act_edge/call_guard.hpp"
#include "act_edge/errors.hpp"
#include "act_edge/temporal_ensemble.hpp"

namespace act_edge {

// The model the worker thread runs. The input is whatever the model reads (its own staging buffers):
// the control thread writes it only while the runner is idle, the worker reads it inside infer().
class ChunkModel {
public:
    virtual ~ChunkModel() = default;
    // Worker thread: predict from the staged input; write chunk_size * action_dim floats to `out`.
    // May throw: the exception is handed to the control thread (AsyncRunner::take rethrows it).
    virtual void infer(float* out) = 0;
};

class AsyncRunner {
public:
    // Allocates the (chunk_size, action_dim) result buffer and starts the worker thread.
    AsyncRunner(ChunkModel& model, std::size_t chunk_size, std::size_t action_dim);
    // close(): no thread outlives the runner.
    ~AsyncRunner();
    AsyncRunner(const AsyncRunner&) = delete;
    AsyncRunner& operator=(const AsyncRunner&) = delete;

    // True if nothing is in flight and no result waits to be taken: the input slot is free.
    bool idle() const noexcept;
    // The input for request `tag` is staged: start inference. Precondition: idle() and not closed.
    void submit(std::uint64_t tag) noexcept;
    // If the in-flight request has finished: true, *chunk = the result (valid until the next
    // submit()), *tag = its tag, and the runner is idle again. A request whose infer() threw, or
    // whose chunk holds nan/inf (ActionError with the Python Policy's message), is rethrown here
    // instead (the runner is idle again). False if nothing finished; never blocks.
    bool take(const float** chunk, std::uint64_t* tag);
    // Block until the in-flight request (if any) has finished; take() then returns it.
    void wait() const noexcept;
    // Stop and join the worker (waits for a running infer() to return; a staged request that has
    // not started is dropped). Idempotent; submit() after close() is a no-op.
    void close() noexcept;
    bool closed() const noexcept { return closed_; }
    // Requests finished (with a chunk or an exception) since construction.
    std::uint64_t completed() const noexcept;

private:
    enum class State { Idle, Requested, Running, Done };
    void work() noexcept;

    ChunkModel& model_;
    std::size_t rows_, cols_;
    std::vector<float> out_;
    mutable std::mutex mu_;
    std::condition_variable request_cv_;
    mutable std::condition_variable done_cv_;
    State state_ = State::Idle;
    bool stop_ = false;
    bool closed_ = false;
    std::uint64_t tag_ = 0;
    std::uint64_t completed_ = 0;
    std::exception_ptr error_;
    std::thread worker_;
};

struct AsyncOptions {
    enum class Mode { Ensemble, ChunkQueue };
    Mode mode = Mode::Ensemble;
    // Temporal ensemble coefficient k (Mode::Ensemble).
    double ensemble_coeff = 0.01;
    // Actions taken per chunk (Mode::ChunkQueue), 1..chunk_size.
    std::size_t n_action_steps = 0;
    // Mode::ChunkQueue: request the next chunk when n_action_steps - (t - t0) <= this margin (t0 the
    // tick of the chunk executing). While the next chunk is late, rows n_action_steps..C-1 of the
    // current one run; after row C-1 the last action repeats (starved ticks).
    // < 0: the measured inference latency in ticks (the last chunk's age on arrival) + 1; 1 until a
    // chunk has arrived without being waited for (the first refill after construction may starve).
    int refill_margin = -1;
    // Ticks whose chunk age is kept for age_percentile() (a ring; older ticks drop out).
    std::size_t age_window = 4096;
};

// Counters since construction (reset() does not clear them).
struct AsyncStats {
    std::uint64_t ticks = 0;        // step() calls that returned an action
    std::uint64_t inferences = 0;   // chunks folded in
    std::uint64_t starved = 0;      // ticks no arrived chunk covered (the last action repeated)
    std::uint64_t discarded = 0;    // chunks of a previous episode dropped after reset()
    std::uint64_t max_age = 0;      // largest chunk age seen, in ticks
};

class AsyncStepper {
public:
    // Allocates everything (ensemble or queue, result buffer, age ring) and starts the worker.
    AsyncStepper(ChunkModel& model, std::size_t chunk_size, std::size_t action_dim, AsyncOptions options);
    ~AsyncStepper() = default;  // the runner joins its worker

    // One tick. `stage()` copies the observation into the model's input slot; it is called only
    // while the worker is idle (so never concurrently with infer()), and only when a chunk is due.
    // Validate the observation BEFORE calling step(): a rejected one must change nothing.
    // Writes action_dim floats to `action`. Rethrows a worker failure (the model's exception, or
    // ActionError for nan/inf) from an earlier request: that step changes nothing else (the tick is
    // not counted, `stage` not called); the next step() goes on. The first step after reset() (or
    // construction) blocks until the chunk for its own observation exists.
    // ConcurrentUseError: another thread is inside step()/reset()/close(). std::logic_error after close().
    template <class Stage>
    void step(Stage&& stage, float* action);

    // New episode: tick 0 again, ensemble / queue cleared. A request in flight is not waited for; its
    // chunk is discarded when it arrives (never enters the new episode). A failure of that request
    // is still raised by a later step().
    void reset();
    // Stop and join the worker; later step() throws std::logic_error. Idempotent.
    void close();

    std::uint64_t tick() const noexcept { return t_; }
    const AsyncStats& stats() const noexcept { return stats_; }
    // Age (ticks) of the newest chunk used, for the last min(ticks, age_window) ticks: the p-th
    // percentile (numpy's linear), p in [0, 100]; 0 if no tick yet. Allocates (a sorted copy).
    double age_percentile(double p) const;
    // Ticks a chunk is requested ahead in Mode::ChunkQueue (the refill margin in use).
    std::size_t refill_margin() const noexcept;
    AsyncRunner& runner() noexcept { return runner_; }

private:
    static constexpr const char* kConcurrentMessage =
        "AsyncStepper used from two threads at once: step(), reset() and close() must be called from one "
        "control thread (nothing was changed)";

    // Take a finished request, if any: fold it in (or drop it if stale). Rethrows a failure.
    void collect();
    bool chunk_due() const noexcept;
    void fold(const float* chunk, std::uint64_t t0);
    void record_age(std::uint64_t age) noexcept;

    std::size_t chunk_, dim_;
    AsyncOptions opt_;
    std::optional<TemporalEnsemble> ensemble_;
    std::optional<ChunkQueue> queue_;
    AsyncRunner runner_;
    std::atomic<bool> busy_{false};
    bool closed_ = false;
    std::uint64_t t_ = 0;            // current tick since reset()
    bool have_chunk_ = false;        // a chunk of this episode has been folded in
    bool stale_ = false;             // the request in flight belongs to a previous episode
    std::uint64_t newest_t0_ = 0;    // t0 of the newest chunk folded in this episode
    std::uint64_t max_latency_ = 0;  // largest age of a chunk on arrival since construction (kept across reset())
    std::vector<std::uint32_t> ages_;  // ring of per-tick chunk ages
    std::size_t age_next_ = 0, age_count_ = 0;
    AsyncStats stats_;
};

template <class Stage>
void AsyncStepper::step(Stage&& stage, float* action) {
    CallGuard guard(busy_, kConcurrentMessage);
    if (closed_) throw std::logic_error("AsyncStepper::step after close()");
    collect();  // every chunk that finished since the last tick (or the failure of one)
    if (!have_chunk_) {
        // First tick of the episode: wait for a stale request to finish, then for our own chunk.
        if (!runner_.idle()) {
            runner_.wait();
            collect();
        }
        stage();
        runner_.submit(t_);
        runner_.wait();
        collect();  // our chunk (age 0), or our request's failure
    } else if (runner_.idle() && chunk_due()) {
        stage();
        runner_.submit(t_);
    }
    std::uint64_t age = t_ - newest_t0_;
    if (ensemble_) {
        // The episode's first step waited for its chunk, so a tick is never empty here.
        if (ensemble_->pop(action) == PopResult::starved) ++stats_.starved;
    } else if (!queue_->pop_or_repeat(action)) {
        ++stats_.starved;
    }
    record_age(age);
    ++t_;
    ++stats_.ticks;
}

}  // namespace act_edge
