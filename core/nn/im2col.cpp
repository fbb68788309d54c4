// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/im2col.hpp"

#include "core/tensor/simd.hpp"

#include <Eigen/Core>

#include <algorithm>

namespace lp::core::nn {

namespace {

// A half-open range [lo, hi) of output positions.
struct Range {
    std::int64_t lo = 0;
    std::int64_t hi = 0;
};

// Output positions along an axis of length n whose input index o·s − p + off is in range.
inline Range validRange(
    std::int64_t n, std::int64_t outN, std::int64_t s, std::int64_t p, std::int64_t off) {
    const std::int64_t first = p - off;         // need o·s >= first
    const std::int64_t last = n - 1 + p - off;  // need o·s <= last
    if (last < 0) {
        return {0, 0};
    }
    const std::int64_t lo = first <= 0 ? 0 : (first + s - 1) / s;
    const std::int64_t hi = std::min(outN, last / s + 1);
    return {std::min(lo, hi), hi};
}

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Stride 1 with output width = input width (2·padding = kernel − 1).
inline bool sameFlat(const ConvGeometry& g) {
    return g.s == 1 && g.wo == g.w;
}

// Zeroes columns outside [rx.lo, rx.hi) of `rows` rows of width wo. Column by column: with the
// rows inner, GCC turned each row's one-element loop into a memset call (perf: 2.5% of a
// width-16 step in those calls).
inline void zeroWrapColumns(float* d, std::int64_t rows, std::int64_t wo, Range rx) {
    for (std::int64_t ox = 0; ox < rx.lo; ++ox) {
        for (std::int64_t oy = 0; oy < rows; ++oy) {
            d[oy * wo + ox] = 0.0F;
        }
    }
    for (std::int64_t ox = rx.hi; ox < wo; ++ox) {
        for (std::int64_t oy = 0; oy < rows; ++oy) {
            d[oy * wo + ox] = 0.0F;
        }
    }
}

#if LP_SIMD_X86
// The stride-2 part of stridedRow<Gather> in AVX2, 8 outputs from 16 inputs; returns the outputs
// done.
[[gnu::target("avx2,fma")]] std::int64_t gatherStride2Avx2(const float* src,
                                                           std::int64_t n,
                                                           std::int64_t avail,
                                                           float* dst) {
    std::int64_t i = 0;
    for (; i + 8 <= n && 2 * i + 16 <= avail; i += 8) {  // reads src[2i, 2i + 16)
        const __m256 t = _mm256_shuffle_ps(_mm256_loadu_ps(src + 2 * i),
                                           _mm256_loadu_ps(src + 2 * i + 8),
                                           _MM_SHUFFLE(2, 0, 2, 0));
        _mm256_storeu_ps(
            dst + i,
            _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0))));
    }
    return i;
}

// The stride-2 part of stridedRow<ScatterAdd> in AVX2: the sums are blended into the even lanes, so
// the odd entries keep their exact bits (as in the scalar loop, which never touches them).
// Returns the inputs done.
[[gnu::target("avx2,fma")]] std::int64_t scatterAddStride2Avx2(const float* src,
                                                               std::int64_t n,
                                                               std::int64_t avail,
                                                               float* dst) {
    std::int64_t i = 0;
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n && 2 * i + 16 <= avail; i += 8) {  // touches dst[2i, 2i + 16)
        // [s0 s1 s2 s3 | s4 s5 s6 s7] -> [s0 0 s1 0 s2 0 s3 0] and [s4 0 .. s7 0].
        const __m256 v = _mm256_loadu_ps(src + i);
        const __m256 lo = _mm256_unpacklo_ps(v, zero);  // s0 0 s1 0 | s4 0 s5 0
        const __m256 hi = _mm256_unpackhi_ps(v, zero);  // s2 0 s3 0 | s6 0 s7 0
        float* d = dst + 2 * i;
        const __m256 d0 = _mm256_loadu_ps(d);
        const __m256 d1 = _mm256_loadu_ps(d + 8);
        const __m256 a0 = _mm256_add_ps(d0, _mm256_permute2f128_ps(lo, hi, 0x20));
        const __m256 a1 = _mm256_add_ps(d1, _mm256_permute2f128_ps(lo, hi, 0x31));
        _mm256_storeu_ps(d, _mm256_blend_ps(a0, d0, 0xAA));
        _mm256_storeu_ps(d + 8, _mm256_blend_ps(a1, d1, 0xAA));
    }
    return i;
}
#endif

// The strided row copies of im2col and col2im: Gather sets dst[i] = src[i·s], ScatterAdd (its
// adjoint) dst[i·s] += src[i], for i < n; the strided side may be accessed in [0, avail) (the rest
// of the row). Stride-2 rows (the stage entries of ResNet: 3x3 and 1x1 stride 2) take AVX2 where
// the path has it (simd); plain loops otherwise.
enum class Strided { Gather, ScatterAdd };

template <Strided Op>
inline void stridedRow(const float* src,
                       std::int64_t s,
                       std::int64_t n,
                       [[maybe_unused]] std::int64_t avail,
                       float* dst,
                       [[maybe_unused]] bool simd) {
    std::int64_t i = 0;
#if LP_SIMD_X86
    if (simd && s == 2) {
        i = Op == Strided::Gather ? gatherStride2Avx2(src, n, avail, dst)
                                  : scatterAddStride2Avx2(src, n, avail, dst);
    }
#endif
    for (; i < n; ++i) {
        if constexpr (Op == Strided::Gather) {
            dst[i] = src[i * s];
        } else {
            dst[i * s] += src[i];
        }
    }
}

}  // namespace

// col[r, j] (row stride ld) = x[c, oy·s − p + ky, ox·s − p + kx] or 0 in the padding, with
// r = (c·k + ky)·k + kx and j = oy·wo + ox. x: one sample [C, H, W]. Copies go through Eigen
// maps (inline packet loops; GCC does not vectorise plain loops at -O2). Only output rows
// [oy0, oy1) are written, at columns (oy − oy0)·wo + ox.
//
// "Same" stride-1 convolutions (wo == w: every 3x3 of ResNet but the stage entries) take a
// faster path: row oy of a col row is row oy + ky − p of the input plane shifted by kx − p, so
// all valid rows are ONE contiguous copy of the input, after which the few wrapped-around
// border columns are zeroed. On 4x4..8x8 maps the row-by-row copy was mostly loop overhead.
void im2col(const float* x,
            const ConvGeometry& g,
            float* col,
            std::int64_t ld,
            std::int64_t oy0,
            std::int64_t oy1) {
    const std::int64_t blockCols = (oy1 - oy0) * g.wo;
    const bool simd = kernelsHaveAvx2();
    for (std::int64_t ky = 0; ky < g.k; ++ky) {
        const Range valid = validRange(g.h, g.ho, g.s, g.p, ky);
        const Range ry{std::clamp(valid.lo, oy0, oy1), std::clamp(valid.hi, oy0, oy1)};
        for (std::int64_t kx = 0; kx < g.k; ++kx) {
            const Range rx = validRange(g.w, g.wo, g.s, g.p, kx);
            const std::int64_t x0 = kx - g.p;  // input column of ox = 0
            const std::int64_t n = rx.hi - rx.lo;
            for (std::int64_t c = 0; c < g.c; ++c) {
                float* dst = col + ((c * g.k + ky) * g.k + kx) * ld;  // output row oy0
                float* valid0 = dst + (ry.lo - oy0) * g.wo;           // output row ry.lo
                std::fill(dst, valid0, 0.0F);
                if (sameFlat(g) && ry.hi > ry.lo) {
                    const float* srcRow = x + (c * g.h + ry.lo - g.p + ky) * g.w;
                    // Elements [rx.lo, end − (wo − rx.hi)) stay inside the valid input rows.
                    const std::int64_t end = (ry.hi - ry.lo) * g.wo - (g.wo - rx.hi);
                    ArrayMap(valid0 + rx.lo, end - rx.lo) =
                        ConstArrayMap(srcRow + rx.lo + x0, end - rx.lo);
                    zeroWrapColumns(valid0, ry.hi - ry.lo, g.wo, rx);
                    std::fill(dst + (ry.hi - oy0) * g.wo, dst + blockCols, 0.0F);
                    continue;
                }
                for (std::int64_t oy = ry.lo; oy < ry.hi; ++oy) {
                    float* d = dst + (oy - oy0) * g.wo;
                    const float* srcRow = x + (c * g.h + oy * g.s - g.p + ky) * g.w;
                    if (g.s == 1) {
                        ArrayMap(d + rx.lo, n) = ConstArrayMap(srcRow + rx.lo + x0, n);
                    } else {
                        const std::int64_t first = rx.lo * g.s + x0;  // input column
                        stridedRow<Strided::Gather>(
                            srcRow + first, g.s, n, g.w - first, d + rx.lo, simd);
                    }
                }
                zeroWrapColumns(valid0, ry.hi - ry.lo, g.wo, rx);
                std::fill(dst + (ry.hi - oy0) * g.wo, dst + blockCols, 0.0F);
            }
        }
    }
}

// The adjoint of im2col: dx[c, iy, ix] += col[r, j] over every (r, j) that im2col read it into,
// for the output rows [oy0, oy1) held in col at columns (oy − oy0)·wo + ox. On the "same"
// path the wrapped border entries of col (scratch) are zeroed first, so that one contiguous
// add per col row adds exactly +0 where a border column wraps onto the neighbouring row.
void col2im(float* col,
            std::int64_t ld,
            const ConvGeometry& g,
            float* dx,
            std::int64_t oy0,
            std::int64_t oy1) {
    const bool simd = kernelsHaveAvx2();
    for (std::int64_t c = 0; c < g.c; ++c) {
        for (std::int64_t ky = 0; ky < g.k; ++ky) {
            const Range valid = validRange(g.h, g.ho, g.s, g.p, ky);
            const Range ry{std::clamp(valid.lo, oy0, oy1), std::clamp(valid.hi, oy0, oy1)};
            for (std::int64_t kx = 0; kx < g.k; ++kx) {
                const Range rx = validRange(g.w, g.wo, g.s, g.p, kx);
                float* src = col + ((c * g.k + ky) * g.k + kx) * ld;  // output row oy0
                if (sameFlat(g)) {
                    if (ry.hi > ry.lo) {
                        float* sv = src + (ry.lo - oy0) * g.wo;
                        float* dRow = dx + (c * g.h + ry.lo - g.p + ky) * g.w;
                        const std::int64_t x0 = kx - g.p;
                        zeroWrapColumns(sv, ry.hi - ry.lo, g.wo, rx);
                        const std::int64_t end = (ry.hi - ry.lo) * g.wo - (g.wo - rx.hi);
                        ArrayMap(dRow + rx.lo + x0, end - rx.lo) +=
                            ConstArrayMap(sv + rx.lo, end - rx.lo);
                    }
                    continue;
                }
                for (std::int64_t oy = ry.lo; oy < ry.hi; ++oy) {
                    const float* sRow = src + (oy - oy0) * g.wo;
                    float* d = dx + (c * g.h + oy * g.s - g.p + ky) * g.w;
                    const std::int64_t x0 = kx - g.p;  // input column of ox = 0
                    const std::int64_t n = rx.hi - rx.lo;
                    if (g.s == 1) {
                        ArrayMap(d + rx.lo + x0, n) += ConstArrayMap(sRow + rx.lo, n);
                    } else {
                        const std::int64_t first = rx.lo * g.s + x0;  // input column
                        stridedRow<Strided::ScatterAdd>(
                            sRow + rx.lo, g.s, n, g.w - first, d + first, simd);
                    }
                }
            }
        }
    }
}

}  // namespace lp::core::nn
