// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/winograd.hpp"

#include "core/error.hpp"
#include "core/nn/conv3x3_checks.hpp"
#include "core/tensor/gemm.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/tensor.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

// GCC does not vectorise the transform loops at -O2; whole groups of 8 tiles take an AVX2 path
// with exactly the scalar path's operations (so the same bits). With optimisation only: without
// it GCC's intrinsics are macros full of old-style casts.
#if defined(__AVX2__) && defined(__OPTIMIZE__)
#include <immintrin.h>
#define LP_WINOGRAD_AVX2 1
#else
#define LP_WINOGRAD_AVX2 0
#endif

namespace lp::core::nn {

namespace {

constexpr std::int64_t kPositions = 16;  // 4x4 transform positions
constexpr std::int64_t kTaps = 9;        // 3x3 filter taps

// A tile block's transformed input [16, in, tiles] and GEMM output [16, out, tiles] together
// take about this many floats (512 KiB, the L2 size: the GEMMs read the transformed input right
// after it was written), but a block holds at least kMinBlockTiles tiles: narrower GEMMs repack
// the transformed weights too often. (Measured at width 64, batch 32: 2 MiB blocks were ~3%
// slower; at least 256 tiles per block ~10% slower.)
constexpr std::int64_t kBlockFloats = std::int64_t{128} << 10;
constexpr std::int64_t kMinBlockTiles = 64;

// T[p, q] = G[i, a] · G[j, b] with p = 4i + j, q = 3a + b, so that the transformed filter
// G g Gᵀ (Lavin & Gray eq. 8) of every filter is one row of T · g. G = [1 0 0; ½ ½ ½;
// ½ −½ ½; 0 0 1]. For the input gradient the filter is rotated by 180 degrees: tap q becomes
// 8 − q.
std::array<float, kPositions * kTaps> filterTransform(WinogradPass pass) {
    constexpr std::array<std::array<float, 3>, 4> g{
        {{1.0F, 0.0F, 0.0F}, {0.5F, 0.5F, 0.5F}, {0.5F, -0.5F, 0.5F}, {0.0F, 0.0F, 1.0F}}};
    std::array<float, kPositions * kTaps> t{};
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            for (std::size_t a = 0; a < 3; ++a) {
                for (std::size_t b = 0; b < 3; ++b) {
                    std::size_t q = a * 3 + b;
                    if (pass == WinogradPass::InputGradient) {
                        q = 8 - q;
                    }
                    t[(i * 4 + j) * kTaps + q] = g[i][a] * g[j][b];
                }
            }
        }
    }
    return t;
}

// Shapes of one call. Tiles are numbered by global tile row r = sample · th + ty, then tx.
struct Plan {
    std::int64_t cin = 0;   // channels of `in`
    std::int64_t cout = 0;  // channels of `out`
    std::int64_t h = 0;
    std::int64_t w = 0;
    std::int64_t th = 0;  // tile rows per sample: ceil(h / 2)
    std::int64_t tw = 0;  // tiles per tile row: ceil(w / 2)
    std::int64_t rowsPerBlock = 0;

    std::int64_t plane() const { return h * w; }
};

// Per-thread scratch, grown to the largest layer and reused; always fully written before read.
struct Scratch {
    AlignedBuffer v;     // transformed input of a block [16, cin, tiles]
    AlignedBuffer m;     // GEMM output of a block [16, cout, tiles]
    AlignedBuffer rows;  // 4 padded input rows
};

Scratch& threadScratch() {
    thread_local Scratch scratch;
    return scratch;
}

// The weight gradient's super-block buffers, owned by the calling thread (the workers of its
// parallel loops write disjoint parts); grown to the largest layer and reused.
struct WeightGradScratch {
    AlignedBuffer v;                      // transformed x of a super-block [16, inC, tiles]
    AlignedBuffer d;                      // transformed dy of a super-block [16, outC, tiles]
    AlignedBuffer du;                     // ∂L/∂U [16, outC, inC]
    std::vector<AlignedBuffer> partials;  // chunks' partial ∂L/∂U (gradByChunks)
};

WeightGradScratch& weightGradScratch() {
    thread_local WeightGradScratch scratch;
    return scratch;
}

// Floats of transformed x and dy per weight-gradient super-block (8 MiB): its 16 GEMMs sum over
// the block's tiles, so long blocks make efficient GEMMs; the size bounds the scratch.
constexpr std::int64_t kGradBlockFloats = std::int64_t{2} << 20;
// gradByChunks: at most this many chunks, whose partial sums together take at most
// kGradPartialFloats (8 MiB), and blocks of at least kMinGradBlockTiles tiles (the GEMMs sum
// over a block's tiles: 256 made width 16's backward ~3% faster than 128; 512 was slower).
constexpr std::int64_t kMaxGradChunks = 8;
constexpr std::int64_t kGradPartialFloats = std::int64_t{2} << 20;
constexpr std::int64_t kMinGradBlockTiles = 256;

// Copies input row iy of a plane into `row` with one zero of padding on the left and zeros up
// to 2·tw + 2 entries: row[j] = x[iy, j − 1], the padded row (all zeros outside the map).
void padRow(const float* plane, const Plan& p, std::int64_t iy, float* row) {
    const std::int64_t len = 2 * p.tw + 2;
    if (iy < 0 || iy >= p.h) {
        std::fill(row, row + len, 0.0F);
        return;
    }
    row[0] = 0.0F;
    std::copy(plane + iy * p.w, plane + (iy + 1) * p.w, row + 1);
    std::fill(row + 1 + p.w, row + len, 0.0F);
}

#if LP_WINOGRAD_AVX2
// Even and odd entries of the 16 floats [a b]: [a0 a2 a4 a6 b0 b2 b4 b6] and [a1 a3 .. b7].
inline __m256 evens(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

inline __m256 odds(__m256 a, __m256 b) {
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

inline __m256 evens(const float* q) {
    return evens(_mm256_loadu_ps(q), _mm256_loadu_ps(q + 8));
}

inline __m256 odds(const float* q) {
    return odds(_mm256_loadu_ps(q), _mm256_loadu_ps(q + 8));
}
#endif

// v[pos, col0 + tx] (positions posStride apart) = (Bᵀ d B)[pos] for the 4x4 tiles d of tile
// row ty of one plane, with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1] (Lavin & Gray
// eq. 8): d[i, j] = P_i[2·tx + j] from the 4 padded rows P_i. Separable: the rows first (d B),
// then the columns. Eight tiles at a time with AVX2 (same operations, same bits as the scalar
// loop, which takes the remaining tiles).
void transformInputRow(const float* plane,
                       const Plan& p,
                       std::int64_t ty,
                       float* v,
                       std::int64_t posStride,
                       float* buf) {
#if LP_WINOGRAD_AVX2
    if (p.w == 2 * p.tw && p.tw % 8 == 0) {
        // Whole groups of 8 tiles (16, 32, 64 ... wide): read the input rows in place instead of
        // padded copies. q1 = x[2tx], q2 = x[2tx + 1] are the evens and odds of 16 floats;
        // q0 = x[2tx − 1] and q3 = x[2tx + 2] move them one lane up or down, the lane that
        // leaves the group taking its neighbour (or the padding's 0). Same values and operations
        // as the padded path, so the same bits.
        const __m256i up = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
        const __m256i down = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
        for (std::int64_t tx = 0; tx < p.tw; tx += 8) {
            __m256 hb[4][4];
            for (std::size_t r = 0; r < 4; ++r) {
                const std::int64_t iy = 2 * ty - 1 + static_cast<std::int64_t>(r);
                if (iy < 0 || iy >= p.h) {
                    for (__m256& x : hb[r]) {
                        x = _mm256_setzero_ps();
                    }
                    continue;
                }
                const float* q = plane + iy * p.w + 2 * tx;
                const __m256 q1 = evens(q);
                const __m256 q2 = odds(q);
                const float left = tx == 0 ? 0.0F : q[-1];
                const float right = 2 * tx + 16 < p.w ? q[16] : 0.0F;
                const __m256 q0 =
                    _mm256_blend_ps(_mm256_permutevar8x32_ps(q2, up), _mm256_set1_ps(left), 0x01);
                const __m256 q3 = _mm256_blend_ps(
                    _mm256_permutevar8x32_ps(q1, down), _mm256_set1_ps(right), 0x80);
                hb[r][0] = _mm256_sub_ps(q0, q2);
                hb[r][1] = _mm256_add_ps(q1, q2);
                hb[r][2] = _mm256_sub_ps(q2, q1);
                hb[r][3] = _mm256_sub_ps(q1, q3);
            }
            for (std::size_t j = 0; j < 4; ++j) {
                const auto jj = static_cast<std::int64_t>(j);
                _mm256_storeu_ps(v + jj * posStride + tx, _mm256_sub_ps(hb[0][j], hb[2][j]));
                _mm256_storeu_ps(v + (4 + jj) * posStride + tx, _mm256_add_ps(hb[1][j], hb[2][j]));
                _mm256_storeu_ps(v + (8 + jj) * posStride + tx, _mm256_sub_ps(hb[2][j], hb[1][j]));
                _mm256_storeu_ps(v + (12 + jj) * posStride + tx, _mm256_sub_ps(hb[1][j], hb[3][j]));
            }
        }
        return;
    }
#endif
    const std::int64_t len = 2 * p.tw + 2;
    std::array<const float*, 4> rows{};
    for (std::size_t r = 0; r < 4; ++r) {
        float* row = buf + static_cast<std::int64_t>(r) * len;
        padRow(plane, p, 2 * ty - 1 + static_cast<std::int64_t>(r), row);
        rows[r] = row;
    }
    std::int64_t tx = 0;
#if LP_WINOGRAD_AVX2
    for (; tx + 8 <= p.tw; tx += 8) {
        __m256 hb[4][4];  // (d B)[r, j] (std::array drops __m256's alignment attribute)
        for (std::size_t r = 0; r < 4; ++r) {
            const float* q = rows[r] + 2 * tx;
            const __m256 e0 = evens(q);
            const __m256 o0 = odds(q);
            const __m256 e1 = evens(q + 2);
            const __m256 o1 = odds(q + 2);
            hb[r][0] = _mm256_sub_ps(e0, e1);
            hb[r][1] = _mm256_add_ps(o0, e1);
            hb[r][2] = _mm256_sub_ps(e1, o0);
            hb[r][3] = _mm256_sub_ps(o0, o1);
        }
        for (std::size_t j = 0; j < 4; ++j) {
            const auto jj = static_cast<std::int64_t>(j);
            _mm256_storeu_ps(v + jj * posStride + tx, _mm256_sub_ps(hb[0][j], hb[2][j]));
            _mm256_storeu_ps(v + (4 + jj) * posStride + tx, _mm256_add_ps(hb[1][j], hb[2][j]));
            _mm256_storeu_ps(v + (8 + jj) * posStride + tx, _mm256_sub_ps(hb[2][j], hb[1][j]));
            _mm256_storeu_ps(v + (12 + jj) * posStride + tx, _mm256_sub_ps(hb[1][j], hb[3][j]));
        }
    }
#endif
    for (; tx < p.tw; ++tx) {
        std::array<std::array<float, 4>, 4> hb{};
        for (std::size_t r = 0; r < 4; ++r) {
            const float* q = rows[r] + 2 * tx;
            hb[r][0] = q[0] - q[2];
            hb[r][1] = q[1] + q[2];
            hb[r][2] = q[2] - q[1];
            hb[r][3] = q[1] - q[3];
        }
        for (std::size_t j = 0; j < 4; ++j) {
            const auto jj = static_cast<std::int64_t>(j);
            v[jj * posStride + tx] = hb[0][j] - hb[2][j];
            v[(4 + jj) * posStride + tx] = hb[1][j] + hb[2][j];
            v[(8 + jj) * posStride + tx] = hb[2][j] - hb[1][j];
            v[(12 + jj) * posStride + tx] = hb[1][j] - hb[3][j];
        }
    }
}

// Output rows 2ty and 2ty + 1 of one plane from the GEMM outputs m[pos, col0 + tx]: Aᵀ m A
// with Aᵀ = [1 1 1 0; 0 1 −1 −1] (Lavin & Gray eq. 8), interleaved into the map. Eight tiles
// at a time with AVX2 where whole tiles fit (same operations and bits as the scalar loop).
void transformOutputRow(
    const float* m, std::int64_t posStride, const Plan& p, std::int64_t ty, float* plane) {
    float* row0 = plane + 2 * ty * p.w;
    float* row1 = 2 * ty + 1 < p.h ? row0 + p.w : nullptr;  // odd height: no second row
    std::int64_t tx = 0;
#if LP_WINOGRAD_AVX2
    for (; tx + 8 <= p.w / 2; tx += 8) {
        __m256 t[2][4];  // (Aᵀ m)[a, j]
        for (std::size_t j = 0; j < 4; ++j) {
            const auto jj = static_cast<std::int64_t>(j);
            const __m256 m0 = _mm256_loadu_ps(m + jj * posStride + tx);
            const __m256 m1 = _mm256_loadu_ps(m + (4 + jj) * posStride + tx);
            const __m256 m2 = _mm256_loadu_ps(m + (8 + jj) * posStride + tx);
            const __m256 m3 = _mm256_loadu_ps(m + (12 + jj) * posStride + tx);
            t[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
            t[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
        }
        for (std::size_t a = 0; a < 2; ++a) {
            float* row = a == 0 ? row0 : row1;
            if (row == nullptr) {
                break;
            }
            const __m256 y0 = _mm256_add_ps(_mm256_add_ps(t[a][0], t[a][1]), t[a][2]);
            const __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(t[a][1], t[a][2]), t[a][3]);
            const __m256 lo = _mm256_unpacklo_ps(y0, y1);  // y0[0] y1[0] y0[1] y1[1] | [4] [5]
            const __m256 hi = _mm256_unpackhi_ps(y0, y1);  // y0[2] y1[2] y0[3] y1[3] | [6] [7]
            _mm256_storeu_ps(row + 2 * tx, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_storeu_ps(row + 2 * tx + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
    }
#endif
    for (; tx < p.tw; ++tx) {
        std::array<std::array<float, 4>, 2> t{};
        for (std::size_t j = 0; j < 4; ++j) {
            const auto jj = static_cast<std::int64_t>(j);
            const float m0 = m[jj * posStride + tx];
            const float m1 = m[(4 + jj) * posStride + tx];
            const float m2 = m[(8 + jj) * posStride + tx];
            const float m3 = m[(12 + jj) * posStride + tx];
            t[0][j] = m0 + m1 + m2;
            t[1][j] = m1 - m2 - m3;
        }
        for (std::size_t a = 0; a < 2; ++a) {
            float* row = a == 0 ? row0 : row1;
            if (row == nullptr) {
                break;
            }
            row[2 * tx] = t[a][0] + t[a][1] + t[a][2];
            if (2 * tx + 1 < p.w) {  // odd width: the last tile's second column falls outside
                row[2 * tx + 1] = t[a][1] - t[a][2] - t[a][3];
            }
        }
    }
}

#if LP_WINOGRAD_AVX2
// Narrow maps (7 or 8 wide, 3 or 4 wide: ResNet's last two stages, from 32x32 or 28x28 inputs)
// have too few tiles per row for the paths above, so their AVX2 paths put several consecutive
// TILE ROWS side by side in a vector: a row of an 8-wide map is 4 tiles, two tile rows fill the 8
// lanes; a 4-wide row is 2 tiles, four tile rows. An odd width (7, 3) reads its rows with masked
// loads, the column past the map reading as the zero of the padding, and writes with masked
// stores. Lanes [k·tw, (k + 1)·tw) belong to global tile row r + k (of whichever sample), so the
// 8 lanes are 8 consecutive columns of the transformed block: one vector store or load each.
// (Packing channels instead scattered every vector over 2 or 4 places: ~2x slower.) Every lane
// takes exactly the scalar loops' operations in the same order, so the bits are the scalar path's.
constexpr std::int64_t kNarrowLanes = 8;

bool narrowPath(const Plan& p) {
    return p.tw == 4 || p.tw == 2;
}

// Lanes [0, k) set, as a 256-bit and a 128-bit mask.
inline __m256i laneMask8(std::int64_t k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m128i laneMask4(std::int64_t k) {
    return _mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(k)), _mm_setr_epi32(0, 1, 2, 3));
}

// Tile rows per vector.
std::int64_t narrowRows(const Plan& p) {
    return kNarrowLanes / p.tw;
}

// Row iy of tile row r + k's plane (channel c of `t`'s sample) for k < kNarrowLanes / tw, or
// null where iy lies outside the map.
template <std::int64_t W, typename Float>
std::array<Float*, static_cast<std::size_t>(kNarrowLanes / (W / 2))> narrowRowPointers(
    Float* t,
    std::int64_t channels,
    std::int64_t c,
    const Plan& p,
    std::int64_t r,
    std::int64_t rowInTile,
    std::int64_t firstRow) {
    std::array<Float*, static_cast<std::size_t>(kNarrowLanes / (W / 2))> rows{};
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::int64_t tr = r + static_cast<std::int64_t>(k);
        const std::int64_t iy = 2 * (tr % p.th) + firstRow + rowInTile;
        rows[k] =
            iy < 0 || iy >= p.h ? nullptr : t + ((tr / p.th) * channels + c) * p.plane() + iy * p.w;
    }
    return rows;
}

// A row of w <= W floats (zeros past it, and for a null row).
template <std::int64_t W>
inline __m128 load4(const float* q, std::int64_t w) {
    if (q == nullptr) {
        return _mm_setzero_ps();
    }
    return w == W ? _mm_loadu_ps(q) : _mm_maskload_ps(q, laneMask4(w));
}

template <std::int64_t W>
inline __m256 load8(const float* q, std::int64_t w) {
    if (q == nullptr) {
        return _mm256_setzero_ps();
    }
    return w == W ? _mm256_loadu_ps(q) : _mm256_maskload_ps(q, laneMask8(w));
}

// The rows (w floats each) as [row of r | row of r + 1 | ...]: two halves of 8 floats for the
// evens/odds split.
template <std::int64_t W, std::size_t R>
inline void loadNarrowRows(const std::array<const float*, R>& rows,
                           std::int64_t w,
                           __m256& a,
                           __m256& b) {
    if constexpr (W == 8) {
        a = load8<W>(rows[0], w);
        b = load8<W>(rows[1], w);
    } else {
        a = _mm256_set_m128(load4<W>(rows[1], w), load4<W>(rows[0], w));
        b = _mm256_set_m128(load4<W>(rows[3], w), load4<W>(rows[2], w));
    }
}

// Stores the first w <= W floats of a row.
inline void store8(float* q, std::int64_t w, __m256 v) {
    if (w == 8) {
        _mm256_storeu_ps(q, v);
    } else {
        _mm256_maskstore_ps(q, laneMask8(w), v);
    }
}

inline void store4(float* q, std::int64_t w, __m128 v) {
    if (w == 4) {
        _mm_storeu_ps(q, v);
    } else {
        _mm_maskstore_ps(q, laneMask4(w), v);
    }
}

// transformInputRow for the tile rows [r, r + narrowRows) of channel c of `in` at once:
// v[pos·posStride + 0 .. 8) (the block columns of those tile rows).
template <std::int64_t W>
void transformInputNarrow(const float* in,
                          const Plan& p,
                          std::int64_t c,
                          std::int64_t r,
                          float* v,
                          std::int64_t posStride) {
    __m256 hb[4][4];
    for (std::size_t i = 0; i < 4; ++i) {
        __m256 a;
        __m256 b;
        // Rows 2ty − 1 + i; outside the map: zeros, the scalar loop's padding.
        loadNarrowRows<W>(
            narrowRowPointers<W>(in, p.cin, c, p, r, static_cast<std::int64_t>(i), -1), p.w, a, b);
        // Padded row P[j] = x[j − 1]: q1 = P[2tx + 1] = x[2tx] (evens), q2 = x[2tx + 1] (odds),
        // q0 = x[2tx − 1] (odds moved up one lane, 0 at each tile row's first tile), q3 =
        // x[2tx + 2] (evens moved down one lane, 0 after each tile row's last tile).
        const __m256 q1 = evens(a, b);
        const __m256 q2 = odds(a, b);
        __m256 q0;
        __m256 q3;
        if constexpr (W == 8) {  // a tile row per 128-bit half
            q0 = _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(q2), 4));
            q3 = _mm256_castsi256_ps(_mm256_srli_si256(_mm256_castps_si256(q1), 4));
        } else {  // a tile row per 64-bit quarter
            q0 = _mm256_castsi256_ps(_mm256_slli_epi64(_mm256_castps_si256(q2), 32));
            q3 = _mm256_castsi256_ps(_mm256_srli_epi64(_mm256_castps_si256(q1), 32));
        }
        hb[i][0] = _mm256_sub_ps(q0, q2);
        hb[i][1] = _mm256_add_ps(q1, q2);
        hb[i][2] = _mm256_sub_ps(q2, q1);
        hb[i][3] = _mm256_sub_ps(q1, q3);
    }
    for (std::size_t j = 0; j < 4; ++j) {
        const auto jj = static_cast<std::int64_t>(j);
        _mm256_storeu_ps(v + jj * posStride, _mm256_sub_ps(hb[0][j], hb[2][j]));
        _mm256_storeu_ps(v + (4 + jj) * posStride, _mm256_add_ps(hb[1][j], hb[2][j]));
        _mm256_storeu_ps(v + (8 + jj) * posStride, _mm256_sub_ps(hb[2][j], hb[1][j]));
        _mm256_storeu_ps(v + (12 + jj) * posStride, _mm256_sub_ps(hb[1][j], hb[3][j]));
    }
}

// transformOutputRow for the tile rows [r, r + narrowRows) of output channel c at once (m: the
// GEMM outputs at those tile rows' columns).
template <std::int64_t W>
void transformOutputNarrow(const float* m,
                           std::int64_t posStride,
                           const Plan& p,
                           std::int64_t c,
                           std::int64_t r,
                           float* out) {
    __m256 t[2][4];
    for (std::size_t j = 0; j < 4; ++j) {
        const auto jj = static_cast<std::int64_t>(j);
        const __m256 m0 = _mm256_loadu_ps(m + jj * posStride);
        const __m256 m1 = _mm256_loadu_ps(m + (4 + jj) * posStride);
        const __m256 m2 = _mm256_loadu_ps(m + (8 + jj) * posStride);
        const __m256 m3 = _mm256_loadu_ps(m + (12 + jj) * posStride);
        t[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        t[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    for (std::int64_t a = 0; a < 2; ++a) {
        const auto aa = static_cast<std::size_t>(a);
        const __m256 y0 = _mm256_add_ps(_mm256_add_ps(t[aa][0], t[aa][1]), t[aa][2]);
        const __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(t[aa][1], t[aa][2]), t[aa][3]);
        // Interleaved per 128-bit half: y0[i] y1[i] y0[i + 1] y1[i + 1].
        const __m256 lo = _mm256_unpacklo_ps(y0, y1);
        const __m256 hi = _mm256_unpackhi_ps(y0, y1);
        // Output rows 2ty + a of the tile rows (odd height: the last one has none).
        const auto rows = narrowRowPointers<W>(out, p.cout, c, p, r, a, 0);
        if constexpr (W == 8) {  // [r: x0..7 | r + 1: x0..7] after the half swap
            if (rows[0] != nullptr) {
                store8(rows[0], p.w, _mm256_permute2f128_ps(lo, hi, 0x20));
            }
            if (rows[1] != nullptr) {
                store8(rows[1], p.w, _mm256_permute2f128_ps(lo, hi, 0x31));
            }
        } else {  // lo = [r | r + 2], hi = [r + 1 | r + 3], each a whole 4-wide row
            const __m128 parts[4] = {_mm256_castps256_ps128(lo),
                                     _mm256_castps256_ps128(hi),
                                     _mm256_extractf128_ps(lo, 1),
                                     _mm256_extractf128_ps(hi, 1)};
            for (std::size_t k = 0; k < 4; ++k) {
                if (rows[k] != nullptr) {
                    store4(rows[k], p.w, parts[k]);
                }
            }
        }
    }
}
#endif

// The weight gradient's transform of output-gradient tiles: for the 2x2 tile e of dy at tile
// (ty, tx), d[pos, col0 + tx] = (A e Aᵀ)[pos] with A = [1 0; 1 1; 1 −1; 0 −1] (the adjoint of
// the output transform Aᵀ m A). Rows first (A e: e0, e0 + e1, e0 − e1, −e1 of e's rows e0, e1),
// then the same on the columns. Entries outside the map (odd sizes) are zero. Eight tiles at a
// time with AVX2 where whole tiles fit (the same operations and bits as the scalar loop).
void transformGradRow(
    const float* plane, const Plan& p, std::int64_t ty, float* d, std::int64_t posStride) {
    const float* row0 = plane + 2 * ty * p.w;
    const float* row1 = 2 * ty + 1 < p.h ? row0 + p.w : nullptr;  // odd height: zeros
    std::int64_t tx = 0;
#if LP_WINOGRAD_AVX2
    const __m256 sign = _mm256_set1_ps(-0.0F);
    for (; tx + 8 <= p.w / 2; tx += 8) {
        const __m256 a = evens(row0 + 2 * tx);  // e[0][0] of the 8 tiles
        const __m256 b = odds(row0 + 2 * tx);   // e[0][1]
        const __m256 c = row1 != nullptr ? evens(row1 + 2 * tx) : _mm256_setzero_ps();
        const __m256 e = row1 != nullptr ? odds(row1 + 2 * tx) : _mm256_setzero_ps();
        const __m256 f[4][2] = {{a, b},
                                {_mm256_add_ps(a, c), _mm256_add_ps(b, e)},
                                {_mm256_sub_ps(a, c), _mm256_sub_ps(b, e)},
                                {_mm256_xor_ps(c, sign), _mm256_xor_ps(e, sign)}};
        for (std::int64_t i = 0; i < 4; ++i) {
            const __m256 u = f[i][0];
            const __m256 v = f[i][1];
            float* dst = d + 4 * i * posStride + tx;
            _mm256_storeu_ps(dst, u);
            _mm256_storeu_ps(dst + posStride, _mm256_add_ps(u, v));
            _mm256_storeu_ps(dst + 2 * posStride, _mm256_sub_ps(u, v));
            _mm256_storeu_ps(dst + 3 * posStride, _mm256_xor_ps(v, sign));
        }
    }
#endif
    for (; tx < p.tw; ++tx) {
        const bool second = 2 * tx + 1 < p.w;  // odd width: the last tile's column 1 is outside
        const float a = row0[2 * tx];
        const float b = second ? row0[2 * tx + 1] : 0.0F;
        const float c = row1 != nullptr ? row1[2 * tx] : 0.0F;
        const float e = row1 != nullptr && second ? row1[2 * tx + 1] : 0.0F;
        const float f[4][2] = {{a, b}, {a + c, b + e}, {a - c, b - e}, {-c, -e}};
        for (std::int64_t i = 0; i < 4; ++i) {
            const float u = f[i][0];
            const float v = f[i][1];
            float* dst = d + 4 * i * posStride + tx;
            dst[0] = u;
            dst[posStride] = u + v;
            dst[2 * posStride] = u - v;
            dst[3 * posStride] = -v;
        }
    }
}

#if LP_WINOGRAD_AVX2
// transformGradRow for the tile rows [r, r + narrowRows) of channel o of dy at once:
// d[pos·posStride + 0 .. 8). The same operations per lane as the scalar loop, so the same bits.
template <std::int64_t W>
void transformGradNarrow(const float* dy,
                         const Plan& p,
                         std::int64_t o,
                         std::int64_t r,
                         float* d,
                         std::int64_t posStride) {
    __m256 lo;
    __m256 hi;
    loadNarrowRows<W>(narrowRowPointers<W>(dy, p.cout, o, p, r, 0, 0), p.w, lo, hi);
    const __m256 a = evens(lo, hi);  // e[0][0] of each tile
    const __m256 b = odds(lo, hi);   // e[0][1]
    // Row 2ty + 1 (odd height: zeros for the last tile row).
    loadNarrowRows<W>(narrowRowPointers<W>(dy, p.cout, o, p, r, 1, 0), p.w, lo, hi);
    const __m256 c = evens(lo, hi);
    const __m256 e = odds(lo, hi);
    const __m256 sign = _mm256_set1_ps(-0.0F);
    const __m256 f[4][2] = {{a, b},
                            {_mm256_add_ps(a, c), _mm256_add_ps(b, e)},
                            {_mm256_sub_ps(a, c), _mm256_sub_ps(b, e)},
                            {_mm256_xor_ps(c, sign), _mm256_xor_ps(e, sign)}};
    for (std::int64_t i = 0; i < 4; ++i) {
        const __m256 u = f[i][0];
        const __m256 v = f[i][1];
        float* dst = d + 4 * i * posStride;
        _mm256_storeu_ps(dst, u);
        _mm256_storeu_ps(dst + posStride, _mm256_add_ps(u, v));
        _mm256_storeu_ps(dst + 2 * posStride, _mm256_sub_ps(u, v));
        _mm256_storeu_ps(dst + 3 * posStride, _mm256_xor_ps(v, sign));
    }
}
#endif

// Calls narrow(c, r) for runs of narrowRows tile rows [r, r + narrowRows) where a narrow map's
// AVX2 path takes them, and scalar(c, r) for every other tile row, for each channel c < channels
// and the tile rows [r0, r1): the sweep that the three transforms share.
template <typename Narrow, typename Scalar>
void sweepTileRows([[maybe_unused]] const Plan& p,
                   std::int64_t channels,
                   std::int64_t r0,
                   std::int64_t r1,
                   const Narrow& narrow,
                   const Scalar& scalar) {
    for (std::int64_t c = 0; c < channels; ++c) {
        std::int64_t r = r0;
#if LP_WINOGRAD_AVX2
        if (narrowPath(p)) {
            for (; r + narrowRows(p) <= r1; r += narrowRows(p)) {
                narrow(c, r);
            }
        }
#else
        (void)narrow;
#endif
        for (; r < r1; ++r) {
            scalar(c, r);
        }
    }
}

// Transformed output-gradient tiles of the global tile rows [r0, r1) of dy [n, cout, h, w] into
// d [16, cout, nb] at columns (r − rBase)·tw + tx.
void transformGradRows(const Plan& p,
                       const float* dy,
                       std::int64_t r0,
                       std::int64_t r1,
                       std::int64_t rBase,
                       float* d,
                       std::int64_t nb) {
    const std::int64_t dStride = p.cout * nb;  // between transform positions
    sweepTileRows(
        p,
        p.cout,
        r0,
        r1,
        [&]([[maybe_unused]] std::int64_t o, [[maybe_unused]] std::int64_t r) {
#if LP_WINOGRAD_AVX2
            float* dst = d + o * nb + (r - rBase) * p.tw;
            if (p.tw == 4) {
                transformGradNarrow<8>(dy, p, o, r, dst, dStride);
            } else {
                transformGradNarrow<4>(dy, p, o, r, dst, dStride);
            }
#endif
        },
        [&](std::int64_t o, std::int64_t r) {
            const float* plane = dy + ((r / p.th) * p.cout + o) * p.plane();
            transformGradRow(plane, p, r % p.th, d + o * nb + (r - rBase) * p.tw, dStride);
        });
}

// Transformed input tiles of the global tile rows [r0, r1) of `in` [n, cin, h, w] into v
// [16, cin, nb] at columns (r − rBase)·tw + tx (buf: 4 padded rows of scratch).
void transformInputRows(const Plan& p,
                        const float* in,
                        std::int64_t r0,
                        std::int64_t r1,
                        std::int64_t rBase,
                        float* v,
                        std::int64_t nb,
                        float* buf) {
    const std::int64_t vStride = p.cin * nb;  // between transform positions
    sweepTileRows(
        p,
        p.cin,
        r0,
        r1,
        [&]([[maybe_unused]] std::int64_t c, [[maybe_unused]] std::int64_t r) {
#if LP_WINOGRAD_AVX2
            float* dst = v + c * nb + (r - rBase) * p.tw;
            if (p.tw == 4) {
                transformInputNarrow<8>(in, p, c, r, dst, vStride);
            } else {
                transformInputNarrow<4>(in, p, c, r, dst, vStride);
            }
#endif
        },
        [&](std::int64_t c, std::int64_t r) {
            const float* plane = in + ((r / p.th) * p.cin + c) * p.plane();
            transformInputRow(plane, p, r % p.th, v + c * nb + (r - rBase) * p.tw, vStride, buf);
        });
}

// One tile block: global tile rows [r0, r1).
void runBlock(WinogradPass pass,
              const float* u,
              const Plan& p,
              const float* in,
              float* out,
              std::int64_t r0,
              std::int64_t r1,
              Scratch& s) {
    const std::int64_t nb = (r1 - r0) * p.tw;  // tiles in the block
    float* v = s.v.growTo(kPositions * p.cin * nb);
    float* m = s.m.growTo(kPositions * p.cout * nb);
    float* buf = s.rows.growTo(4 * (2 * p.tw + 2));
    const std::int64_t vStride = p.cin * nb;  // between transform positions
    const std::int64_t mStride = p.cout * nb;
    transformInputRows(p, in, r0, r1, r0, v, nb, buf);
    // M[pos] [cout, nb] = U[pos] · V[pos]: U[pos] is [out, in] of the convolution's weights,
    // i.e. [cout, cin] for the forward and [cin, cout] (used transposed) for the input gradient.
    // (U transposed once per call for row-major operands measured no faster.)
    const std::int64_t uStride = p.cin * p.cout;
    const bool fwd = pass == WinogradPass::Forward;
    for (std::int64_t pos = 0; pos < kPositions; ++pos) {
        gemm(fwd ? Trans::No : Trans::Yes,
             Trans::No,
             p.cout,
             nb,
             p.cin,
             1.0F,
             u + pos * uStride,
             fwd ? p.cin : p.cout,
             v + pos * vStride,
             nb,
             0.0F,
             m + pos * mStride,
             nb);
    }
    sweepTileRows(
        p,
        p.cout,
        r0,
        r1,
        [&]([[maybe_unused]] std::int64_t c, [[maybe_unused]] std::int64_t r) {
#if LP_WINOGRAD_AVX2
            const float* src = m + c * nb + (r - r0) * p.tw;
            if (p.tw == 4) {
                transformOutputNarrow<8>(src, mStride, p, c, r, out);
            } else {
                transformOutputNarrow<4>(src, mStride, p, c, r, out);
            }
#endif
        },
        [&](std::int64_t c, std::int64_t r) {
            float* plane = out + ((r / p.th) * p.cout + c) * p.plane();
            transformOutputRow(m + c * nb + (r - r0) * p.tw, mStride, p, r % p.th, plane);
        });
}

// ∂L/∂U [16, outC, inC] by fixed chunks of tile rows (shapes only), each summing its L2-sized
// blocks (transform, then 16 GEMMs into the chunk's own partial ∂L/∂U) while the data is hot;
// the partials are then added in chunk order, so the bits do not depend on the thread count.
// For few channels, whose partials are small; false (nothing done) where they would not fit
// kGradPartialFloats.
bool gradByChunks(const Plan& p,
                  std::int64_t n,
                  const float* x,
                  const float* dy,
                  float* du,
                  WeightGradScratch& ws) {
    const std::int64_t tileRows = n * p.th;
    const std::int64_t partial = kPositions * p.cout * p.cin;
    std::int64_t chunks = std::min({kMaxGradChunks, kGradPartialFloats / partial, tileRows});
    if (chunks < 2) {
        return false;
    }
    const std::int64_t rowsPerChunk = (tileRows + chunks - 1) / chunks;
    chunks = (tileRows + rowsPerChunk - 1) / rowsPerChunk;
    const std::int64_t perTile = kPositions * (p.cin + p.cout);
    const std::int64_t wantTiles = std::max(kBlockFloats / perTile, kMinGradBlockTiles);
    const std::int64_t blockRows = std::clamp<std::int64_t>(wantTiles / p.tw, 1, rowsPerChunk);
    if (static_cast<std::int64_t>(ws.partials.size()) < chunks - 1) {
        ws.partials.resize(static_cast<std::size_t>(chunks - 1));
    }
    parallelFor(0, chunks, 1, [&](std::int64_t k0, std::int64_t k1) {
        Scratch& s = threadScratch();
        for (std::int64_t k = k0; k < k1; ++k) {
            float* acc = k == 0 ? du : ws.partials[static_cast<std::size_t>(k - 1)].growTo(partial);
            const std::int64_t c0 = k * rowsPerChunk;
            const std::int64_t c1 = std::min(tileRows, c0 + rowsPerChunk);
            for (std::int64_t r0 = c0; r0 < c1; r0 += blockRows) {
                const std::int64_t r1 = std::min(c1, r0 + blockRows);
                const std::int64_t nb = (r1 - r0) * p.tw;
                float* v = s.v.growTo(kPositions * p.cin * nb);
                float* d = s.m.growTo(kPositions * p.cout * nb);
                float* buf = s.rows.growTo(4 * (2 * p.tw + 2));
                transformInputRows(p, x, r0, r1, r0, v, nb, buf);
                transformGradRows(p, dy, r0, r1, r0, d, nb);
                for (std::int64_t pos = 0; pos < kPositions; ++pos) {
                    gemm(Trans::No,
                         Trans::Yes,
                         p.cout,
                         p.cin,
                         nb,
                         1.0F,
                         d + pos * p.cout * nb,
                         nb,
                         v + pos * p.cin * nb,
                         nb,
                         r0 == c0 ? 0.0F : 1.0F,
                         acc + pos * p.cout * p.cin,
                         p.cin);
                }
            }
        }
    });
    VecMap total(du, partial);
    for (std::int64_t k = 1; k < chunks; ++k) {
        total += ConstVecMap(ws.partials[static_cast<std::size_t>(k - 1)].data(), partial);
    }
    return true;
}

// ∂L/∂U [16, outC, inC] for many channels: super-blocks of tile rows are transformed in
// parallel, then each position's GEMM is one task, super-blocks in order.
void gradByPositions(const Plan& p,
                     std::int64_t n,
                     const float* x,
                     const float* dy,
                     float* du,
                     WeightGradScratch& s) {
    const std::int64_t inC = p.cin;
    const std::int64_t outC = p.cout;
    const std::int64_t tileRows = n * p.th;
    // Super-blocks of whole tile rows (shapes only): the transformed x [16, inC, tiles] and dy
    // [16, outC, tiles] of one take about kGradBlockFloats, but at least one tile row.
    const std::int64_t perRow = kPositions * (inC + outC) * p.tw;
    const std::int64_t rowsPerBlock =
        std::clamp<std::int64_t>(kGradBlockFloats / perRow, 1, tileRows);
    const std::int64_t maxTiles = rowsPerBlock * p.tw;

    float* v = s.v.growTo(kPositions * inC * maxTiles);
    float* d = s.d.growTo(kPositions * outC * maxTiles);
    for (std::int64_t r0 = 0; r0 < tileRows; r0 += rowsPerBlock) {
        const std::int64_t r1 = std::min(tileRows, r0 + rowsPerBlock);
        const std::int64_t nb = (r1 - r0) * p.tw;
        // Transforms: tile rows are independent (disjoint columns of v and d).
        parallelFor(r0, r1, 1, [&](std::int64_t a, std::int64_t b) {
            float* buf = threadScratch().rows.growTo(4 * (2 * p.tw + 2));
            transformInputRows(p, x, a, b, r0, v, nb, buf);
            transformGradRows(p, dy, a, b, r0, d, nb);
        });
        // ∂L/∂U[pos] [outC, inC] (+)= D[pos] [outC, nb] · V[pos]ᵀ [nb, inC]: one task per
        // position, super-blocks in order, so the sums do not depend on the thread count.
        const float beta = r0 == 0 ? 0.0F : 1.0F;
        parallelFor(0, kPositions, 1, [&](std::int64_t a, std::int64_t b) {
            for (std::int64_t pos = a; pos < b; ++pos) {
                gemm(Trans::No,
                     Trans::Yes,
                     outC,
                     inC,
                     nb,
                     1.0F,
                     d + pos * outC * nb,
                     nb,
                     v + pos * inC * nb,
                     nb,
                     beta,
                     du + pos * outC * inC,
                     inC);
            }
        });
    }
}

}  // namespace

void winogradConv3x3(WinogradPass pass,
                     const float* weights,
                     std::int64_t outC,
                     std::int64_t inC,
                     const float* in,
                     std::int64_t n,
                     std::int64_t h,
                     std::int64_t w,
                     float* out) {
    expectConv3x3Sizes("winogradConv3x3", outC, inC, n, h, w);
    const bool fwd = pass == WinogradPass::Forward;
    Plan p{.cin = fwd ? inC : outC,
           .cout = fwd ? outC : inC,
           .h = h,
           .w = w,
           .th = (h + 1) / 2,
           .tw = (w + 1) / 2,
           .rowsPerBlock = 0};

    // Transformed filters U [16, outC·inC] = T [16, 9] · Wᵀ [9, outC·inC]: position-major, so
    // that U[pos] is the [outC, inC] matrix of one GEMM. One GEMM on the calling thread.
    const std::array<float, kPositions* kTaps> t = filterTransform(pass);
    Tensor u = Tensor::uninitialized(TensorShape{kPositions, outC * inC});
    gemm(Trans::No,
         Trans::Yes,
         kPositions,
         outC * inC,
         kTaps,
         1.0F,
         t.data(),
         kTaps,
         weights,
         kTaps,
         0.0F,
         u.data(),
         outC * inC);

    // Fixed blocks of whole tile rows (shapes only): about kBlockFloats of scratch, at least
    // kMinBlockTiles tiles, and an even block count (two threads share it evenly).
    const std::int64_t tileRows = n * p.th;
    const std::int64_t perTile = kPositions * (p.cin + p.cout);
    const std::int64_t wantTiles = std::max(kBlockFloats / perTile, kMinBlockTiles);
    const std::int64_t wantRows = std::max<std::int64_t>(1, wantTiles / p.tw);
    std::int64_t blocks = (tileRows + wantRows - 1) / wantRows;
    if (blocks % 2 == 1 && blocks < tileRows) {
        ++blocks;
    }
    p.rowsPerBlock = (tileRows + blocks - 1) / blocks;
    blocks = (tileRows + p.rowsPerBlock - 1) / p.rowsPerBlock;

    parallelFor(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
        Scratch& s = threadScratch();
        for (std::int64_t b = b0; b < b1; ++b) {
            const std::int64_t r0 = b * p.rowsPerBlock;
            runBlock(pass, u.data(), p, in, out, r0, std::min(tileRows, r0 + p.rowsPerBlock), s);
        }
    });
}

void winogradWeightGradient(const float* x,
                            const float* dy,
                            std::int64_t outC,
                            std::int64_t inC,
                            std::int64_t n,
                            std::int64_t h,
                            std::int64_t w,
                            float* gradWeights) {
    expectConv3x3Sizes("winogradWeightGradient", outC, inC, n, h, w);
    const Plan p{.cin = inC,
                 .cout = outC,
                 .h = h,
                 .w = w,
                 .th = (h + 1) / 2,
                 .tw = (w + 1) / 2,
                 .rowsPerBlock = 0};
    WeightGradScratch& s = weightGradScratch();
    float* du = s.du.growTo(kPositions * outC * inC);  // ∂L/∂U, [16, outC, inC]
    if (!gradByChunks(p, n, x, dy, du, s)) {
        gradByPositions(p, n, x, dy, du, s);
    }
    // U = T·g for every filter g, so ∂L/∂g = Tᵀ·∂L/∂U: gradWeights [outC·inC, 9] +=
    // (∂L/∂U)ᵀ [outC·inC, 16] · T [16, 9].
    const std::array<float, kPositions* kTaps> t = filterTransform(WinogradPass::Forward);
    gemm(Trans::Yes,
         Trans::No,
         outC * inC,
         kTaps,
         kPositions,
         1.0F,
         du,
         outC * inC,
         t.data(),
         kTaps,
         1.0F,
         gradWeights,
         kTaps);
}

}  // namespace lp::core::nn
