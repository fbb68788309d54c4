// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/winograd.hpp"

#include "core/error.hpp"
#include "core/nn/conv3x3_shape.hpp"
#include "core/tensor/gemm.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/simd.hpp"
#include "core/tensor/tensor.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

// The kernels of winograd_kernels.inc, once per path (core/tensor/simd.hpp). GCC does not
// vectorise the transform loops at -O2; in the AVX2 copy whole groups of 8 tiles take AVX2 code
// with exactly the scalar loops' operations, so every path gives the same bits (the GEMMs are
// BLIS's or libxsmm's, whose kernels follow the path too: core/tensor/gemm.hpp). The AVX-512
// path runs the AVX2 copy of the transforms with AVX-512 GEMMs (docs/cpu-paths.md).
namespace lp::core::nn {

namespace {

// Floats of a forward/input-gradient tile block's scratch (transformed input and GEMM output):
// 512 KiB, the L2 size of the Zen 3 it was tuned on, so that the GEMMs read the transformed
// input right after it was written (width 64, batch 32: 2 MiB blocks were ~3% slower). Where the
// GEMMs pack small operands (BLIS's skx kernels without libxsmm, core/tensor/gemm.hpp), longer
// GEMMs amortise the packing: 4 MiB blocks (2 threads, Zen 5, layerpipe bench, images/s: width
// 64 batch 32 73.3 -> 81.2, width 16 batch 128 677 -> 741). With libxsmm's kernels on the AVX-512
// path 512 KiB was as fast or faster than 1 to 4 MiB (width 16 batch 128: 873 / 869 against 837
// / 831 with 4 MiB; width 64 batch 128: 70.4 / 67.6 against 68.5 / 64.4). Block sizes change no
// bits: a GEMM column's sum does not depend on how many columns a block holds.
constexpr std::int64_t kBlockFloats = std::int64_t{128} << 10;
constexpr std::int64_t kBlockFloatsPacked = std::int64_t{1} << 20;

// Floats of a stride-2 block's transformed tiles (winograd_s2.inc; blocks of weight-heavy layers
// are larger): 4 MiB. Measured (2 threads, Zen 5, one layer, AVX2 / AVX-512 path): 256 -> 512
// channels at 8x8, batch 32, backward 12.8 / 8.5 ms with 4 MiB blocks, 11.1 / 7.4 with 16 MiB
// (which the filter rule gives it); forwards within 5 %. 16 MiB for every layer raised the peak
// RSS of width 16, batch 128 training from 279 to 306 MiB (the buffers are the stride-1 kernels').
constexpr std::int64_t kStride2BlockFloats = std::int64_t{1} << 20;

}  // namespace

namespace isa_baseline {
#define LP_WINOGRAD_AVX2 0
#include "core/nn/winograd_filters.inc"
#include "core/nn/winograd_kernels.inc"
#include "core/nn/winograd_s2.inc"
#undef LP_WINOGRAD_AVX2
}  // namespace isa_baseline

#if LP_SIMD_X86
#include "core/tensor/simd_avx2_begin.inc"

namespace isa_avx2 {
#define LP_WINOGRAD_AVX2 1
#include "core/nn/winograd_filters.inc"
#include "core/nn/winograd_kernels.inc"
#include "core/nn/winograd_s2.inc"
#undef LP_WINOGRAD_AVX2
}  // namespace isa_avx2

#include "core/tensor/simd_end.inc"
#endif

void winogradConv3x3(WinogradPass pass,
                     const float* weights,
                     const float* in,
                     const Conv3x3Shape& shape,
                     float* out) {
#if LP_SIMD_X86
    if (kernelIsa() != Isa::Baseline) {
        const std::int64_t block = gemmPacksSmallOperands() ? kBlockFloatsPacked : kBlockFloats;
        isa_avx2::winogradConv(pass, weights, in, shape, out, block);
        return;
    }
#endif
    isa_baseline::winogradConv(pass, weights, in, shape, out, kBlockFloats);
}

void winogradWeightGradient(const float* x,
                            const float* dy,
                            const Conv3x3Shape& shape,
                            float* gradWeights) {
#if LP_SIMD_X86
    if (kernelsHaveAvx2()) {
        isa_avx2::winogradGrad(x, dy, shape, gradWeights);
        return;
    }
#endif
    isa_baseline::winogradGrad(x, dy, shape, gradWeights);
}

void winogradStride2Forward(const float* weights,
                            const float* x,
                            const Conv3x3Shape& shape,
                            float* y) {
#if LP_SIMD_X86
    if (kernelsHaveAvx2()) {
        isa_avx2::s2Forward(weights, x, shape, y, kStride2BlockFloats);
        return;
    }
#endif
    isa_baseline::s2Forward(weights, x, shape, y, kStride2BlockFloats);
}

void winogradStride2Backward(const float* weights,
                             const float* x,
                             const float* dy,
                             const Conv3x3Shape& shape,
                             float* dx,
                             float* gradWeights) {
#if LP_SIMD_X86
    if (kernelsHaveAvx2()) {
        isa_avx2::s2Backward(weights, x, dy, shape, dx, gradWeights, kStride2BlockFloats);
        return;
    }
#endif
    isa_baseline::s2Backward(weights, x, dy, shape, dx, gradWeights, kStride2BlockFloats);
}

}  // namespace lp::core::nn
