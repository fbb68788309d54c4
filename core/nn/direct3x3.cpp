// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/direct3x3.hpp"

#include "core/error.hpp"
#include "core/nn/conv3x3_shape.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/simd.hpp"
#include "core/tensor/tensor.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace lp::core::nn {

bool directConv3x3Available() {
    return kernelsHaveAvx2();
}

void rotatedTransposed(const float* weights, std::int64_t outC, std::int64_t inC, float* dst) {
    for (std::int64_t o = 0; o < outC; ++o) {
        for (std::int64_t i = 0; i < inC; ++i) {
            const float* src = weights + (o * inC + i) * 9;
            float* d = dst + (i * outC + o) * 9;
            for (std::int64_t t = 0; t < 9; ++t) {
                d[t] = src[8 - t];  // (ky, kx) -> (2 − ky, 2 − kx)
            }
        }
    }
}

// The kernels exist for the AVX2 and AVX-512 paths (core/tensor/simd.hpp: compiled between
// target pragmas); the baseline path takes im2col. The AVX-512 path keeps the AVX2 driver and
// transposes and replaces the register tiles where the output channels fill whole 16-lane
// vectors: 12 flat outputs x 16 channels, one zmm accumulator each (the AVX2 tile: 6 x 2 ymm).
// Every output value is the same sequence of FMAs (over channels and taps, or over the flat
// outputs) in both tiles, so the two paths give the same bits. Measured (layerpipe bench, 2
// threads, width 16, batch 128, one 16-channel layer at 32x32, Zen 5 with AVX-512): forward
// 4.5 -> 3.3 ms, backward 7.8 -> 5.5 ms against the AVX2 tiles.
#if LP_SIMD_X86
#include "core/tensor/simd_avx512_begin.inc"

namespace isa_avx512 {

constexpr std::int64_t kPixels = 12;    // flat outputs per register tile
constexpr std::int64_t kChannels = 16;  // output channels per register tile (1 vector)
constexpr std::int64_t kPairs = 12;     // (channel, tap) pairs per weight-gradient tile

// The AVX2 tile's sum for flat outputs [j, j + kPixels) x output channels [o0, o0 + 16):
// t[(j + p)·outPad + o] = Σ_c,ky,kx packed[(c·9 + ky·3 + kx)·outPad + o] ·
// padded[c·plane + j + p + ky·row + kx] (packed and t already offset by o0).
void tile(const float* packed,
          std::int64_t outPad,
          std::int64_t inC,
          const float* padded,
          std::int64_t plane,
          std::int64_t row,
          std::int64_t j,
          float* t) {
    __m512 acc[kPixels];
#pragma GCC unroll 12
    for (__m512& a : acc) {
        a = _mm512_setzero_ps();
    }
    const std::int64_t offsets[9] = {
        0, 1, 2, row, row + 1, row + 2, 2 * row, 2 * row + 1, 2 * row + 2};
    for (std::int64_t c = 0; c < inC; ++c) {
        const float* base = padded + c * plane + j;
        const float* wc = packed + c * 9 * outPad;
#pragma GCC unroll 1
        for (std::int64_t tap = 0; tap < 9; ++tap) {
            const float* src = base + offsets[tap];
            const __m512 wv = _mm512_loadu_ps(wc + tap * outPad);
#pragma GCC unroll 12
            for (std::int64_t p = 0; p < kPixels; ++p) {
                acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(src[p]), wv, acc[p]);
            }
        }
    }
#pragma GCC unroll 12
    for (std::int64_t p = 0; p < kPixels; ++p) {
        _mm512_storeu_ps(t + (j + p) * outPad, acc[p]);
    }
}

// The AVX2 weight-gradient tile's sum for pairs [k0, k0 + K) x output channels [o0, o0 + 16):
// partial[(k0 + k)·outPad + o0 + o] += Σ_j padded[c_k·plane + j + off_k] · dyT[j·outPad + o0 + o].
template <std::int64_t K>
void gradTile(const float* padded,
              std::int64_t plane,
              std::int64_t row,
              const float* dyT,
              std::int64_t outPad,
              std::int64_t flatLen,
              std::int64_t k0,
              std::int64_t o0,
              float* partial) {
    const float* base[static_cast<std::size_t>(K)];
    __m512 acc[static_cast<std::size_t>(K)];
#pragma GCC unroll 12
    for (std::int64_t k = 0; k < K; ++k) {
        const std::int64_t pair = k0 + k;
        const std::int64_t tap = pair % 9;
        base[k] = padded + (pair / 9) * plane + (tap / 3) * row + tap % 3;
        acc[k] = _mm512_loadu_ps(partial + pair * outPad + o0);
    }
#pragma GCC unroll 1
    for (std::int64_t j = 0; j < flatLen; ++j) {
        const __m512 dv = _mm512_loadu_ps(dyT + j * outPad + o0);
#pragma GCC unroll 12
        for (std::int64_t k = 0; k < K; ++k) {
            acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(base[k][j]), dv, acc[k]);
        }
    }
#pragma GCC unroll 12
    for (std::int64_t k = 0; k < K; ++k) {
        _mm512_storeu_ps(partial + (k0 + k) * outPad + o0, acc[k]);
    }
}

}  // namespace isa_avx512

#include "core/tensor/simd_end.inc"
// The AVX2 path, whose driver the AVX-512 path shares (the tiles above are its only difference).
#include "core/tensor/simd_avx2_begin.inc"

namespace isa_avx2 {

namespace {

constexpr std::size_t kPixels = 6;      // flat outputs per register tile
constexpr std::int64_t kChannels = 16;  // output channels per register tile (2 vectors)
constexpr std::int64_t kTail = 64;      // zeros after the last padded plane

struct Scratch {
    AlignedBuffer padded;  // [inC] padded planes of (h + 2)·(w + 2), then kTail zeros
    AlignedBuffer packed;  // weights [inC, 9, outPad]: 8 output channels to a vector (caller's)
    AlignedBuffer tiles;   // outputs [flat, outPad], pixel-major; the weight gradient's dy
};

// Chunks of samples of the weight gradient (fixed by the batch size), each with its own partial
// sum; at most this many.
constexpr std::int64_t kMaxGradChunks = 8;

Scratch& threadScratch() {
    thread_local Scratch scratch;
    return scratch;
}

// Register tile: flat outputs [j, j + kPixels) x output channels [o0, o0 + 8·V):
// t[(j + p)·outPad + o] = Σ_c,ky,kx packed[(c·9 + ky·3 + kx)·outPad + o] ·
// padded[c·plane + j + p + ky·row + kx]. Input values are broadcast, weights loaded as vectors.
template <std::size_t V>
void tile(const float* packed,
          std::int64_t outPad,
          std::int64_t inC,
          const float* padded,
          std::int64_t plane,
          std::int64_t row,
          std::int64_t j,
          float* t) {
    __m256 acc[kPixels][V];
#pragma GCC unroll 8
    for (auto& a : acc) {
#pragma GCC unroll 2
        for (__m256& v : a) {
            v = _mm256_setzero_ps();
        }
    }
    // Offsets of the 9 taps in the padded plane, and a plain loop over (channel, tap): unrolling
    // the taps made GCC spill accumulators and reload the weight vectors for every FMA.
    const std::int64_t offsets[9] = {
        0, 1, 2, row, row + 1, row + 2, 2 * row, 2 * row + 1, 2 * row + 2};
    for (std::int64_t c = 0; c < inC; ++c) {
        const float* base = padded + c * plane + j;
        const float* wc = packed + c * 9 * outPad;
#pragma GCC unroll 1
        for (std::int64_t tap = 0; tap < 9; ++tap) {
            const float* src = base + offsets[tap];
            const float* wt = wc + tap * outPad;
            __m256 wv[V];
#pragma GCC unroll 2
            for (std::size_t k = 0; k < V; ++k) {
                wv[k] = _mm256_load_ps(wt + 8 * static_cast<std::int64_t>(k));
            }
#pragma GCC unroll 8
            for (std::size_t p = 0; p < kPixels; ++p) {
                const __m256 xv = _mm256_broadcast_ss(src + static_cast<std::int64_t>(p));
#pragma GCC unroll 2
                for (std::size_t k = 0; k < V; ++k) {
                    acc[p][k] = _mm256_fmadd_ps(xv, wv[k], acc[p][k]);
                }
            }
        }
    }
#pragma GCC unroll 8
    for (std::size_t p = 0; p < kPixels; ++p) {
#pragma GCC unroll 2
        for (std::size_t k = 0; k < V; ++k) {
            _mm256_store_ps(
                t + (j + static_cast<std::int64_t>(p)) * outPad + 8 * static_cast<std::int64_t>(k),
                acc[p][k]);
        }
    }
}

// dst[k·dStride + i] = src[i·sStride + k] for an 8x8 block (i, k < 8).
inline void transpose8x8(const float* src, std::int64_t sStride, float* dst, std::int64_t dStride) {
    __m256 r[8];
    for (std::int64_t i = 0; i < 8; ++i) {
        r[i] = _mm256_loadu_ps(src + i * sStride);
    }
    // Pairs, then quads within 128-bit halves, then the halves.
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
    const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
    const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
    const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
    const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + dStride, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * dStride, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * dStride, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * dStride, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * dStride, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * dStride, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * dStride, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// Moves one sample between its NCHW planes (index (o·h + y)·w + x) and a pixel-major flat buffer
// (index (y·row + x)·ld + o), towards the planes if ToPlanes, for o < channels, y < h, x < w:
// 8 pixels x 8 channels at a time through an 8x8 transpose (scattered scalar stores, a plane
// apart, had cost as much as the convolution).
template <bool ToPlanes>
void relayout(const float* src,
              float* dst,
              std::int64_t channels,
              std::int64_t h,
              std::int64_t w,
              std::int64_t row,
              std::int64_t ld) {
    const std::int64_t planeStride = h * w;
    const auto planeAt = [&](std::int64_t o, std::int64_t y, std::int64_t x) {
        return (o * h + y) * w + x;
    };
    const auto flatAt = [&](std::int64_t o, std::int64_t y, std::int64_t x) {
        return (y * row + x) * ld + o;
    };
    const auto copyOne = [&](std::int64_t o, std::int64_t y, std::int64_t x) {
        if constexpr (ToPlanes) {
            dst[planeAt(o, y, x)] = src[flatAt(o, y, x)];
        } else {
            dst[flatAt(o, y, x)] = src[planeAt(o, y, x)];
        }
    };
    for (std::int64_t y = 0; y < h; ++y) {
        std::int64_t x = 0;
        for (; x + 8 <= w; x += 8) {
            std::int64_t o = 0;
            for (; o + 8 <= channels; o += 8) {
                if constexpr (ToPlanes) {
                    transpose8x8(src + flatAt(o, y, x), ld, dst + planeAt(o, y, x), planeStride);
                } else {
                    transpose8x8(src + planeAt(o, y, x), planeStride, dst + flatAt(o, y, x), ld);
                }
            }
            for (; o < channels; ++o) {
                for (std::int64_t k = 0; k < 8; ++k) {
                    copyOne(o, y, x + k);
                }
            }
        }
        for (; x < w; ++x) {
            for (std::int64_t o = 0; o < channels; ++o) {
                copyOne(o, y, x);
            }
        }
    }
}

// Fills `padded` with the zero-padded planes of sample `smp` of x [n, inC, h, w] and kTail zeros.
void padPlanes(const float* x, std::int64_t smp, const Conv3x3Shape& shape, float* padded) {
    const std::int64_t h = shape.h;
    const std::int64_t w = shape.w;
    const std::int64_t row = w + 2;
    const std::int64_t plane = (h + 2) * row;
    const float* sample = x + smp * shape.inC * h * w;
    std::fill(padded, padded + shape.inC * plane + kTail, 0.0F);
    for (std::int64_t c = 0; c < shape.inC; ++c) {
        for (std::int64_t y = 0; y < h; ++y) {
            std::copy_n(sample + (c * h + y) * w, w, padded + c * plane + (y + 1) * row + 1);
        }
    }
}

// The weight gradient's register tile: pairs (c, tap) [k0, k0 + K) x output channels
// [o0, o0 + 8·V): acc[k][v] += padded[c_k·plane + j + off_k] · dyT[j·outPad + o0 + 8v] over the
// flat outputs j < flatLen (dyT is zero at the discarded columns), added to
// partial[(k0 + k)·outPad + o0 + 8v].
template <std::size_t K, std::size_t V>
void gradTile(const float* padded,
              std::int64_t plane,
              std::int64_t row,
              const float* dyT,
              std::int64_t outPad,
              std::int64_t flatLen,
              std::int64_t k0,
              std::int64_t o0,
              float* partial) {
    const float* base[K];
    for (std::size_t k = 0; k < K; ++k) {
        const std::int64_t pair = k0 + static_cast<std::int64_t>(k);
        const std::int64_t tap = pair % 9;
        base[k] = padded + (pair / 9) * plane + (tap / 3) * row + tap % 3;
    }
    __m256 acc[K][V];
#pragma GCC unroll 8
    for (std::size_t k = 0; k < K; ++k) {
#pragma GCC unroll 2
        for (std::size_t v = 0; v < V; ++v) {
            acc[k][v] = _mm256_load_ps(partial + (k0 + static_cast<std::int64_t>(k)) * outPad + o0 +
                                       8 * static_cast<std::int64_t>(v));
        }
    }
#pragma GCC unroll 1
    for (std::int64_t j = 0; j < flatLen; ++j) {
        __m256 dv[V];
#pragma GCC unroll 2
        for (std::size_t v = 0; v < V; ++v) {
            dv[v] = _mm256_load_ps(dyT + j * outPad + o0 + 8 * static_cast<std::int64_t>(v));
        }
#pragma GCC unroll 8
        for (std::size_t k = 0; k < K; ++k) {
            const __m256 xv = _mm256_broadcast_ss(base[k] + j);
#pragma GCC unroll 2
            for (std::size_t v = 0; v < V; ++v) {
                acc[k][v] = _mm256_fmadd_ps(xv, dv[v], acc[k][v]);
            }
        }
    }
#pragma GCC unroll 8
    for (std::size_t k = 0; k < K; ++k) {
#pragma GCC unroll 2
        for (std::size_t v = 0; v < V; ++v) {
            _mm256_store_ps(partial + (k0 + static_cast<std::int64_t>(k)) * outPad + o0 +
                                8 * static_cast<std::int64_t>(v),
                            acc[k][v]);
        }
    }
}

}  // namespace

// avx512: the path has AVX-512 (its tiles take output channels in groups of 16).
void directConv(
    const float* weights, const float* in, const Conv3x3Shape& shape, float* out, bool avx512) {
    const std::int64_t row = shape.w + 2;
    const std::int64_t plane = (shape.h + 2) * row;
    const std::int64_t flatLen = shape.h * row;  // flat outputs, 2 discarded per row
    const std::int64_t outPad = (shape.outC + 7) / 8 * 8;
    const bool wide = avx512 && outPad % isa_avx512::kChannels == 0;
    const std::int64_t pixels = wide ? isa_avx512::kPixels : static_cast<std::int64_t>(kPixels);
    const std::int64_t flatPad = (flatLen + pixels - 1) / pixels * pixels;
    // packed[(c·9 + tap)·outPad + o] = weights[o, c, tap], zeros for o >= outC: once per call,
    // on the calling thread's scratch (packing in every task of the loop below measured 0.1 to
    // 0.4 ms more per 16-channel layer at 32x32, batch 128).
    float* packed = threadScratch().packed.growTo(shape.inC * 9 * outPad);
    std::fill(packed, packed + shape.inC * 9 * outPad, 0.0F);
    for (std::int64_t o = 0; o < shape.outC; ++o) {
        for (std::int64_t c = 0; c < shape.inC; ++c) {
            for (std::int64_t tap = 0; tap < 9; ++tap) {
                packed[(c * 9 + tap) * outPad + o] = weights[(o * shape.inC + c) * 9 + tap];
            }
        }
    }
    parallelFor(0, shape.n, 1, [&](std::int64_t s0, std::int64_t s1) {
        Scratch& s = threadScratch();
        float* padded = s.padded.growTo(shape.inC * plane + kTail);
        float* t = s.tiles.growTo(flatPad * outPad);
        for (std::int64_t smp = s0; smp < s1; ++smp) {
            // Reads of the last tiles run up to kTail past the last plane: zeros there. (They
            // only feed discarded outputs; valid outputs read inside their own plane.)
            padPlanes(in, smp, shape, padded);
            for (std::int64_t o0 = 0; o0 < outPad; o0 += kChannels) {
                const bool two = outPad - o0 >= kChannels;
                for (std::int64_t j = 0; j < flatPad; j += pixels) {
                    if (wide) {
                        isa_avx512::tile(
                            packed + o0, outPad, shape.inC, padded, plane, row, j, t + o0);
                    } else if (two) {
                        tile<2>(packed + o0, outPad, shape.inC, padded, plane, row, j, t + o0);
                    } else {
                        tile<1>(packed + o0, outPad, shape.inC, padded, plane, row, j, t + o0);
                    }
                }
            }
            // Pixel-major tiles back to the NCHW planes, dropping the two padding columns.
            relayout<true>(t,
                           out + smp * shape.outC * shape.h * shape.w,
                           shape.outC,
                           shape.h,
                           shape.w,
                           row,
                           outPad);
        }
    });
}

// avx512: as in directConv.
void directGrad(
    const float* x, const float* dy, const Conv3x3Shape& shape, float* gradWeights, bool avx512) {
    const std::int64_t row = shape.w + 2;
    const std::int64_t plane = (shape.h + 2) * row;
    const std::int64_t flatLen = shape.h * row;
    const std::int64_t outPad = (shape.outC + 7) / 8 * 8;
    const bool wide = avx512 && outPad % isa_avx512::kChannels == 0;
    const std::int64_t pairs = shape.inC * 9;  // (channel, tap), the rows of the result
    const std::int64_t perChunk = (shape.n + kMaxGradChunks - 1) / kMaxGradChunks;
    const std::int64_t chunks = (shape.n + perChunk - 1) / perChunk;
    std::vector<AlignedBuffer> partials(static_cast<std::size_t>(chunks));
    parallelFor(0, chunks, 1, [&](std::int64_t k0, std::int64_t k1) {
        Scratch& s = threadScratch();
        float* padded = s.padded.growTo(shape.inC * plane + kTail);
        float* dyT = s.tiles.growTo(flatLen * outPad);
        for (std::int64_t k = k0; k < k1; ++k) {
            AlignedBuffer& part = partials[static_cast<std::size_t>(k)];
            part = AlignedBuffer(static_cast<std::size_t>(pairs * outPad));  // zeros
            for (std::int64_t smp = k * perChunk; smp < std::min(shape.n, (k + 1) * perChunk);
                 ++smp) {
                padPlanes(x, smp, shape, padded);
                // dy pixel-major at the flat indices, zeros in the discarded columns.
                std::fill(dyT, dyT + flatLen * outPad, 0.0F);
                relayout<false>(dy + smp * shape.outC * shape.h * shape.w,
                                dyT,
                                shape.outC,
                                shape.h,
                                shape.w,
                                row,
                                outPad);
                for (std::int64_t o0 = 0; wide && o0 < outPad; o0 += kChannels) {
                    std::int64_t p0 = 0;
                    for (; p0 + isa_avx512::kPairs <= pairs; p0 += isa_avx512::kPairs) {
                        isa_avx512::gradTile<isa_avx512::kPairs>(
                            padded, plane, row, dyT, outPad, flatLen, p0, o0, part.data());
                    }
                    for (; p0 < pairs; ++p0) {
                        isa_avx512::gradTile<1>(
                            padded, plane, row, dyT, outPad, flatLen, p0, o0, part.data());
                    }
                }
                for (std::int64_t o0 = 0; !wide && o0 < outPad; o0 += kChannels) {
                    const bool two = outPad - o0 >= kChannels;
                    std::int64_t p0 = 0;
                    for (; p0 + 6 <= pairs; p0 += 6) {
                        if (two) {
                            gradTile<6, 2>(
                                padded, plane, row, dyT, outPad, flatLen, p0, o0, part.data());
                        } else {
                            gradTile<6, 1>(
                                padded, plane, row, dyT, outPad, flatLen, p0, o0, part.data());
                        }
                    }
                    for (; p0 < pairs; ++p0) {
                        if (two) {
                            gradTile<1, 2>(
                                padded, plane, row, dyT, outPad, flatLen, p0, o0, part.data());
                        } else {
                            gradTile<1, 1>(
                                padded, plane, row, dyT, outPad, flatLen, p0, o0, part.data());
                        }
                    }
                }
            }
        }
    });
    // Partial sums in chunk order: the bits do not depend on which thread ran which chunk.
    for (std::int64_t o = 0; o < shape.outC; ++o) {
        for (std::int64_t pr = 0; pr < pairs; ++pr) {
            float sum = 0.0F;
            for (const AlignedBuffer& part : partials) {
                sum += part.data()[pr * outPad + o];
            }
            gradWeights[o * pairs + pr] += sum;  // [o, c, tap] = o·shape.inC·9 + c·9 + tap
        }
    }
}

}  // namespace isa_avx2

#include "core/tensor/simd_end.inc"
#endif

void directConv3x3(const float* weights, const float* in, const Conv3x3Shape& shape, float* out) {
    LP_EXPECTS(directConv3x3Available(), "directConv3x3: the baseline path has no direct kernel");
    expectConv3x3Sizes("directConv3x3", shape);
#if LP_SIMD_X86
    isa_avx2::directConv(weights, in, shape, out, kernelIsa() == Isa::Avx512);
#else
    static_cast<void>(weights);
    static_cast<void>(in);
    static_cast<void>(out);
#endif
}

void directWeightGradient3x3(const float* x,
                             const float* dy,
                             const Conv3x3Shape& shape,
                             float* gradWeights) {
    LP_EXPECTS(directConv3x3Available(),
               "directWeightGradient3x3: the baseline path has no direct kernel");
    expectConv3x3Sizes("directWeightGradient3x3", shape);
#if LP_SIMD_X86
    isa_avx2::directGrad(x, dy, shape, gradWeights, kernelIsa() == Isa::Avx512);
#else
    static_cast<void>(x);
    static_cast<void>(dy);
    static_cast<void>(gradWeights);
#endif
}

}  // namespace lp::core::nn
