// Latency profiler: per-stage timings in fixed rings (allocated at construction, record() is
// noexcept and allocation-free), reported with the fields of the Python profiler's report:
// per stage p50_us, p90_us, p99_us, max_us, mean_us, std_us, count; top-level jitter_us = p99 of
// |total - median(total)|. Percentiles interpolate linearly (numpy's default); std is the population one.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace act_edge {

enum class Stage : int { Validate = 0, Stage = 1, H2D = 2, Infer = 3, D2H = 4, Ensemble = 5, Total = 6 };
inline constexpr int kNumStages = 7;
// "validate", "stage", "h2d", "infer", "d2h", "ensemble", "total"
const char* stage_name(Stage s) noexcept;

struct StageStats {
    double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0, std_us = 0;
    std::size_t count = 0;
};

struct ProfileReport {
    std::array<std::optional<StageStats>, kNumStages> stages;  // nullopt: never recorded
    double jitter_us = 0;
    // {"validate": {"p50_us": ..., ..., "count": n}, ..., "jitter_us": x}; unrecorded stages are left out.
    std::string to_json() const;
};

// Linear-interpolated percentile (numpy.percentile's default) of `v`; sorts v. q in [0, 100].
double percentile(std::vector<double>& v, double q);

class Profiler {
public:
    using Clock = std::chrono::steady_clock;

    // Keeps the last `capacity` samples of each stage (>= 1).
    explicit Profiler(std::size_t capacity = 4096);

    void record(Stage s, double microseconds) noexcept;
    void record(Stage s, Clock::time_point start, Clock::time_point end) noexcept {
        record(s, std::chrono::duration<double, std::micro>(end - start).count());
    }
    void clear() noexcept;
    std::size_t count(Stage s) const noexcept { return std::min(written_[idx(s)], capacity_); }
    ProfileReport report() const;

    // Times a scope into a stage.
    class Scope {
    public:
        Scope(Profiler& p, Stage s) noexcept : p_(p), s_(s), start_(Clock::now()) {}
        ~Scope() { p_.record(s_, start_, Clock::now()); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        Profiler& p_;
        Stage s_;
        Clock::time_point start_;
    };

private:
    static std::size_t idx(Stage s) noexcept { return static_cast<std::size_t>(s); }
    std::size_t capacity_;
    std::vector<double> samples_;                      // kNumStages rings of capacity_
    std::array<std::size_t, kNumStages> written_{};    // total samples recorded per stage
};

}  // namespace act_edge
