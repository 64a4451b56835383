// The two hot loops of TemporalEnsemble::update, kept out of line so that they are compiled with
// vectorization whatever the consumer's flags, and on x86-64 (GCC/Clang with ifunc) cloned for AVX
// with a runtime dispatch: the baseline SSE2 build stays portable.
#include "act_edge/temporal_ensemble.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(ACT_EDGE_NO_TARGET_CLONES)
#define ACT_EDGE_CLONES __attribute__((target_clones("avx", "default")))
#else
#define ACT_EDGE_CLONES
#endif

namespace act_edge {
namespace detail {

ACT_EDGE_CLONES void scaled_add(float* __restrict dst, const float* __restrict src, float g, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] += g * src[i];
}

ACT_EDGE_CLONES void scale(float* __restrict dst, float g, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] *= g;
}

}  // namespace detail
}  // namespace act_edge
