#include "catch_compat.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "act_edge/action_check.hpp"
#include "act_edge/temporal_ensemble.hpp"

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
    CHECK_THROWS_AS(TemporalEnsemble(100, 14, 1.0), std::invalid_argument);  // |k|*(C-1) > 30
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
