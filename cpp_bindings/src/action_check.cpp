#include "act_edge/action_check.hpp"

#include <cmath>
#include <cstring>

namespace act_edge {

std::optional<std::string> find_non_finite(const float* data, const std::int64_t* shape, int ndim) {
    std::size_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= static_cast<std::size_t>(shape[d]);
    // Fast path (vectorized, no branch per value): a float is nan/inf iff its exponent bits are all ones.
    constexpr std::uint32_t kExp = 0x7f800000u;
    std::uint32_t worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, data + i, sizeof bits);
        const std::uint32_t e = bits & kExp;
        worst = e > worst ? e : worst;
    }
    if (worst != kExp) return std::nullopt;

    std::size_t first = 0;
    while (std::isfinite(data[first])) ++first;
    const float v = data[first];
    // str() of a numpy float32: "nan" (whatever its sign), "inf", "-inf".
    std::string msg = "model output: non-finite action ";
    msg += std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
    // The index as a Python tuple: "(4, 1)", "(0, 4, 1)", "(3,)".
    std::string where;
    std::size_t rest = first;
    for (int d = ndim - 1; d >= 0; --d) {
        const auto extent = static_cast<std::size_t>(shape[d]);
        where = std::to_string(rest % extent) + (d == ndim - 1 ? "" : ", ") + where;
        rest /= extent;
    }
    msg += " at (" + where + (ndim == 1 ? ",)" : ")");
    msg += " (the ensemble/queue was not updated); check the observation's scale and the bundle";
    return msg;
}

void check_finite(const float* data, const std::int64_t* shape, int ndim) {
    if (auto bad = find_non_finite(data, shape, ndim)) throw ActionError(*bad);
}

std::string refused_chunk_message(const float* chunk, std::size_t rows, std::size_t cols) {
    const std::int64_t shape[2] = {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)};
    if (auto msg = find_non_finite(chunk, shape, 2)) return *msg;
    return "model output: chunk refused: the ensemble's weighted sums overflow float32 (the ensemble/queue was not "
           "updated); check the observation's scale and the bundle";
}

}  // namespace act_edge
