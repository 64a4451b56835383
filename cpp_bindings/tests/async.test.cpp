// AsyncRunner / AsyncStepper scheduling, driven by a test model whose completion the test controls
// (GateModel: infer() waits for a permit). A scheduling fixture, never a real engine.
#include "catch_compat.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <dirent.h>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "act_edge/async_runner.hpp"

using act_edge::AsyncOptions;
using act_edge::AsyncStepper;

namespace {

// Deterministic chunk for the observation of tick t0 of episode `ep` (random values, never zeros).
void chunk_for(std::uint64_t ep, std::uint64_t t0, std::size_t C, std::size_t A, float* out) {
    std::mt19937 rng(static_cast<unsigned>(ep * 100003u + t0 * 7919u + 1u));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (std::size_t i = 0; i < C * A; ++i) out[i] = nd(rng);
}

// infer() reads the staged (episode, tick) and returns its chunk only once the test has granted a permit.
class GateModel : public act_edge::ChunkModel {
public:
    GateModel(std::size_t C, std::size_t A) : C_(C), A_(A) {}
    // Control thread (via AsyncStepper's stage callback): the observation is its tick.
    std::uint64_t staged_ep = 0, staged_t = 0;
    std::optional<std::uint64_t> throw_at;  // staged tick whose inference throws
    std::optional<std::uint64_t> nan_at;    // staged tick whose chunk holds a nan

    void permit(int n = 1) {
        std::lock_guard<std::mutex> lock(mu_);
        permits_ += n;
        cv_.notify_all();
    }
    // Block until infer() has been entered `n` times in total.
    void wait_started(int n) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return started_ >= n; });
    }
    int started() {
        std::lock_guard<std::mutex> lock(mu_);
        return started_;
    }
    void infer(float* out) override {
        std::uint64_t ep, t;
        {
            std::unique_lock<std::mutex> lock(mu_);
            ep = staged_ep;  // the input is read when inference starts
            t = staged_t;
            ++started_;
            cv_.notify_all();
            cv_.wait(lock, [&] { return permits_ > 0; });
            --permits_;
        }
        if (throw_at && *throw_at == t) throw std::runtime_error("backend exploded at tick " + std::to_string(t));
        chunk_for(ep, t, C_, A_, out);
        if (nan_at && *nan_at == t) out[3 * A_ + 1] = std::numeric_limits<float>::quiet_NaN();
    }

private:
    std::size_t C_, A_;
    std::mutex mu_;
    std::condition_variable cv_;
    int permits_ = 0, started_ = 0;
};

// Same brute force as ensemble.test.cpp, over (t0, chunk) arrivals.
struct Ref {
    std::size_t C, A;
    double k;
    std::vector<std::pair<std::int64_t, std::vector<float>>> arrived;
    std::vector<double> last;
    std::vector<double> pop(std::int64_t t) {
        std::vector<double> num(A, 0.0);
        double den = 0.0;
        for (const auto& [t0, c] : arrived) {
            if (t0 > t || t >= t0 + static_cast<std::int64_t>(C)) continue;
            const double w = std::exp(k * static_cast<double>(t - t0));
            den += w;
            for (std::size_t a = 0; a < A; ++a) num[a] += w * c[static_cast<std::size_t>(t - t0) * A + a];
        }
        if (den > 0.0)
            for (std::size_t a = 0; a < A; ++a) last[a] = num[a] / den;
        return last;
    }
};

int thread_count_now() {  // threads of this process (Linux)
    int n = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') ++n;
        closedir(d);
    }
    return n;
}

// A joined thread can stay listed in /proc/self/task for a moment after pthread_join returns (the
// kernel clears its tid before the task is reaped): the count once it has settled on `want` (2 s at most).
int thread_count(int want) {
    int n = thread_count_now();
    for (int i = 0; i < 200 && n != want; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        n = thread_count_now();
    }
    return n;
}

}  // namespace

TEST_CASE("async stepper: ensemble actions match the brute-force reference for random latencies", "[async]") {
    // Each request takes a random latency L in ticks (1..C+2: late chunks and chunks whose ticks have
    // all passed); the test completes it exactly L ticks later; resets with a request in flight.
    for (double k : {0.01, 0.0, -0.02}) {
        const std::size_t C = 12, A = 3;
        GateModel model(C, A);
        AsyncOptions opt;
        opt.ensemble_coeff = k;
        AsyncStepper stepper(model, C, A, opt);
        Ref ref{C, A, k, {}, std::vector<double>(A, 0.0)};
        std::mt19937 rng(static_cast<unsigned>(k * 1000 + 5));
        std::uint64_t ep = 0, discarded = 0;
        std::optional<std::pair<std::uint64_t, std::uint64_t>> inflight;  // (t0, due tick)
        bool stale = false, first = true;
        std::vector<float> action(A), c(C * A);
        std::int64_t t = 0;
        double worst = 0.0;
        for (int s = 0; s < 400; ++s) {
            if (s > 0 && rng() % 40 == 0) {  // reset, maybe with a request in flight
                stepper.reset();
                ++ep;
                ref.arrived.clear();
                ref.last.assign(A, 0.0);
                t = 0;
                first = true;
                if (inflight) stale = true, ++discarded;
                inflight.reset();
            }
            if (first) {
                if (stale) model.permit();  // the stepper waits for the stale request, then drops it
                model.permit();             // and then for the chunk of its own first observation
                chunk_for(ep, 0, C, A, c.data());
                ref.arrived.emplace_back(0, c);
                stale = false;
            } else if (inflight && static_cast<std::uint64_t>(t) >= inflight->second) {
                model.permit();
                stepper.runner().wait();  // finished before this tick: folded in by this step
                chunk_for(ep, inflight->first, C, A, c.data());
                ref.arrived.emplace_back(static_cast<std::int64_t>(inflight->first), c);
                inflight.reset();
            }
            bool staged = false;
            stepper.step([&] { model.staged_ep = ep; model.staged_t = static_cast<std::uint64_t>(t); staged = true; },
                         action.data());
            if (staged && !first) {
                CHECK_FALSE(inflight.has_value());  // one request at a time
                inflight.emplace(static_cast<std::uint64_t>(t), static_cast<std::uint64_t>(t) + 1 + rng() % (C + 2));
            }
            CHECK(staged == (first || !inflight.has_value() || inflight->first == static_cast<std::uint64_t>(t)));
            first = false;
            const auto want = ref.pop(t);
            for (std::size_t a = 0; a < A; ++a) worst = std::max(worst, std::abs(action[a] - want[a]));
            ++t;
        }
        CHECK(worst < 1e-6);
        CHECK(stepper.stats().discarded == discarded);
        CHECK(stepper.stats().ticks == 400);
        model.permit(2);  // let a request still in flight finish: the destructor joins the worker
    }
}

TEST_CASE("async stepper: reset with a chunk in flight, the stale chunk never enters", "[async]") {
    const std::size_t C = 6, A = 2;
    GateModel model(C, A);
    AsyncOptions opt;
    opt.ensemble_coeff = 0.0;
    AsyncStepper stepper(model, C, A, opt);
    std::vector<float> action(A), c(C * A);
    auto stage = [&] { model.staged_t = stepper.tick(); };
    model.staged_ep = 0;
    model.permit();
    stepper.step(stage, action.data());  // tick 0: waits for its chunk
    stepper.step(stage, action.data());  // tick 1: request for t0 = 1 in flight
    model.wait_started(2);
    stepper.reset();                     // ... now stale
    model.staged_ep = 1;
    model.permit(2);                     // the stale one finishes, then the new episode's first chunk
    stepper.step(stage, action.data());
    chunk_for(1, 0, C, A, c.data());     // only the new chunk: row 0 of episode 1's tick-0 chunk
    CHECK(action[0] == c[0]);
    CHECK(action[1] == c[1]);
    CHECK(stepper.stats().discarded == 1);
    // The stale chunk (episode 0, tick 1) is not in the ensemble: the next tick uses the new chunk only.
    stepper.step(stage, action.data());  // request for tick 1 of episode 1 in flight, not finished
    CHECK(action[0] == c[1 * A + 0]);
    CHECK(action[1] == c[1 * A + 1]);
    model.permit();
}

TEST_CASE("async stepper: a worker failure is raised by the next step with its message, then stepping goes on", "[async]") {
    const std::size_t C = 5, A = 2;
    for (bool nan : {false, true}) {
        GateModel model(C, A);
        if (nan) model.nan_at = 1; else model.throw_at = 1;
        AsyncStepper stepper(model, C, A, AsyncOptions{});
        std::vector<float> action(A);
        auto stage = [&] { model.staged_t = stepper.tick(); };
        model.permit();
        stepper.step(stage, action.data());   // tick 0
        stepper.step(stage, action.data());   // tick 1: request 1 in flight; it fails
        model.permit();
        stepper.runner().wait();
        const std::vector<float> before = action;
        std::string message;
        try {
            stepper.step(stage, action.data());
        } catch (const act_edge::ActionError& e) {
            message = std::string("ActionError: ") + e.what();
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        if (nan) {
            CHECK(message.rfind("ActionError: model output: non-finite action nan at (3, 1)", 0) == 0);
        } else {
            CHECK(message == "backend exploded at tick 1");
        }
        CHECK(stepper.tick() == 2);  // the failing step changed nothing
        CHECK(action == before);
        model.permit();
        stepper.step(stage, action.data());  // goes on: tick 2 requests again
        CHECK(stepper.tick() == 3);
        model.permit(2);
    }
}

TEST_CASE("async stepper: a second thread entering step() is refused while one is inside", "[async]") {
    const std::size_t C = 4, A = 2;
    GateModel model(C, A);
    AsyncStepper stepper(model, C, A, AsyncOptions{});
    std::vector<float> a1(A), a2(A);
    std::thread control([&] { stepper.step([&] { model.staged_t = 0; }, a1.data()); });  // blocks: first chunk
    model.wait_started(1);  // the control thread is inside step(), waiting on the worker
    CHECK_THROWS_AS(stepper.step([&] { model.staged_t = 99; }, a2.data()), act_edge::ConcurrentUseError);
    CHECK_THROWS_AS(stepper.reset(), act_edge::ConcurrentUseError);
    model.permit();
    control.join();
    CHECK(stepper.tick() == 1);  // the control thread's step completed; the refused ones changed nothing
    model.permit(2);
}

TEST_CASE("async stepper: no thread outlives it, also with an inference in flight", "[async]") {
    const int before = thread_count(1);  // this test binary runs its tests on the main thread only
    {
        GateModel model(4, 2);
        AsyncStepper stepper(model, 4, 2, AsyncOptions{});
        CHECK(thread_count(before + 1) == before + 1);
        std::vector<float> a(2);
        auto stage = [&] { model.staged_t = stepper.tick(); };
        model.permit();
        stepper.step(stage, a.data());
        stepper.step(stage, a.data());  // in flight
        model.wait_started(2);
        model.permit();                 // the destructor joins once infer() returns
    }
    CHECK(thread_count(before) == before);
    GateModel model(4, 2);
    AsyncStepper stepper(model, 4, 2, AsyncOptions{});
    stepper.close();
    CHECK(thread_count(before) == before);
    std::vector<float> a(2);
    CHECK_THROWS_AS(stepper.step([] {}, a.data()), std::logic_error);
}

TEST_CASE("async stepper: chunk queue switches to row t - t0 and refills at the margin", "[async]") {
    const std::size_t C = 10, A = 2, n = 8;
    GateModel model(C, A);
    AsyncOptions opt;
    opt.mode = AsyncOptions::Mode::ChunkQueue;
    opt.n_action_steps = n;
    AsyncStepper stepper(model, C, A, opt);
    std::vector<float> action(A), c(C * A);
    std::vector<std::uint64_t> requested;
    auto stage = [&] { model.staged_t = stepper.tick(); requested.push_back(stepper.tick()); };
    model.permit();
    stepper.step(stage, action.data());  // tick 0: chunk 0, row 0; latency 0 ticks -> margin 1
    chunk_for(0, 0, C, A, c.data());
    CHECK(action[0] == c[0]);
    CHECK(stepper.refill_margin() == 1);
    std::uint64_t cur_t0 = 0;
    for (std::uint64_t t = 1; t < 40; ++t) {
        // A request in flight completes 3 ticks after it was made.
        if (requested.size() > 1 && t == requested.back() + 3 && cur_t0 != requested.back()) {
            model.permit();
            stepper.runner().wait();
            cur_t0 = requested.back();
        }
        const std::size_t before = requested.size();
        stepper.step(stage, action.data());
        const std::uint64_t row = t - cur_t0;
        REQUIRE(row < C);  // a late chunk's ticks run the current chunk's rows n..C-1 (never starved here)
        {
            chunk_for(0, cur_t0, C, A, c.data());
            CHECK(action[0] == c[row * A]);
            CHECK(action[1] == c[row * A + 1]);
        }
        if (requested.size() > before) {  // requested when the actions left (before this tick's pop) were <= margin
            CHECK(n - (t - cur_t0) <= stepper.refill_margin());
        }
    }
    CHECK(stepper.refill_margin() == 4);  // measured: 3 ticks + 1
    // The first refill is late (requested at tick 7 with margin 1, no latency measured yet; the chunk
    // came at tick 10): ticks 8 and 9 ran chunk 0's rows 8 and 9, past n_action_steps, as the Python
    // Policy does; nothing starved.
    CHECK(stepper.stats().starved == 0);
    model.permit(2);
}

TEST_CASE("async stepper: chunk queue past row C-1 repeats the last row (starved), a chunk older than C changes nothing", "[async]") {
    const std::size_t C = 5, A = 3, n = 3;
    GateModel model(C, A);
    AsyncOptions opt;
    opt.mode = AsyncOptions::Mode::ChunkQueue;
    opt.n_action_steps = n;
    opt.refill_margin = 0;
    AsyncStepper stepper(model, C, A, opt);
    std::vector<float> action(A), c0(C * A), c1(C * A);
    auto stage = [&] { model.staged_t = stepper.tick(); };
    chunk_for(0, 0, C, A, c0.data());
    model.permit();
    stepper.step(stage, action.data());  // tick 0: chunk 0 (waited for), row 0
    CHECK(std::equal(action.begin(), action.end(), c0.begin()));
    for (std::uint64_t t = 1; t < 9; ++t) {  // requested at tick 3 (3 - 3 <= 0); never permitted until tick 9
        stepper.step(stage, action.data());
        const std::size_t row = std::min<std::size_t>(t, C - 1);
        CHECK(std::equal(action.begin(), action.end(), c0.begin() + static_cast<std::ptrdiff_t>(row * A)));
    }
    CHECK(stepper.stats().starved == 4);  // ticks 5..8 repeat row 4
    model.permit();
    stepper.runner().wait();  // the chunk of tick 3 arrives at tick 9: age 6 >= C, it covers no tick
    stepper.step(stage, action.data());
    CHECK(std::equal(action.begin(), action.end(), c0.begin() + static_cast<std::ptrdiff_t>((C - 1) * A)));
    CHECK(stepper.stats().starved == 5);
    CHECK(stepper.stats().inferences == 2);
    model.wait_started(3);  // requested again at tick 9 (still due)
    model.permit();
    stepper.runner().wait();
    stepper.step(stage, action.data());  // tick 10: the chunk of tick 9, row 1
    chunk_for(0, 9, C, A, c1.data());
    CHECK(std::equal(action.begin(), action.end(), c1.begin() + static_cast<std::ptrdiff_t>(A)));
    CHECK(stepper.stats().starved == 5);
    model.permit(2);
}
