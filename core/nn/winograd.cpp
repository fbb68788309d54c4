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
// BLIS's, whose kernel set follows the path too). The AVX-512 path runs the AVX2 copy of the
// transforms with BLIS's AVX-512 GEMMs (docs/cpu-paths.md).
namespace lp::core::nn {

namespace {

// Floats of a forward/input-gradient tile block's scratch (transformed input and GEMM output).
// AVX2 and baseline: 512 KiB, the L2 size of the Zen 3 it was tuned on, so that the GEMMs read
// the transformed input right after it was written (width 64, batch 32: 2 MiB blocks were ~3%
// slower). AVX-512: BLIS's skx kernels run the GEMMs twice as fast, and longer GEMMs amortise
// their packing: 4 MiB blocks (2 threads, Zen 5, layerpipe bench, images/s: width 64 batch 32
// 73.3 -> 81.2, width 16 batch 128 677 -> 741; the AVX2 path on the same machine: 68.4 -> 68.1
// and 714 -> 669, so it keeps 512 KiB). Block sizes change no bits: a GEMM column's sum does not
// depend on how many columns a block holds.
constexpr std::int64_t kBlockFloats = std::int64_t{128} << 10;
constexpr std::int64_t kBlockFloatsAvx512 = std::int64_t{1} << 20;

}  // namespace

namespace isa_baseline {
#define LP_WINOGRAD_AVX2 0
#include "core/nn/winograd_filters.inc"
#include "core/nn/winograd_kernels.inc"
#undef LP_WINOGRAD_AVX2
}  // namespace isa_baseline

#if LP_SIMD_X86
#include "core/tensor/simd_avx2_begin.inc"

namespace isa_avx2 {
#define LP_WINOGRAD_AVX2 1
#include "core/nn/winograd_filters.inc"
#include "core/nn/winograd_kernels.inc"
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
    const Isa isa = kernelIsa();
    if (isa != Isa::Baseline) {
        const std::int64_t block = isa == Isa::Avx512 ? kBlockFloatsAvx512 : kBlockFloats;
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

}  // namespace lp::core::nn
