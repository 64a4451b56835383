// Latency profiler: a fixed-size ring of per-step stage durations (allocated at construction;
// begin_step / record / end_step are noexcept and allocation-free), statistics computed on demand.
//
// Same model and report as the Python runtime's act_edge.profiler.StageProfiler:
//   - one row per step, one column per stage (validate, stage_inputs, host_to_device, infer,
//     device_to_host, ensemble, total); a stage not recorded in a step holds 0 for that step and
//     is left out of that stage's statistics (total always counts);
//   - report(): steps (recorded since clear, may exceed the capacity), window (rows in the ring),
//     unit "us", per stage {count, p50, p90, p99, max, mean, std} (stages with no samples are left
//     out), jitter {std, p99_abs_dev, max_abs_dev} of total around its median (only with data).
// Percentiles interpolate linearly (numpy's default); std is the population one (ddof 0).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace act_edge {

// Column order of a step row, as in Python's act_edge.profiler.STAGES.
enum class Stage : int { Validate = 0, StageInputs = 1, HostToDevice = 2, Infer = 3, DeviceToHost = 4, Ensemble = 5, Total = 6 };
inline constexpr int kNumStages = 7;
// "validate", "stage_inputs", "host_to_device", "infer", "device_to_host", "ensemble", "total"
const char* stage_name(Stage s) noexcept;
// The Stage named `name`, or nullopt.
std::optional<Stage> stage_from_name(const std::string& name) noexcept;

// One stage's statistics (microseconds) over the window's steps where it ran.
struct StageStats {
    std::size_t count = 0;
    double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
    double std_dev = 0;  // JSON key "std"
};

// Of the total column: its std, and p99 / max of |total - median(total)| (microseconds).
struct Jitter {
    double std_dev = 0;  // JSON key "std"
    double p99_abs_dev = 0, max_abs_dev = 0;
};

struct ProfileReport {
    std::size_t steps = 0;   // steps recorded since construction / clear() (may exceed the capacity)
    std::size_t window = 0;  // rows the statistics cover: min(steps, capacity)
    static constexpr const char* unit = "us";
    std::array<std::optional<StageStats>, kNumStages> stages;  // nullopt: no samples in the window
    std::optional<Jitter> jitter;                              // nullopt: empty window
    // {"steps": n, "window": m, "unit": "us", "stages": {"validate": {"count": c, "p50": ..., "p90": ...,
    //  "p99": ..., "max": ..., "mean": ..., "std": ...}, ...}, "jitter": {"std": ..., "p99_abs_dev": ...,
    //  "max_abs_dev": ...}}: Python's report() keys, in its order; stages without samples and an
    // empty window's jitter are left out. Floats always carry a '.' or an exponent (round-trip exact).
    std::string to_json() const;
};

// Linear-interpolated percentile (numpy.percentile's default) of `v`; sorts v. q in [0, 100].
double percentile(std::vector<double>& v, double q);

class Profiler {
public:
    using Clock = std::chrono::steady_clock;
    using Row = std::array<double, kNumStages>;  // one step's durations, microseconds

    // Keeps the last `capacity` steps (>= 1).
    explicit Profiler(std::size_t capacity = 4096);

    // Per step: begin_step(), record() each stage that ran (durations add up within a step),
    // record(Stage::Total, ...), end_step() which stores the row and advances the ring.
    void begin_step() noexcept { row_.fill(0.0); }
    void record(Stage s, double microseconds) noexcept { row_[idx(s)] += microseconds; }
    void record(Stage s, Clock::time_point start, Clock::time_point end) noexcept {
        record(s, std::chrono::duration<double, std::micro>(end - start).count());
    }
    void end_step() noexcept;
    // Stores a whole step at once (replaying recorded durations, tests); 0 = stage skipped.
    void record_step(const Row& microseconds) noexcept {
        row_ = microseconds;
        end_step();
    }
    void clear() noexcept;

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t steps() const noexcept { return steps_; }
    std::size_t window() const noexcept { return std::min(steps_, capacity_); }
    ProfileReport report() const;

    // Times a scope into a stage of the current step.
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
    std::vector<double> ring_;  // capacity_ rows of kNumStages, row-major
    Row row_{};                 // the step being recorded
    std::size_t next_ = 0;      // ring row the next end_step() writes
    std::size_t steps_ = 0;
};

}  // namespace act_edge
