// The coefficient limit of TemporalEnsemble (temporal_ensemble.hpp), with the Python runtime's text
// (act_edge/ensemble.py): numbers written as Python writes them.
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "act_edge/temporal_ensemble.hpp"

namespace act_edge {
namespace {

// Python's str() of a float: nlohmann writes finite doubles as repr() does ("0.01", "7.0", "1e-05").
std::string py_float(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return nlohmann::json(v).dump();
}

std::string printf_double(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

}  // namespace

std::string ensemble_coeff_error(std::size_t chunk_size, double coeff) {
    if (!std::isfinite(coeff)) return "temporal_ensemble_coeff must be finite, got " + py_float(coeff);
    const double span = std::abs(coeff) * static_cast<double>(chunk_size > 0 ? chunk_size - 1 : 0);
    if (span <= kEnsembleMaxSpan) return {};
    const double top = kEnsembleMaxSpan / static_cast<double>(chunk_size > 2 ? chunk_size - 1 : 1);
    return "temporal_ensemble_coeff " + py_float(coeff) + " with chunk " + std::to_string(chunk_size) +
           ": weights span exp(" + printf_double("%.0f", span) + "), beyond float64; use |coeff| <= " +
           printf_double("%.3g", top);
}

}  // namespace act_edge
