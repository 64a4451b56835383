// Temporal ensemble and chunk queue: the two ways an ACT chunk becomes one action per control step.
//
// Semantics (shared with act_edge/ensemble.py; see shared/spec/act-checkpoint-formats.md):
//   Ensemble: at step t (0-based since reset) the policy predicts a chunk covering steps t..t+C-1.
//   The action for step t is the weighted mean of every live prediction for t (those made at steps
//   max(0, t-C+1)..t), weight w_i = exp(-k*i) with i = 0 the OLDEST live prediction, normalized over
//   the live ones. As in LeRobot's ACTTemporalEnsembler, but live predictions are counted, not
//   detected with `!= 0` (the original ACT loop drops real zero-valued predictions).
//   Chunk queue: when empty, the first n_action_steps actions of a new chunk are queued; each step
//   pops one.
//
// Formulation (one scaled add of the chunk per step, no re-summing of history): for step s the
// prediction made at step t' is the i-th oldest live one with i = t' - max(0, s-C+1), so its weight
// exp(-k*i) = exp(-k*t') * exp(k*max(0, s-C+1)). The second factor is common to every prediction for
// s and cancels in the normalization: each chunk can be added with ONE scalar weight g(t') =
// exp(-k*(t' - B)), into a float ring acc (C slots of A) holding, for each of the next C steps,
// sum g * pred. The normalizer is a geometric sum, computed exactly in double from a table. The base
// B keeps g within exp(+-|k|*C): every C steps B moves to now and the ring is rescaled by exp(k*C)
// (one extra pass every C steps). A slot is consumed (divided, then zeroed) at its step, so no error
// is carried beyond C steps: float32 output matches a float64 reference to a few 1e-7 for O(1) actions.
// The scaled add is a separate function so it can be vectorized (and on x86-64 dispatched to AVX).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace act_edge {

namespace detail {
// dst[i] = acc[i] + g * src[i] for i < n (no overlap); false if any dst[i] is nan or +-inf (then
// dst holds garbage). Defined in src/temporal_ensemble.cpp.
bool scaled_add_to(float* dst, const float* acc, const float* src, float g, std::size_t n) noexcept;
// dst[i] *= g for i < n.
void scale(float* dst, float g, std::size_t n) noexcept;
// True if none of src[0..n) is nan or +-inf (one branch-free pass).
bool all_finite(const float* src, std::size_t n) noexcept;
}  // namespace detail

class TemporalEnsemble {
public:
    // chunk_size >= 1, action_dim >= 1; coeff is k in exp(-k*i) (0.01 in ACT; 0 = plain mean,
    // negative = newer predictions weigh more); |k| * (chunk_size - 1) <= 30 so that every weight
    // fits float32 range (weights further apart than exp(30) are below float precision anyway).
    // All memory is allocated here.
    TemporalEnsemble(std::size_t chunk_size, std::size_t action_dim, double coeff)
        : chunk_(chunk_size), dim_(action_dim), coeff_(coeff) {
        if (chunk_size < 1 || action_dim < 1) {
            throw std::invalid_argument("TemporalEnsemble: chunk_size and action_dim must be >= 1, got " +
                                        std::to_string(chunk_size) + " and " + std::to_string(action_dim));
        }
        if (!std::isfinite(coeff) || std::abs(coeff) * static_cast<double>(chunk_size - 1) > 30.0) {
            throw std::invalid_argument("TemporalEnsemble: coeff must be finite with |coeff| * (chunk_size - 1) <= 30, got coeff " +
                                        std::to_string(coeff) + " for chunk_size " + std::to_string(chunk_size));
        }
        const std::size_t C = chunk_;
        exp_.resize(2 * C - 1);  // exp_[x + C - 1] = exp(-k*x), x in [-(C-1), C-1]
        for (std::size_t i = 0; i < exp_.size(); ++i) {
            exp_[i] = std::exp(-coeff * (static_cast<double>(i) - static_cast<double>(C - 1)));
        }
        geo_.resize(C);  // geo_[m] = sum_{i<=m} exp(-k*i)
        double total = 0.0;
        for (std::size_t m = 0; m < C; ++m) {
            total += exp_[m + C - 1];
            geo_[m] = total;
        }
        rebase_ = static_cast<float>(std::exp(coeff * static_cast<double>(C)));
        acc_.assign(C * dim_, 0.0f);
        spare_.assign(C * dim_, 0.0f);
    }

    // Forget every prediction; the next update() is step 0 again.
    void reset() noexcept {
        std::fill(acc_.begin(), acc_.end(), 0.0f);
        head_ = 0;
        t_ = 0;
        since_base_ = 0;
    }

    // Add the chunk predicted at this step (chunk_size x action_dim, row-major float32) and write the
    // ensembled action for this step (action_dim floats) to `action`. No allocation, no throw.
    // Returns false if the chunk holds nan or +-inf (or values so large that a weighted sum
    // overflows float32): it is refused, as the Python Policy refuses such a chunk (ActionError):
    // the ensemble is unchanged (the step is not counted) and `action` is not written.
    // find_non_finite(chunk, {chunk_size, action_dim}, 2) (action_check.hpp) gives Python's message.
    [[nodiscard]] bool update(const float* chunk, float* action) noexcept {
        const std::size_t C = chunk_, A = dim_;
        const std::size_t tb = since_base_;  // t - B, in [0, C-1]
        const float g = static_cast<float>(exp_[tb + C - 1]);
        // Row d goes to ring slot (head + d) mod C: two contiguous runs, written to the spare ring
        // with the finite check fused in; it becomes the ring only if every sum is finite, so a
        // refused chunk leaves no trace (and costs no second pass over the chunk).
        const std::size_t first = (C - head_) * A;
        const bool finite = detail::scaled_add_to(spare_.data() + head_ * A, acc_.data() + head_ * A, chunk, g, first) &
                            detail::scaled_add_to(spare_.data(), acc_.data(), chunk + first, g, C * A - first);
        if (!finite) return false;
        acc_.swap(spare_);  // pointers only
        // Live predictions for this step: t0 = max(0, t-C+1) .. t, n = min(t, C-1) + 1 of them.
        const std::size_t older = t_ < C - 1 ? static_cast<std::size_t>(t_) : C - 1;  // n - 1
        const double wsum = exp_[tb - older + C - 1] * geo_[older];  // sum_{t'=t0..t} exp(-k(t'-B))
        const double inv = 1.0 / wsum;
        float* slot = acc_.data() + head_ * A;
        for (std::size_t a = 0; a < A; ++a) {
            action[a] = static_cast<float>(static_cast<double>(slot[a]) * inv);
            slot[a] = 0.0f;
        }
        head_ = head_ + 1 == C ? 0 : head_ + 1;
        ++t_;
        if (++since_base_ == C) {  // move the base to now: g_new(t') = g_old(t') * exp(k*C)
            detail::scale(acc_.data(), rebase_, C * A);
            since_base_ = 0;
        }
        return true;
    }

    std::size_t chunk_size() const noexcept { return chunk_; }
    std::size_t action_dim() const noexcept { return dim_; }
    double coeff() const noexcept { return coeff_; }
    // Steps taken since construction or the last reset().
    std::uint64_t steps() const noexcept { return t_; }

private:
    std::size_t chunk_, dim_;
    double coeff_;
    std::vector<double> exp_;  // exp(-k*x), x in [-(C-1), C-1]
    std::vector<double> geo_;  // partial geometric sums of exp(-k*i)
    float rebase_ = 1.0f;      // exp(k*C)
    std::vector<float> acc_;   // (C, A) ring: sum g * pred for the next C steps
    std::vector<float> spare_;  // (C, A): the next ring, written by update() before it is accepted
    std::size_t head_ = 0;     // ring slot of the current step
    std::size_t since_base_ = 0;  // t - B
    std::uint64_t t_ = 0;
};

// Without ensembling: query the policy when the queue is empty, then take n_action_steps actions in order.
class ChunkQueue {
public:
    // n_action_steps >= 1 (and <= the chunk size, checked in push); allocates n_action_steps x action_dim.
    ChunkQueue(std::size_t n_action_steps, std::size_t action_dim) : n_(n_action_steps), dim_(action_dim) {
        if (n_action_steps < 1 || action_dim < 1) {
            throw std::invalid_argument("ChunkQueue: n_action_steps and action_dim must be >= 1, got " +
                                        std::to_string(n_action_steps) + " and " + std::to_string(action_dim));
        }
        buf_.assign(n_ * dim_, 0.0f);
    }

    void reset() noexcept { next_ = n_; }
    // True when the next step needs a new chunk from the policy.
    bool empty() const noexcept { return next_ >= n_; }
    std::size_t size() const noexcept { return n_ - next_; }

    // Queue the first n_action_steps rows of a (chunk_rows, action_dim) chunk. Returns false (queue
    // untouched) if chunk_rows < n_action_steps, or if any of the chunk_rows x action_dim values is
    // nan or +-inf (refused whole, as the Python Policy refuses such a chunk).
    [[nodiscard]] bool push(const float* chunk, std::size_t chunk_rows) noexcept {
        if (chunk_rows < n_ || !detail::all_finite(chunk, chunk_rows * dim_)) return false;
        std::copy(chunk, chunk + n_ * dim_, buf_.begin());
        next_ = 0;
        return true;
    }

    // Pop the next action into `action`. Returns false (nothing written) if the queue is empty.
    bool pop(float* action) noexcept {
        if (empty()) return false;
        const float* row = buf_.data() + next_ * dim_;
        std::copy(row, row + dim_, action);
        ++next_;
        return true;
    }

    // One control step: push `chunk` if the queue is empty (chunk may be null otherwise), then pop.
    // False (nothing changed, nothing written) if the queue is empty and `chunk` is null, short or
    // not finite.
    [[nodiscard]] bool update(const float* chunk, std::size_t chunk_rows, float* action) noexcept {
        if (empty() && (chunk == nullptr || !push(chunk, chunk_rows))) return false;
        return pop(action);
    }

    std::size_t n_action_steps() const noexcept { return n_; }
    std::size_t action_dim() const noexcept { return dim_; }

private:
    std::size_t n_, dim_;
    std::vector<float> buf_;
    std::size_t next_ = n_;  // == n_: empty
};

}  // namespace act_edge
