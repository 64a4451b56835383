// The hot loops of TemporalEnsemble::update and ChunkQueue::push (checked scaled add, rescale,
// finite check), kept out of line so that they are compiled with vectorization whatever the
// consumer's flags, and on x86-64 (GCC/Clang with ifunc) cloned for AVX with a runtime dispatch:
// the baseline SSE2 build stays portable.
#include "act_edge/temporal_ensemble.hpp"

#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "temporal_ensemble.cpp needs nan/inf semantics (its finite check): compile it without -ffinite-math-only / -ffast-math"
#endif

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(ACT_EDGE_NO_TARGET_CLONES)
#define ACT_EDGE_CLONES __attribute__((target_clones("avx", "default")))
#else
#define ACT_EDGE_CLONES
#endif

namespace act_edge {
namespace detail {

// x * 0 is +-0 for a finite x and nan for nan/inf, so a sum of them is 0 exactly when every value is
// finite, in any order: 16 independent sums (vectorized without reassociation), no branch per
// value; about 2x faster here than testing exponent bits with integer ops (4 lanes on SSE2/AVX1).
// Needs IEEE nan/inf semantics: the #error above refuses -ffinite-math-only.
constexpr std::size_t kLanes = 16;

ACT_EDGE_CLONES bool scaled_add_to(float* __restrict dst, const float* __restrict acc, const float* __restrict src,
                                   float g, std::size_t n) noexcept {
    float z[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (std::size_t j = 0; j < kLanes; ++j) {
            const float d = acc[i + j] + g * src[i + j];
            dst[i + j] = d;
            z[j] += d * 0.0f;
        }
    }
    float sum = 0.0f;
    for (; i < n; ++i) {
        const float d = acc[i] + g * src[i];
        dst[i] = d;
        sum += d * 0.0f;
    }
    for (float x : z) sum += x;
    return sum == 0.0f;
}

ACT_EDGE_CLONES void scale(float* __restrict dst, float g, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] *= g;
}

ACT_EDGE_CLONES bool all_finite(const float* __restrict src, std::size_t n) noexcept {
    float acc[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (std::size_t j = 0; j < kLanes; ++j) acc[j] += src[i + j] * 0.0f;
    float sum = 0.0f;
    for (; i < n; ++i) sum += src[i] * 0.0f;
    for (float a : acc) sum += a;
    return sum == 0.0f;
}

}  // namespace detail
}  // namespace act_edge
