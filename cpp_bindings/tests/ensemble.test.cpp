#include "catch_compat.hpp"

#include <cmath>
#include <cstdint>
#include <utility>
#include <limits>
#include <random>
#include <vector>

#include "act_edge/action_check.hpp"
#include "act_edge/temporal_ensemble.hpp"

using act_edge::PopResult;
using act_edge::ChunkQueue;
using act_edge::TemporalEnsemble;

namespace {

// Float64 reference straight from the definition: weighted mean over live predictions,
// w_i = exp(-k*i), i = 0 the oldest.
struct Reference {
    std::size_t C, A;
    double k;
    std::vector<std::vector<float>> chunks;  // every chunk since reset
    std::vector<double> step(const std::vector<float>& chunk) {
        chunks.push_back(chunk);
        const std::size_t t = chunks.size() - 1;
        const std::size_t t0 = t + 1 > C ? t + 1 - C : 0;
        std::vector<double> num(A, 0.0);
        double den = 0;
        for (std::size_t tp = t0; tp <= t; ++tp) {
            const double w = std::exp(-k * static_cast<double>(tp - t0));
            den += w;
            for (std::size_t a = 0; a < A; ++a) num[a] += w * chunks[tp][(t - tp) * A + a];
        }
        for (auto& x : num) x /= den;
        return num;
    }
};

double run_episode(std::size_t C, std::size_t A, double k, int steps, unsigned seed, int reset_at = -1) {
    TemporalEnsemble ens(C, A, k);
    Reference ref{C, A, k, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> chunk(C * A), out(A);
    double worst = 0;
    for (int s = 0; s < steps; ++s) {
        if (s == reset_at) {
            ens.reset();
            ref.chunks.clear();
        }
        for (auto& x : chunk) x = nd(rng);
        REQUIRE(ens.update(chunk.data(), out.data()));
        auto want = ref.step(chunk);
        for (std::size_t a = 0; a < A; ++a) worst = std::max(worst, std::abs(out[a] - want[a]));
    }
    return worst;
}

}  // namespace

TEST_CASE("ensemble matches a float64 reference over 1000 steps", "[ensemble]") {
    for (double k : {0.01, 0.0, -0.01, 0.1}) {
        CAPTURE(k);
        CHECK(run_episode(100, 14, k, 1000, 1) < 1e-6);
        CHECK(run_episode(7, 3, k, 1000, 2) < 1e-6);
        CHECK(run_episode(1, 5, k, 50, 3) < 1e-6);
    }
}

TEST_CASE("ensemble reset mid-episode starts again at t = 0", "[ensemble]") {
    CHECK(run_episode(100, 14, 0.01, 600, 4, 257) < 1e-6);
    CHECK(run_episode(5, 2, -0.01, 100, 5, 3) < 1e-6);
}

TEST_CASE("ensemble warm-up: first step returns the first row, second averages two", "[ensemble]") {
    const std::size_t C = 4, A = 2;
    const double k = 0.5;
    TemporalEnsemble e(C, A, k);
    std::vector<float> c0 = {1, 2, 3, 4, 5, 6, 7, 8}, c1 = {10, 20, 30, 40, 50, 60, 70, 80}, out(A);
    REQUIRE(e.update(c0.data(), out.data()));
    CHECK(out[0] == Approx(1.0f));
    CHECK(out[1] == Approx(2.0f));
    REQUIRE(e.update(c1.data(), out.data()));
    // step 1: c0 row 1 (oldest, weight 1) and c1 row 0 (weight exp(-k))
    const double w1 = std::exp(-k);
    CHECK(out[0] == Approx((3 + w1 * 10) / (1 + w1)));
    CHECK(out[1] == Approx((4 + w1 * 20) / (1 + w1)));
    CHECK(e.steps() == 2);
    e.reset();
    CHECK(e.steps() == 0);
    REQUIRE(e.update(c1.data(), out.data()));
    CHECK(out[0] == Approx(10.0f));
}

TEST_CASE("ensemble counts live predictions, zeros included", "[ensemble]") {
    // The original ACT loop drops rows with any zero; a real zero prediction must count.
    TemporalEnsemble e(2, 1, 0.0);
    std::vector<float> a = {4, 4}, z = {0, 0};
    float out;
    REQUIRE(e.update(a.data(), &out));
    REQUIRE(e.update(z.data(), &out));
    CHECK(out == Approx(2.0f));
}

TEST_CASE("ensemble rejects bad construction arguments", "[ensemble]") {
    CHECK_THROWS_AS(TemporalEnsemble(0, 14, 0.01), std::invalid_argument);
    CHECK_THROWS_AS(TemporalEnsemble(100, 0, 0.01), std::invalid_argument);
    CHECK_THROWS_AS(TemporalEnsemble(100, 14, NAN), std::invalid_argument);
    CHECK_NOTHROW(TemporalEnsemble(100, 14, 1.0));  // |k|*(C-1) = 99 <= 600: double sums, as Python accepts it
    CHECK_THROWS_AS(TemporalEnsemble(100, 14, 7.0), std::invalid_argument);  // |k|*(C-1) > 600
    CHECK_NOTHROW(TemporalEnsemble(100, 14, -0.3));
}

TEST_CASE("ensemble update is noexcept", "[ensemble]") {
    TemporalEnsemble* e = nullptr;
    STATIC_REQUIRE(noexcept(e->update(nullptr, nullptr)));
    STATIC_REQUIRE(noexcept(e->reset()));
}

TEST_CASE("chunk queue takes n_action_steps actions per chunk", "[queue]") {
    ChunkQueue q(3, 2);
    CHECK(q.empty());
    std::vector<float> c0 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, c1 = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    float out[2];
    std::vector<float> got;
    int queries = 0;
    for (int s = 0; s < 7; ++s) {
        const float* chunk = nullptr;
        if (q.empty()) {
            chunk = (queries++ % 2 == 0) ? c0.data() : c1.data();
        }
        REQUIRE(q.update(chunk, 5, out));
        got.push_back(out[0]);
    }
    CHECK(queries == 3);
    CHECK(got == std::vector<float>{0, 2, 4, 10, 12, 14, 0});
    q.reset();
    CHECK(q.empty());
    CHECK_FALSE(q.pop(out));
    CHECK_FALSE(q.push(c0.data(), 2));  // fewer rows than n_action_steps
    CHECK(q.empty());
    CHECK_THROWS_AS(ChunkQueue(0, 2), std::invalid_argument);
}

// issue 10 defect 3c: a nan/inf chunk fed to the ensemble returned normally and poisoned the next
// chunk-1 actions. Now it is refused (false), nothing changes, and the episode goes on as if the
// bad chunk had never come: bit for bit what a twin fed only the good chunks gives.
TEST_CASE("ensemble refuses a non-finite chunk and stays unchanged", "[ensemble]") {
    const float bad_values[] = {std::nanf(""), -std::nanf(""), INFINITY, -INFINITY};
    for (const auto& [C, A] : {std::pair<std::size_t, std::size_t>{100, 14}, {7, 3}, {1, 2}}) {
        TemporalEnsemble e(C, A, 0.01), twin(C, A, 0.01);
        std::mt19937 rng(static_cast<unsigned>(C * 31 + A));
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::uniform_int_distribution<std::size_t> pos(0, C * A - 1);
        std::vector<float> chunk(C * A), out(A), want(A);
        int refused = 0;
        for (int s = 0; s < 300; ++s) {
            for (auto& x : chunk) x = nd(rng);
            if (s % 7 == 3) {  // a bad chunk: one or two bad values anywhere, last element included
                std::vector<float> bad = chunk;
                bad[pos(rng)] = bad_values[s % 4];
                if (s % 2) bad[C * A - 1] = bad_values[(s + 1) % 4];
                std::fill(out.begin(), out.end(), 123.0f);
                const auto steps = e.steps();
                CHECK_FALSE(e.update(bad.data(), out.data()));
                CHECK(e.steps() == steps);
                CHECK(out == std::vector<float>(A, 123.0f));  // not written
                ++refused;
            }
            REQUIRE(e.update(chunk.data(), out.data()));
            REQUIRE(twin.update(chunk.data(), want.data()));
            REQUIRE(out == want);
            for (float x : out) REQUIRE(std::isfinite(x));
        }
        CHECK(refused > 40);
        CHECK(e.steps() == twin.steps());
    }
}

TEST_CASE("ensemble refuses finite chunks whose weighted sums overflow float32", "[ensemble]") {
    // Never lets an inf action out: the second FLT_MAX-sized prediction for a step overflows the sum.
    TemporalEnsemble e(4, 2, 0.01);
    const float big = std::numeric_limits<float>::max();
    std::vector<float> huge = {big, 1.5f, big, -2.5f, 0.5f, big, 3.0f, 4.0f}, out = {0.0f, 0.0f};
    REQUIRE(e.update(huge.data(), out.data()));
    CHECK(out[0] == big);
    CHECK_FALSE(e.update(huge.data(), out.data()));  // row 0 of this + row 1 of the last: 2 * FLT_MAX
    CHECK(e.steps() == 1);
    CHECK(act_edge::refused_chunk_message(huge.data(), 4, 2) ==
          "model output: chunk refused: the ensemble's weighted sums overflow float32 (the ensemble/queue was not "
          "updated); check the observation's scale and the bundle");
    std::vector<float> small = {0.25f, -0.5f, 0.75f, 1.0f, -1.25f, 1.5f, 1.75f, -2.0f};
    REQUIRE(e.update(small.data(), out.data()));  // the refused chunk left no trace
    const double w = std::exp(-0.01);
    CHECK(out[0] == Approx((big + w * 0.25) / (1 + w)));
    CHECK(out[1] == Approx((-2.5 + w * -0.5) / (1 + w)));
}

TEST_CASE("chunk queue refuses a non-finite chunk whole and stays empty", "[queue]") {
    ChunkQueue q(3, 2);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> chunk(10);
    for (auto& x : chunk) x = nd(rng);
    float out[2] = {7.0f, 7.0f};
    for (std::size_t bad_at : {std::size_t{0}, std::size_t{5}, std::size_t{9}}) {  // row 4 (beyond the 3 queued) too
        std::vector<float> bad = chunk;
        bad[bad_at] = bad_at == 5 ? -INFINITY : std::nanf("");
        CHECK_FALSE(q.push(bad.data(), 5));
        CHECK(q.empty());
        CHECK_FALSE(q.update(bad.data(), 5, out));
        CHECK(q.empty());
        CHECK(out[0] == 7.0f);
        CHECK(out[1] == 7.0f);
    }
    REQUIRE(q.update(chunk.data(), 5, out));
    CHECK(out[0] == chunk[0]);
    CHECK(q.size() == 2);
    // While the queue holds actions, no chunk is read: a bad one is not looked at.
    std::vector<float> bad = chunk;
    bad[0] = std::nanf("");
    REQUIRE(q.update(bad.data(), 5, out));
    CHECK(out[0] == chunk[2]);
}

// --- async: add(chunk, age) / pop() against a brute-force reference over random arrival schedules ---
namespace {

// Brute force from the definition (docs/async.md): action(t) = sum_i w_i chunk_i[t - t0_i] / sum_i w_i
// over every arrived chunk with t0_i <= t < t0_i + C, w_i = exp(k (t - t0_i)); a tick no chunk
// covers repeats the last action; with no action since reset there is none to repeat: empty, nothing
// changes (Python raises).
struct ScheduleReference {
    std::size_t C, A;
    double k;
    std::vector<std::pair<std::int64_t, std::vector<float>>> arrived;  // (t0, chunk)
    std::vector<double> last;
    std::int64_t t = 0;
    bool has = false;
    void reset() {
        arrived.clear();
        last.assign(A, 0.0);
        t = 0;
        has = false;
    }
    PopResult pop(std::vector<double>& out) {
        std::vector<double> num(A, 0.0);
        double den = 0.0;
        for (const auto& [t0, chunk] : arrived) {
            if (t0 > t || t >= t0 + static_cast<std::int64_t>(C)) continue;
            const double w = std::exp(k * static_cast<double>(t - t0));
            den += w;
            for (std::size_t a = 0; a < A; ++a) num[a] += w * chunk[static_cast<std::size_t>(t - t0) * A + a];
        }
        if (den == 0.0 && !has) return PopResult::empty;
        ++t;
        if (den == 0.0) {
            out = last;
            return PopResult::starved;
        }
        for (std::size_t a = 0; a < A; ++a) last[a] = num[a] / den;
        out = last;
        has = true;
        return PopResult::covered;
    }
};

// One random schedule: gaps (ticks with no arrival), several arrivals in a tick, late chunks
// (age 1..C-1), chunks arriving at or after their last tick (age >= C), out-of-order ages, resets.
// Returns the largest |C++ - reference| over the schedule; CHECKs starved ticks and pop()'s flag.
double run_schedule(std::mt19937& rng, std::size_t C, std::size_t A, double k) {
    TemporalEnsemble ens(C, A, k);
    ScheduleReference ref{C, A, k, {}, std::vector<double>(A, 0.0), 0, false};
    ref.reset();
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int ticks = 1 + static_cast<int>(rng() % std::min<std::size_t>(2 * C + 12, 150));
    std::vector<float> chunk(C * A), out(A);
    std::vector<double> want;
    double worst = 0.0;
    std::uint64_t starved = 0;
    for (int s = 0; s < ticks; ++s) {
        if (u(rng) < 0.02) {
            ens.reset();
            ref.reset();
            starved = 0;
        }
        const double r = u(rng);
        const int n_arrivals = r < 0.3 ? 0 : r < 0.8 ? 1 : 1 + static_cast<int>(rng() % 3);
        for (int i = 0; i < n_arrivals; ++i) {
            const double q = u(rng);
            std::size_t age = q < 0.3 ? 0 : q < 0.85 ? static_cast<std::size_t>(rng() % C) : C + rng() % 4;
            if (static_cast<std::int64_t>(age) > ref.t) age = static_cast<std::size_t>(ref.t);  // t0 >= 0 (tick of the episode)
            for (auto& x : chunk) x = nd(rng);
            REQUIRE(ens.add(chunk.data(), age));
            ref.arrived.emplace_back(ref.t - static_cast<std::int64_t>(age), chunk);
        }
        const PopResult got = ens.pop(out.data());
        const PopResult want_result = ref.pop(want);
        CHECK(got == want_result);
        if (want_result == PopResult::empty) continue;  // nothing written, the tick not taken
        if (want_result == PopResult::starved) ++starved;
        for (std::size_t a = 0; a < A; ++a) worst = std::max(worst, std::abs(out[a] - want[a]));
    }
    CHECK(ens.starved() == starved);
    CHECK(ens.steps() == static_cast<std::uint64_t>(ref.t));
    return worst;
}

}  // namespace

TEST_CASE("async ensemble: add/pop match a brute-force reference over 1200 random arrival schedules", "[ensemble][async]") {
    std::mt19937 rng(13);
    const std::size_t sizes[] = {1, 2, 3, 5, 8, 17, 40, 100};
    const double coeffs[] = {0.01, 0.0, -0.01, 0.1, -0.05};
    int n = 0;
    for (int i = 0; i < 1200; ++i) {
        const std::size_t C = sizes[rng() % 8];
        const std::size_t A = C == 100 ? 14 : 1 + rng() % 5;
        const double k = coeffs[i % 5];
        CAPTURE(i, C, A, k);
        CHECK(run_schedule(rng, C, A, k) < 1e-6);
        ++n;
    }
    CHECK(n >= 1000);
}

TEST_CASE("async ensemble: one chunk per tick at age 0 is the synchronous ensemble", "[ensemble][async]") {
    // Zero latency: add(chunk, 0) + pop() per tick == update() == the exp(-k*i) reference (oldest i = 0).
    for (double k : {0.01, 0.0, -0.01}) {
        TemporalEnsemble a(20, 3, k), b(20, 3, k);
        Reference ref{20, 3, k, {}};
        std::mt19937 rng(7);
        std::normal_distribution<float> nd;
        std::vector<float> chunk(60), out_a(3), out_b(3);
        for (int s = 0; s < 300; ++s) {
            for (auto& x : chunk) x = nd(rng);
            REQUIRE(a.add(chunk.data(), 0));
            CHECK(a.pop(out_a.data()) == PopResult::covered);
            REQUIRE(b.update(chunk.data(), out_b.data()));
            const auto want = ref.step(chunk);
            for (std::size_t j = 0; j < 3; ++j) {
                CHECK(out_a[j] == out_b[j]);
                CHECK(std::abs(out_a[j] - want[j]) < 1e-6);
            }
        }
        CHECK(a.starved() == 0);
    }
}

TEST_CASE("async ensemble: a starved tick repeats the last action; age >= C adds nothing", "[ensemble][async]") {
    TemporalEnsemble e(3, 2, 0.01);
    std::vector<float> c = {1, 2, 3, 4, 5, 6}, out(2, -1.0f);
    CHECK(e.pop(out.data()) == PopResult::empty);  // nothing yet: no action is invented
    CHECK(out == std::vector<float>{-1, -1});          // nothing written
    CHECK(e.steps() == 0);
    REQUIRE(e.add(c.data(), 0));
    CHECK(e.pop(out.data()) == PopResult::covered);
    CHECK(out == std::vector<float>{1, 2});
    REQUIRE(e.add(c.data(), 3));  // predicted 3 ticks ago, chunk 3: every row has passed
    CHECK(e.pop(out.data()) == PopResult::covered);  // tick 1: the first chunk's row 1
    CHECK(e.pop(out.data()) == PopResult::covered);  // tick 2: its row 2
    CHECK(e.pop(out.data()) == PopResult::starved);  // tick 3: past every chunk: the last action again
    CHECK(out[0] == Approx(5.0f).epsilon(1e-6));
    CHECK(e.starved() == 1);
    REQUIRE(e.add(c.data(), 1));  // rows 1, 2 for this tick and the next
    CHECK(e.pop(out.data()) == PopResult::covered);
    CHECK(out[0] == Approx(3.0f).epsilon(1e-6));
    CHECK(out[1] == Approx(4.0f).epsilon(1e-6));
    CHECK(e.pop(out.data()) == PopResult::covered);
    CHECK(out[0] == Approx(5.0f).epsilon(1e-6));
    CHECK(out[1] == Approx(6.0f).epsilon(1e-6));
    const std::vector<float> last = out;
    CHECK(e.pop(out.data()) == PopResult::starved);  // past the chunk: the last action again, exactly
    CHECK(out == last);
    CHECK(e.starved() == 2);
}

TEST_CASE("async ensemble: add refuses nan/inf in any row, also rows already passed, and changes nothing", "[ensemble][async]") {
    TemporalEnsemble e(4, 2, 0.01), twin(4, 2, 0.01);
    std::vector<float> good = {1, 2, 3, 4, 5, 6, 7, 8}, out(2), out_twin(2);
    REQUIRE(e.add(good.data(), 0));
    REQUIRE(twin.add(good.data(), 0));
    for (std::size_t age : {0u, 1u, 2u, 5u}) {
        for (std::size_t bad_row : {0u, 3u}) {
            auto bad = good;
            bad[bad_row * 2 + 1] = std::numeric_limits<float>::quiet_NaN();
            CHECK_FALSE(e.add(bad.data(), age));
        }
    }
    for (int s = 0; s < 4; ++s) {
        CHECK(e.pop(out.data()) == twin.pop(out_twin.data()));
        CHECK(out == out_twin);
    }
}
