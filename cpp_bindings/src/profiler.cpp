#include "act_edge/profiler.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace act_edge {

namespace {

constexpr const char* kStageNames[kNumStages] = {"validate", "stage_inputs", "host_to_device", "infer",
                                                 "device_to_host", "ensemble", "total"};

// numpy's pairwise summation (what sum/mean/std reduce with), so sums agree with numpy's to the bit
// in the common cases and stay as accurate on long windows.
double pairwise_sum(const double* a, std::size_t n) {
    if (n < 8) {
        double s = 0.0;  // numpy starts from -0.0; the same for any sum that is not all -0.0
        for (std::size_t i = 0; i < n; ++i) s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; ++k) r[k] = a[k];
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int k = 0; k < 8; ++k) r[k] += a[i + k];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[i];
        return s;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double mean_of(const std::vector<double>& v) { return pairwise_sum(v.data(), v.size()) / static_cast<double>(v.size()); }

double std_of(const std::vector<double>& v, double mean) {
    std::vector<double> sq(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) sq[i] = (v[i] - mean) * (v[i] - mean);
    return std::sqrt(pairwise_sum(sq.data(), sq.size()) / static_cast<double>(v.size()));
}

// numpy.median of sorted, non-empty v: the middle one, or the mean of the two middle ones.
double median_sorted(const std::vector<double>& v) {
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// numpy.percentile's linear method on sorted, non-empty v (its lerp, including the t >= 0.5 form).
double percentile_sorted(const std::vector<double>& v, double q) {
    const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    const double t = pos - static_cast<double>(lo);
    const double a = v[lo], b = v[hi], d = b - a;
    return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

std::string num(double x) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, x);  // shortest round-trip form, like Python's repr
    std::string s(buf, res.ptr);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";  // keep it a float for JSON readers
    return s;
}

}  // namespace

const char* stage_name(Stage s) noexcept { return kStageNames[static_cast<int>(s)]; }

std::optional<Stage> stage_from_name(const std::string& name) noexcept {
    for (int s = 0; s < kNumStages; ++s)
        if (name == kStageNames[s]) return static_cast<Stage>(s);
    return std::nullopt;
}

double percentile(std::vector<double>& v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return percentile_sorted(v, q);
}

Profiler::Profiler(std::size_t capacity) : capacity_(capacity) {
    if (capacity < 1) throw std::invalid_argument("Profiler: capacity must be >= 1");
    ring_.assign(capacity_ * kNumStages, 0.0);
}

void Profiler::end_step() noexcept {
    std::copy(row_.begin(), row_.end(), ring_.begin() + static_cast<std::ptrdiff_t>(next_ * kNumStages));
    next_ = next_ + 1 < capacity_ ? next_ + 1 : 0;
    ++steps_;
    row_.fill(0.0);
}

void Profiler::clear() noexcept {
    std::fill(ring_.begin(), ring_.end(), 0.0);
    row_.fill(0.0);
    next_ = 0;
    steps_ = 0;
}

ProfileReport Profiler::report() const {
    ProfileReport r;
    r.steps = steps_;
    r.window = window();
    // Rows oldest first (the order only matters to the sums' rounding, as in numpy).
    const std::size_t first = steps_ <= capacity_ ? 0 : next_;
    std::vector<double> col;
    col.reserve(r.window);
    for (int s = 0; s < kNumStages; ++s) {
        const bool total = s == static_cast<int>(Stage::Total);
        col.clear();
        for (std::size_t k = 0; k < r.window; ++k) {
            const double x = ring_[((first + k) % capacity_) * kNumStages + static_cast<std::size_t>(s)];
            if (total || x > 0) col.push_back(x);  // 0: the stage did not run in that step
        }
        if (col.empty()) continue;
        StageStats st;
        st.count = col.size();
        st.mean = mean_of(col);
        st.std_dev = std_of(col, st.mean);
        if (total) {
            Jitter j;
            j.std_dev = st.std_dev;
            std::vector<double> sorted(col);
            std::sort(sorted.begin(), sorted.end());
            const double med = median_sorted(sorted);
            std::vector<double> dev(col.size());
            for (std::size_t i = 0; i < col.size(); ++i) dev[i] = std::abs(col[i] - med);
            std::sort(dev.begin(), dev.end());
            j.p99_abs_dev = percentile_sorted(dev, 99);
            j.max_abs_dev = dev.back();
            r.jitter = j;
        }
        std::sort(col.begin(), col.end());
        st.p50 = percentile_sorted(col, 50);
        st.p90 = percentile_sorted(col, 90);
        st.p99 = percentile_sorted(col, 99);
        st.max = col.back();
        r.stages[s] = st;
    }
    return r;
}

std::string ProfileReport::to_json() const {
    std::string out = "{\"steps\": " + std::to_string(steps) + ", \"window\": " + std::to_string(window) +
                      ", \"unit\": \"" + unit + "\", \"stages\": {";
    bool first = true;
    for (int s = 0; s < kNumStages; ++s) {
        if (!stages[s]) continue;
        const StageStats& st = *stages[s];
        if (!first) out += ", ";
        first = false;
        out += "\"" + std::string(stage_name(static_cast<Stage>(s))) + "\": {\"count\": " + std::to_string(st.count) +
               ", \"p50\": " + num(st.p50) + ", \"p90\": " + num(st.p90) + ", \"p99\": " + num(st.p99) +
               ", \"max\": " + num(st.max) + ", \"mean\": " + num(st.mean) + ", \"std\": " + num(st.std_dev) + "}";
    }
    out += "}";
    if (jitter)
        out += ", \"jitter\": {\"std\": " + num(jitter->std_dev) + ", \"p99_abs_dev\": " + num(jitter->p99_abs_dev) +
               ", \"max_abs_dev\": " + num(jitter->max_abs_dev) + "}";
    return out + "}";
}

}  // namespace act_edge
