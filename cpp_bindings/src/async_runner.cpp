// AsyncRunner's worker thread and AsyncStepper's non-template parts (async_runner.hpp).
#include "act_edge/async_runner.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "act_edge/action_check.hpp"

namespace act_edge {

AsyncRunner::AsyncRunner(ChunkModel& model, std::size_t chunk_size, std::size_t action_dim)
    : model_(model), rows_(chunk_size), cols_(action_dim), out_(chunk_size * action_dim, 0.0f) {
    worker_ = std::thread([this] { work(); });  // last: every member exists before the worker reads it
}

AsyncRunner::~AsyncRunner() { close(); }

void AsyncRunner::work() noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        request_cv_.wait(lock, [this] { return stop_ || state_ == State::Requested; });
        if (stop_) return;
        state_ = State::Running;
        lock.unlock();
        std::exception_ptr error;
        try {
            model_.infer(out_.data());
            if (!detail::all_finite(out_.data(), out_.size())) {
                throw ActionError(refused_chunk_message(out_.data(), rows_, cols_));
            }
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        error_ = std::move(error);
        state_ = State::Done;
        ++completed_;
        done_cv_.notify_all();
    }
}

bool AsyncRunner::idle() const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    return state_ == State::Idle;
}

void AsyncRunner::submit(std::uint64_t tag) noexcept {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_ || state_ != State::Idle) return;
        tag_ = tag;
        state_ = State::Requested;
    }
    request_cv_.notify_one();
}

bool AsyncRunner::take(const float** chunk, std::uint64_t* tag) {
    std::exception_ptr error;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ != State::Done) return false;
        state_ = State::Idle;
        *tag = tag_;
        error = std::move(error_);
        error_ = nullptr;
    }
    if (error) std::rethrow_exception(error);
    *chunk = out_.data();
    return true;
}

void AsyncRunner::wait() const noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return stop_ || state_ == State::Idle || state_ == State::Done; });
}

void AsyncRunner::close() noexcept {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return;
        closed_ = true;
        stop_ = true;
        if (state_ == State::Requested) state_ = State::Idle;  // never started: dropped
    }
    request_cv_.notify_all();
    done_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

std::uint64_t AsyncRunner::completed() const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_;
}

// --- AsyncStepper ----------------------------------------------------------------------------------

AsyncStepper::AsyncStepper(ChunkModel& model, std::size_t chunk_size, std::size_t action_dim, AsyncOptions options)
    : chunk_(chunk_size), dim_(action_dim), opt_(options), runner_(model, chunk_size, action_dim) {
    if (opt_.mode == AsyncOptions::Mode::Ensemble) {
        ensemble_.emplace(chunk_size, action_dim, opt_.ensemble_coeff);
    } else {
        if (opt_.n_action_steps < 1 || opt_.n_action_steps > chunk_size) {
            throw std::invalid_argument("AsyncOptions.n_action_steps must be in 1.." + std::to_string(chunk_size) +
                                        ", got " + std::to_string(opt_.n_action_steps));
        }
        // The whole chunk is kept: while the next chunk is late, rows n_action_steps..C-1 (the model's
        // predictions for those ticks) are executed before a tick starves, as in the Python Policy.
        queue_.emplace(chunk_size, action_dim);
    }
    ages_.assign(std::max<std::size_t>(opt_.age_window, 1), 0);
}

void AsyncStepper::collect() {
    const float* chunk = nullptr;
    std::uint64_t tag = 0;
    bool got = false;
    try {
        got = runner_.take(&chunk, &tag);
    } catch (...) {
        stale_ = false;  // that request is over
        throw;
    }
    if (!got) return;
    if (stale_) {  // requested before reset(): never enters this episode
        stale_ = false;
        ++stats_.discarded;
        return;
    }
    fold(chunk, tag);
}

void AsyncStepper::fold(const float* chunk, std::uint64_t t0) {
    const std::uint64_t age = t_ - t0;
    if (queue_ && age >= chunk_) {  // covers no tick from now on: the chunk executing stays
        max_latency_ = std::max(max_latency_, age);
        ++stats_.inferences;
        return;
    }
    if (ensemble_) {
        if (!ensemble_->add(chunk, static_cast<std::size_t>(std::min<std::uint64_t>(age, chunk_)))) {
            throw ActionError(refused_chunk_message(chunk, chunk_, dim_));  // finite, but its sums overflow float32
        }
    } else if (!queue_->push(chunk, chunk_, static_cast<std::size_t>(std::min<std::uint64_t>(age, chunk_)))) {
        throw ActionError(refused_chunk_message(chunk, chunk_, dim_));
    }
    if (!have_chunk_ || t0 >= newest_t0_) newest_t0_ = t0;
    max_latency_ = std::max(max_latency_, age);  // as the Python Policy: the largest delay seen since construction
    have_chunk_ = true;
    ++stats_.inferences;
}

bool AsyncStepper::chunk_due() const noexcept {
    if (ensemble_) return true;  // ACT's ensemble: a new prediction whenever the worker can take one
    // n_action_steps - (t - t0) <= margin, t0 the tick of the chunk executing (negative once past row n).
    const auto left = static_cast<std::int64_t>(opt_.n_action_steps) - static_cast<std::int64_t>(t_ - newest_t0_);
    return left <= static_cast<std::int64_t>(refill_margin());
}

std::size_t AsyncStepper::refill_margin() const noexcept {
    if (opt_.refill_margin >= 0) return static_cast<std::size_t>(opt_.refill_margin);
    return static_cast<std::size_t>(max_latency_) + 1;
}

void AsyncStepper::record_age(std::uint64_t age) noexcept {
    ages_[age_next_] = static_cast<std::uint32_t>(std::min<std::uint64_t>(age, UINT32_MAX));
    age_next_ = age_next_ + 1 == ages_.size() ? 0 : age_next_ + 1;
    if (age_count_ < ages_.size()) ++age_count_;
    stats_.max_age = std::max(stats_.max_age, age);
}

double AsyncStepper::age_percentile(double p) const {
    if (age_count_ == 0) return 0.0;
    std::vector<std::uint32_t> v(ages_.begin(), ages_.begin() + static_cast<std::ptrdiff_t>(age_count_));
    std::sort(v.begin(), v.end());
    const double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (static_cast<double>(v[hi]) - v[lo]);
}

void AsyncStepper::reset() {
    CallGuard guard(busy_, kConcurrentMessage);
    if (ensemble_) ensemble_->reset();
    if (queue_) queue_->reset();
    t_ = 0;
    have_chunk_ = false;
    newest_t0_ = 0;  // max_latency_ is the model's: kept
    stale_ = !runner_.idle();  // in flight or finished but not taken: dropped when it is taken
}

void AsyncStepper::close() {
    CallGuard guard(busy_, kConcurrentMessage);
    closed_ = true;
    runner_.close();
}

}  // namespace act_edge
