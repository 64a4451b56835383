// Temporal ensemble and chunk queue: the two ways an ACT chunk becomes one action per control step.
//
// Semantics (shared with act_edge/ensemble.py and docs/async.md): ticks are counted from reset().
//   Ensemble: a chunk predicted from the observation of tick t0 covers ticks t0..t0+C-1 (row
//   t - t0 for tick t). The action for tick t is sum_i w_i * chunk_i[t - t0_i] / sum_i w_i over every
//   ADDED chunk i with t0_i <= t < t0_i + C, w_i = exp(k * (t - t0_i)) (weight by age). With one chunk
//   per tick and no latency (update() = add(chunk, 0) + pop()) this is ACT's / LeRobot's ensemble:
//   oldest live prediction weighted exp(-k*0) relative to the others, live predictions counted,
//   not detected with `!= 0`. A tick no added chunk covers is starved: pop() repeats the last action.
//   Chunk queue: the first n_action_steps actions of a chunk are queued; each step pops one; a chunk
//   that arrives `age` ticks after its observation starts at row `age` (push(chunk, rows, age)).
//
// Formulation (one scaled add per chunk, no re-summing of history): w_i = exp(k*t) * exp(-k*t0_i);
// the first factor is common to every chunk at tick t and cancels in the normalization, so each chunk
// is added with ONE scalar weight g = exp(-k*(t0 - B)) into a float ring acc (C slots of A: for each
// of the next C ticks, sum g * row) and a double ring wsum (sum g), with a base tick B. Every live
// chunk has |t0 - B| <= C-1, so g stays within exp(+-|k|*(C-1)): every R ticks (R = C; see Limits) B moves to now
// and both rings are rescaled by exp(k*R) (one extra pass every R ticks). A slot is consumed (divided,
// then zeroed) at its tick, so no error is carried beyond C ticks: float32 output matches a float64
// reference to a few 1e-7 for O(1) actions.
// Limits (the Python runtime's, docs/runtime-rules.md): |k| * (C-1) <= 600. Up to 30 the float ring
// holds every weight with headroom; above, the ring is double (weights up to exp(600)) and R is
// at most 600 / |k| so that the rescale factor exp(k*R) stays finite. With C = 1 one chunk covers
// each tick and k plays no part.
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

// What TemporalEnsemble::pop() found for the tick (see there).
enum class PopResult { covered, starved, empty };

// Python's RuntimeError text for PopResult::empty (act_edge/ensemble.py).
inline constexpr const char* kEnsembleEmptyMessage =
    "temporal ensemble: no prediction covers this tick and none came since reset()";

// Largest |k| * (chunk_size - 1) a TemporalEnsemble accepts (weights exp(k * age) within float64).
inline constexpr double kEnsembleMaxSpan = 600.0;
// Above this span the sums are kept in double (the float ring's weights would leave float32).
inline constexpr double kEnsembleFloatSpan = 30.0;

// Why a TemporalEnsemble of `chunk_size` refuses `coeff`, in the Python runtime's ValueError text
// (act_edge/ensemble.py), e.g. "temporal_ensemble_coeff 200.5 with chunk 4: weights span exp(602),
// beyond float64; use |coeff| <= 200"; empty if it is accepted. Defined in src/ensemble_limits.cpp.
std::string ensemble_coeff_error(std::size_t chunk_size, double coeff);

class TemporalEnsemble {
public:
    // chunk_size >= 1, action_dim >= 1; coeff is k in w = exp(k*age) (0.01 in ACT: older
    // predictions weigh more; 0 = plain mean; negative = newer predictions weigh more), finite with
    // |k| * (chunk_size - 1) <= 600 (kEnsembleMaxSpan), else std::invalid_argument with
    // ensemble_coeff_error's text. All memory is allocated here.
    TemporalEnsemble(std::size_t chunk_size, std::size_t action_dim, double coeff)
        : chunk_(chunk_size), dim_(action_dim), coeff_(coeff) {
        if (chunk_size < 1 || action_dim < 1) {
            throw std::invalid_argument("TemporalEnsemble: chunk_size and action_dim must be >= 1, got " +
                                        std::to_string(chunk_size) + " and " + std::to_string(action_dim));
        }
        const std::string refused = ensemble_coeff_error(chunk_size, coeff);
        if (!refused.empty()) throw std::invalid_argument(refused);
        const std::size_t C = chunk_;
        const double k = C == 1 ? 0.0 : coeff;  // one chunk per tick: its weight cancels, whatever k
        wide_ = std::abs(k) * static_cast<double>(C - 1) > kEnsembleFloatSpan;
        every_ = C;
        if (wide_) every_ = std::min(C, std::max<std::size_t>(1, static_cast<std::size_t>(kEnsembleMaxSpan / std::abs(k))));
        exp_.resize(2 * C - 1);  // exp_[x + C - 1] = exp(-k*x), x in [-(C-1), C-1]
        for (std::size_t i = 0; i < exp_.size(); ++i) {
            exp_[i] = std::exp(-k * (static_cast<double>(i) - static_cast<double>(C - 1)));
        }
        rebase_ = std::exp(k * static_cast<double>(every_));
        if (wide_) acc64_.assign(C * dim_, 0.0);
        else {
            acc_.assign(C * dim_, 0.0f);
            spare_.assign(C * dim_, 0.0f);
        }
        wsum_.assign(C, 0.0);
        last_.assign(dim_, 0.0f);
    }

    // Forget every prediction and the last action; the next pop() / update() is tick 0 again.
    void reset() noexcept {
        std::fill(acc_.begin(), acc_.end(), 0.0f);
        std::fill(acc64_.begin(), acc64_.end(), 0.0);
        std::fill(wsum_.begin(), wsum_.end(), 0.0);
        std::fill(last_.begin(), last_.end(), 0.0f);
        has_action_ = false;
        head_ = 0;
        t_ = 0;
        since_base_ = 0;
        starved_ = 0;
    }

    // Fold in a chunk (chunk_size x action_dim, row-major float32) predicted from the observation of
    // `age` ticks before the current tick (t0 = now - age): its rows age..C-1 join the running sums
    // of ticks now..t0+C-1 with weight exp(k*(t - t0)) at tick t; age >= chunk_size adds nothing.
    // No allocation, no throw. Returns false if any value of the chunk (every row, also those whose
    // tick has passed) is nan or +-inf, or if a weighted sum would overflow float32: the chunk is
    // refused and the ensemble is unchanged.
    [[nodiscard]] bool add(const float* chunk, std::size_t age) noexcept {
        const std::size_t C = chunk_, A = dim_;
        if (wide_) return add_wide(chunk, age);
        if (age >= C) return detail::all_finite(chunk, C * A);
        if (age > 0 && !detail::all_finite(chunk, age * A)) return false;
        // Weight relative to the base B: exp(-k*(t0 - B)), t0 - B = (t - B) - age in [-(C-1), C-1].
        const std::size_t x = since_base_ + C - 1 - age;  // index into exp_
        const float g = static_cast<float>(exp_[x]);
        // Row age + d goes to ring slot (head + d) mod C for d < C - age: written to the spare ring
        // with the finite check fused in, the slots the chunk does not reach copied; the spare
        // becomes the ring only if every sum is finite, so a refused chunk leaves no trace.
        const std::size_t rows = C - age;
        const float* src = chunk + age * A;
        const std::size_t run1 = std::min(rows, C - head_);  // slots head .. head+run1-1
        const std::size_t run2 = rows - run1;                // slots 0 .. run2-1 (wrapped)
        bool finite = detail::scaled_add_to(spare_.data() + head_ * A, acc_.data() + head_ * A, src, g, run1 * A);
        if (run2) finite &= detail::scaled_add_to(spare_.data(), acc_.data(), src + run1 * A, g, run2 * A);
        if (!finite) return false;
        if (age > 0) {  // the slots of ticks past t0+C-1 keep their sums
            const float* from = acc_.data();
            float* to = spare_.data();
            if (run2) {
                std::copy(from + run2 * A, from + head_ * A, to + run2 * A);  // slots run2 .. head-1
            } else {
                std::copy(from + (head_ + rows) * A, from + C * A, to + (head_ + rows) * A);  // head+rows .. C-1
                std::copy(from, from + head_ * A, to);                                         // 0 .. head-1
            }
        }
        acc_.swap(spare_);  // pointers only
        const double gw = exp_[x];
        double* w = wsum_.data();
        for (std::size_t d = 0; d < run1; ++d) w[head_ + d] += gw;
        for (std::size_t d = 0; d < run2; ++d) w[d] += gw;
        return true;
    }

    // Write the current tick's action (action_dim floats) and move to the next tick.
    //   covered: an added chunk covers this tick (the weighted mean of those chunks' rows);
    //   starved: none does, `action` gets the last action again and starved() counts it;
    //   empty:   none does and no action came since reset(): nothing is written and nothing changes
    //            (a robot must never get an invented action; Python raises RuntimeError with
    //            kEnsembleEmptyMessage). No allocation, no throw.
    [[nodiscard]] PopResult pop(float* action) noexcept {
        const std::size_t C = chunk_, A = dim_;
        const double wsum = wsum_[head_];
        const bool covered = wsum > 0.0;  // every weight is > 0
        if (covered) {
            const double inv = 1.0 / wsum;
            if (wide_) {
                const double* slot = acc64_.data() + head_ * A;
                for (std::size_t a = 0; a < A; ++a) last_[a] = static_cast<float>(slot[a] * inv);
            } else {
                const float* slot = acc_.data() + head_ * A;
                for (std::size_t a = 0; a < A; ++a) last_[a] = static_cast<float>(static_cast<double>(slot[a]) * inv);
            }
            has_action_ = true;
        } else if (!has_action_) {
            return PopResult::empty;
        } else {
            ++starved_;
        }
        std::copy(last_.begin(), last_.end(), action);
        if (wide_) std::fill(acc64_.begin() + head_ * A, acc64_.begin() + (head_ + 1) * A, 0.0);
        else std::fill(acc_.begin() + head_ * A, acc_.begin() + (head_ + 1) * A, 0.0f);
        wsum_[head_] = 0.0;
        head_ = head_ + 1 == C ? 0 : head_ + 1;
        ++t_;
        if (++since_base_ == every_) {  // move the base to now: g_new(t0) = g_old(t0) * exp(k*R)
            double r = rebase_;
            if (wide_) {
                for (double& v : acc64_) v *= r;
            } else {
                const float rf = static_cast<float>(rebase_);
                detail::scale(acc_.data(), rf, C * A);
                r = rf;  // the factor the float ring got, so sums and weights stay paired
            }
            for (double& w : wsum_) w *= r;
            since_base_ = 0;
        }
        return covered ? PopResult::covered : PopResult::starved;
    }

    // One synchronous control step: add(chunk, 0) then pop(action). Returns false (nothing changed,
    // the tick not counted, `action` not written) if add() refuses the chunk.
    // find_non_finite(chunk, {chunk_size, action_dim}, 2) (action_check.hpp) gives Python's message.
    [[nodiscard]] bool update(const float* chunk, float* action) noexcept {
        if (!add(chunk, 0)) return false;
        (void)pop(action);  // covered: the chunk just added covers this tick
        return true;
    }

    std::size_t chunk_size() const noexcept { return chunk_; }
    std::size_t action_dim() const noexcept { return dim_; }
    double coeff() const noexcept { return coeff_; }
    // Ticks popped since construction or the last reset().
    std::uint64_t steps() const noexcept { return t_; }
    // Starved ticks (pop() found no chunk covering the tick) since construction or the last reset().
    std::uint64_t starved() const noexcept { return starved_; }

private:
    // add() for |k| (C-1) > 30: double sums. Every value of a finite float chunk times a weight up to
    // exp(600) stays far inside double, so the chunk is checked once, before it changes anything.
    [[nodiscard]] bool add_wide(const float* chunk, std::size_t age) noexcept {
        const std::size_t C = chunk_, A = dim_;
        if (!detail::all_finite(chunk, C * A)) return false;
        if (age >= C) return true;
        const std::size_t x = since_base_ + C - 1 - age;
        const double g = exp_[x];
        const std::size_t rows = C - age;
        const float* src = chunk + age * A;
        for (std::size_t d = 0; d < rows; ++d) {
            const std::size_t slot = head_ + d < C ? head_ + d : head_ + d - C;
            double* dst = acc64_.data() + slot * A;
            const float* row = src + d * A;
            for (std::size_t a = 0; a < A; ++a) dst[a] += g * static_cast<double>(row[a]);
            wsum_[slot] += g;
        }
        return true;
    }

    std::size_t chunk_, dim_;
    double coeff_;
    bool wide_ = false;        // |k| (C-1) > kEnsembleFloatSpan: acc64_ instead of acc_ / spare_
    std::size_t every_ = 1;    // R: the base moves every R ticks
    std::vector<double> exp_;  // exp(-k*x), x in [-(C-1), C-1]
    double rebase_ = 1.0;      // exp(k*R)
    std::vector<float> acc_;   // (C, A) ring: sum g * row for the next C ticks
    std::vector<double> acc64_;  // the same ring in double (wide_)
    std::vector<float> spare_;  // (C, A): the next ring, written by add() before it is accepted
    std::vector<double> wsum_;  // (C,) ring: sum g for the next C ticks (0: no chunk covers the tick)
    std::vector<float> last_;   // (A,) the last action pop() wrote
    bool has_action_ = false;   // pop() wrote an action since construction or reset()
    std::size_t head_ = 0;     // ring slot of the current tick
    std::size_t since_base_ = 0;  // t - B
    std::uint64_t t_ = 0;
    std::uint64_t starved_ = 0;
};

// Without ensembling: query the policy when the queue is empty (sync) or when remaining() drops to a
// refill margin (async), then take n_action_steps actions in order.
class ChunkQueue {
public:
    // n_action_steps >= 1 (and <= the chunk size, checked in push); allocates n_action_steps x action_dim.
    ChunkQueue(std::size_t n_action_steps, std::size_t action_dim) : n_(n_action_steps), dim_(action_dim) {
        if (n_action_steps < 1 || action_dim < 1) {
            throw std::invalid_argument("ChunkQueue: n_action_steps and action_dim must be >= 1, got " +
                                        std::to_string(n_action_steps) + " and " + std::to_string(action_dim));
        }
        buf_.assign(n_ * dim_, 0.0f);
        last_.assign(dim_, 0.0f);
    }

    void reset() noexcept {
        next_ = n_;
        starved_ = 0;
        std::fill(last_.begin(), last_.end(), 0.0f);
    }
    // True when the next step needs a new chunk from the policy.
    bool empty() const noexcept { return next_ >= n_; }
    std::size_t size() const noexcept { return n_ - next_; }

    // Queue the first n_action_steps rows of a (chunk_rows, action_dim) chunk, execution starting at
    // row `age` (async: the chunk was predicted `age` ticks ago, the rows of passed ticks are skipped;
    // age >= n_action_steps leaves the queue empty). It replaces what was queued. Returns false
    // (queue untouched) if chunk_rows < n_action_steps, or if any of the chunk_rows x action_dim values
    // is nan or +-inf (refused whole, as the Python Policy refuses such a chunk).
    [[nodiscard]] bool push(const float* chunk, std::size_t chunk_rows, std::size_t age = 0) noexcept {
        if (chunk_rows < n_ || !detail::all_finite(chunk, chunk_rows * dim_)) return false;
        std::copy(chunk, chunk + n_ * dim_, buf_.begin());
        next_ = std::min(age, n_);
        return true;
    }

    // Pop the next action into `action`. Returns false (nothing written) if the queue is empty.
    bool pop(float* action) noexcept {
        if (empty()) return false;
        const float* row = buf_.data() + next_ * dim_;
        std::copy(row, row + dim_, action);
        std::copy(row, row + dim_, last_.begin());
        ++next_;
        return true;
    }

    // Async: pop the next action, or, if the queue is empty (starved tick), write the last action
    // popped again (zeros if none since reset()) and count it in starved(). True if not starved.
    bool pop_or_repeat(float* action) noexcept {
        if (pop(action)) return true;
        std::copy(last_.begin(), last_.end(), action);
        ++starved_;
        return false;
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
    // Starved ticks (pop_or_repeat() on an empty queue) since construction or the last reset().
    std::uint64_t starved() const noexcept { return starved_; }

private:
    std::size_t n_, dim_;
    std::vector<float> buf_;
    std::vector<float> last_;
    std::size_t next_ = n_;  // == n_: empty
    std::uint64_t starved_ = 0;
};

}  // namespace act_edge
