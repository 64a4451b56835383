#include "act_edge/profiler.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace act_edge {

const char* stage_name(Stage s) noexcept {
    static constexpr const char* names[kNumStages] = {"validate", "stage", "h2d", "infer", "d2h", "ensemble", "total"};
    return names[static_cast<int>(s)];
}

double percentile(std::vector<double>& v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return v[lo] + (v[hi] - v[lo]) * frac;
}

Profiler::Profiler(std::size_t capacity) : capacity_(capacity) {
    if (capacity < 1) throw std::invalid_argument("Profiler: capacity must be >= 1");
    samples_.assign(capacity_ * kNumStages, 0.0);
}

void Profiler::record(Stage s, double us) noexcept {
    const std::size_t i = idx(s);
    samples_[i * capacity_ + written_[i] % capacity_] = us;
    ++written_[i];
}

void Profiler::clear() noexcept { written_.fill(0); }

ProfileReport Profiler::report() const {
    ProfileReport r;
    for (int s = 0; s < kNumStages; ++s) {
        const std::size_t n = count(static_cast<Stage>(s));
        if (n == 0) continue;
        std::vector<double> v(samples_.begin() + s * capacity_, samples_.begin() + s * capacity_ + n);
        StageStats st;
        st.count = n;
        double sum = 0;
        for (double x : v) sum += x;
        st.mean_us = sum / n;
        double ss = 0;
        for (double x : v) ss += (x - st.mean_us) * (x - st.mean_us);
        st.std_us = std::sqrt(ss / n);
        st.p50_us = percentile(v, 50);
        st.p90_us = percentile(v, 90);
        st.p99_us = percentile(v, 99);
        st.max_us = v.back();
        r.stages[s] = st;
        if (s == static_cast<int>(Stage::Total)) {
            std::vector<double> dev(v.size());
            for (std::size_t i = 0; i < v.size(); ++i) dev[i] = std::abs(v[i] - st.p50_us);
            r.jitter_us = percentile(dev, 99);
        }
    }
    return r;
}

std::string ProfileReport::to_json() const {
    auto num = [](double x) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", x);
        return std::string(buf);
    };
    std::string out = "{";
    for (int s = 0; s < kNumStages; ++s) {
        if (!stages[s]) continue;
        const StageStats& st = *stages[s];
        out += "\"" + std::string(stage_name(static_cast<Stage>(s))) + "\": {\"p50_us\": " + num(st.p50_us) +
               ", \"p90_us\": " + num(st.p90_us) + ", \"p99_us\": " + num(st.p99_us) + ", \"max_us\": " +
               num(st.max_us) + ", \"mean_us\": " + num(st.mean_us) + ", \"std_us\": " + num(st.std_us) +
               ", \"count\": " + std::to_string(st.count) + "}, ";
    }
    return out + "\"jitter_us\": " + num(jitter_us) + "}";
}

}  // namespace act_edge
