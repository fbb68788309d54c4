// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/fma_peak.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/simd.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

namespace lp::core {

namespace {

constexpr int kChains = 12;
constexpr std::int64_t kIterations = std::int64_t{1} << 22;  // per probe call, per thread

// Each probe returns its FLOPs and writes a sum of its accumulators to `sink`, so that the
// compiler cannot drop the loop. Loop-carried values stay in registers: the accumulators are
// named scalars of vector type, not an array (an array compiled to load-FMA-store here).

#if LP_SIMD_X86
// The same 12 chains for a vector type (a local macro: the intrinsics cannot be template
// arguments, and each copy must be compiled under its own target attribute).
#define LP_FMA_CHAINS(T, SET1, FMA, ADD)                                               \
    const T a = SET1(0.999999F);                                                       \
    const T b = SET1(1e-7F);                                                           \
    T c0 = SET1(1.00F), c1 = SET1(1.01F), c2 = SET1(1.02F), c3 = SET1(1.03F);          \
    T c4 = SET1(1.04F), c5 = SET1(1.05F), c6 = SET1(1.06F), c7 = SET1(1.07F);          \
    T c8 = SET1(1.08F), c9 = SET1(1.09F), c10 = SET1(1.10F), c11 = SET1(1.11F);        \
    for (std::int64_t i = 0; i < kIterations; ++i) {                                   \
        c0 = FMA(c0, a, b);                                                            \
        c1 = FMA(c1, a, b);                                                            \
        c2 = FMA(c2, a, b);                                                            \
        c3 = FMA(c3, a, b);                                                            \
        c4 = FMA(c4, a, b);                                                            \
        c5 = FMA(c5, a, b);                                                            \
        c6 = FMA(c6, a, b);                                                            \
        c7 = FMA(c7, a, b);                                                            \
        c8 = FMA(c8, a, b);                                                            \
        c9 = FMA(c9, a, b);                                                            \
        c10 = FMA(c10, a, b);                                                          \
        c11 = FMA(c11, a, b);                                                          \
    }                                                                                  \
    const T s = ADD(ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7))), \
                    ADD(ADD(c8, c9), ADD(c10, c11)))

[[gnu::target("avx2,fma")]] std::int64_t probeAvx2(float* sink) {
    LP_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps);
    *sink = _mm_cvtss_f32(_mm256_castps256_ps128(s));
    return kIterations * kChains * 8 * 2;
}

[[gnu::target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")]] std::int64_t probeAvx512(
    float* sink) {
    LP_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps);
    // A store, not _mm512_reduce_add_ps: GCC 12's header version of that trips
    // -Wuninitialized (its _mm256_undefined_pd) under -Werror.
    std::array<float, 16> lanes{};
    _mm512_storeu_ps(lanes.data(), s);
    *sink = lanes[0];
    return kIterations * kChains * 16 * 2;
}

// SSE2 (every x86-64 CPU) has no FMA: a multiply and an add, 4 lanes.
inline __m128 mulAdd128(__m128 c, __m128 a, __m128 b) {
    return _mm_add_ps(_mm_mul_ps(c, a), b);
}

std::int64_t probeBaseline(float* sink) {
    LP_FMA_CHAINS(__m128, _mm_set1_ps, mulAdd128, _mm_add_ps);
    *sink = _mm_cvtss_f32(s);
    return kIterations * kChains * 4 * 2;
}

#undef LP_FMA_CHAINS
#else
// Elsewhere (no x86 SIMD, or no optimisation): 12 scalar chains.
std::int64_t probeBaseline(float* sink) {
    std::array<float, kChains> acc{};
    for (std::size_t c = 0; c < acc.size(); ++c) {
        acc[c] = 1.0F + 1e-2F * static_cast<float>(c);
    }
    for (std::int64_t i = 0; i < kIterations; ++i) {
        for (float& v : acc) {
            v = v * 0.999999F + 1e-7F;
        }
    }
    *sink = acc[0];
    return kIterations * kChains * 2;
}
#endif

std::int64_t probe(Isa isa, float* sink) {
#if LP_SIMD_X86
    if (isa == Isa::Avx512) {
        return probeAvx512(sink);
    }
    if (isa == Isa::Avx2) {
        return probeAvx2(sink);
    }
#endif
    static_cast<void>(isa);
    return probeBaseline(sink);
}

}  // namespace

double measureFmaPeakGflops(Isa isa, int threads, double seconds) {
    LP_EXPECTS(isaSupported(isa),
               concat("measureFmaPeakGflops: this CPU cannot run ", isaName(isa)));
    LP_EXPECTS(threads >= 1, "measureFmaPeakGflops: threads must be >= 1");
    std::vector<float> sinks(static_cast<std::size_t>(threads));
    std::vector<std::int64_t> flops(static_cast<std::size_t>(threads), 0);
    using Clock = std::chrono::steady_clock;
    probe(isa, sinks.data());  // warm-up: clocks up, code in cache
    const Clock::time_point start = Clock::now();
    double elapsed = 0.0;
    // Rounds of one probe per thread until `seconds` have passed; the best round's rate counts.
    double best = 0.0;
    while (elapsed < seconds) {
        const Clock::time_point t0 = Clock::now();
        parallelFor(0, threads, 1, [&](std::int64_t lo, std::int64_t hi) {
            for (std::int64_t t = lo; t < hi; ++t) {
                flops[static_cast<std::size_t>(t)] =
                    probe(isa, &sinks[static_cast<std::size_t>(t)]);
            }
        });
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        std::int64_t round = 0;
        for (std::int64_t f : flops) {
            round += f;
        }
        if (dt > 0.0 && static_cast<double>(round) / dt > best) {
            best = static_cast<double>(round) / dt;
        }
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    return best * 1e-9;
}

}  // namespace lp::core
