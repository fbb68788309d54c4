// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/activations.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"
#include "core/tensor/simd.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

// GCC does not vectorise the mask loops below at -O2 (ReLU was ~5% of a width-16 training step);
// whole 32-element words take AVX2 functions (compiled for AVX2 by their target attribute,
// called on the AVX2 and AVX-512 paths: core/tensor/simd.hpp) with exactly the scalar path's
// bits.

namespace lp::core::nn {

namespace {

// The saved mask packs one bit per element (bit k of word j is element 32·j + k), stored in the
// float slots of a Tensor and moved in and out with memcpy (no type punning): 1/32 of the memory
// of saving the output, which matters because saved activations are what a pipeline stage holds
// for every minibatch in flight (DESIGN.md section 5).
constexpr std::int64_t kBits = 32;

// Elements per parallel chunk, a multiple of kBits so that every mask word has one writer.
constexpr std::int64_t kGrain = std::int64_t{1} << 15;
static_assert(kGrain % kBits == 0);

void storeWord(float* slots, std::int64_t j, std::uint32_t word) {
    std::memcpy(slots + j, &word, sizeof word);
}

std::uint32_t loadWord(const float* slots, std::int64_t j) {
    std::uint32_t word = 0;
    std::memcpy(&word, slots + j, sizeof word);
    return word;
}

// The input's shape as floats (dims are far below 2^24), so that backward can check dy.
Tensor shapeRecord(const TensorShape& shape) {
    Tensor t(TensorShape{shape.rank()});
    for (int i = 0; i < shape.rank(); ++i) {
        t[i] = static_cast<float>(shape[i]);
    }
    return t;
}

bool matchesRecord(const TensorShape& shape, const Tensor& record) {
    if (record.numel() != shape.rank()) {
        return false;
    }
    for (int i = 0; i < shape.rank(); ++i) {
        if (static_cast<std::int64_t>(record[i]) != shape[i]) {
            return false;
        }
    }
    return true;
}

#if LP_SIMD_X86
// reluWord for a whole word, AVX2.
[[gnu::target("avx2,fma")]] std::uint32_t reluWordAvx2(const float* x, float* y) {
    std::uint32_t word = 0;
    const __m256 zero = _mm256_setzero_ps();
    for (int q = 0; q < 4; ++q) {
        const __m256 v = _mm256_loadu_ps(x + 8 * q);
        // Not-less-or-equal, unordered: true for x > 0 and for NaN, as below.
        const __m256 on = _mm256_cmp_ps(v, zero, _CMP_NLE_UQ);
        _mm256_storeu_ps(y + 8 * q, _mm256_and_ps(v, on));
        word |= static_cast<std::uint32_t>(_mm256_movemask_ps(on)) << (8 * q);
    }
    return word;
}

// reluGradWord for a whole word, AVX2.
[[gnu::target("avx2,fma")]] void reluGradWordAvx2(std::uint32_t word, const float* dy, float* dx) {
    const __m256i lanes = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for (int q = 0; q < 4; ++q) {
        const auto byte = static_cast<int>((word >> (8 * q)) & 0xFFU);
        const __m256i on =
            _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(byte), lanes), lanes);
        _mm256_storeu_ps(dx + 8 * q,
                         _mm256_and_ps(_mm256_loadu_ps(dy + 8 * q), _mm256_castsi256_ps(on)));
    }
}
#endif

// y = max(x, 0) for x[0, len), len <= 32, returning the mask word. Branch-free like
// reluGradWord below. simd: the path has AVX2.
std::uint32_t reluWord(const float* x, float* y, std::int64_t len, [[maybe_unused]] bool simd) {
#if LP_SIMD_X86
    if (simd && len == kBits) {
        return reluWordAvx2(x, y);
    }
#endif
    std::uint32_t word = 0;
    for (std::int64_t k = 0; k < len; ++k) {
        // !(x <= 0) rather than x > 0: a NaN passes through, as in PyTorch, so it stays visible.
        const std::uint32_t on = x[k] <= 0.0F ? 0U : 1U;
        std::uint32_t bits = 0;
        std::memcpy(&bits, x + k, sizeof bits);
        bits &= 0U - on;
        std::memcpy(y + k, &bits, sizeof bits);
        word |= on << k;
    }
    return word;
}

// dx = dy where the mask bit is set, else +0, for [0, len). Done on the bits, branch-free: with
// random signs a branch per element mispredicts half the time (measured ~3x slower).
void reluGradWord(
    std::uint32_t word, const float* dy, float* dx, std::int64_t len, [[maybe_unused]] bool simd) {
#if LP_SIMD_X86
    if (simd && len == kBits) {
        reluGradWordAvx2(word, dy, dx);
        return;
    }
#endif
    for (std::int64_t k = 0; k < len; ++k) {
        std::uint32_t bits = 0;
        std::memcpy(&bits, dy + k, sizeof bits);
        bits &= 0U - ((word >> k) & 1U);
        std::memcpy(dx + k, &bits, sizeof bits);
    }
}

}  // namespace

namespace {

// y = max(x, 0) into `y` (which may be x) and the mask into ctx.
void reluForward(const Tensor& x, Tensor& y, Context& ctx) {
    // The mask is written whole by the chunks below (each word by one chunk).
    Tensor mask = Tensor::uninitialized(TensorShape{(x.numel() + kBits - 1) / kBits});
    const float* xs = x.data();
    float* ys = y.data();
    float* ms = mask.data();
    const bool simd = kernelsHaveAvx2();
    parallelFor(0, x.numel(), kGrain, [xs, ys, ms, simd](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; i += kBits) {
            storeWord(ms, i / kBits, reluWord(xs + i, ys + i, std::min(kBits, hi - i), simd));
        }
    });
    ctx.saved.clear();
    ctx.saved.push_back(std::move(mask));
    ctx.saved.push_back(shapeRecord(x.shape()));
}

// dx = dy where the saved mask is set into `dx` (which may be dy).
void reluBackward(const Tensor& dy, Tensor& dx, const Context& ctx) {
    LP_EXPECTS(ctx.saved.size() == 2, "ReLU::backward needs the context of its forward");
    LP_EXPECTS(matchesRecord(dy.shape(), ctx.saved[1]),
               "ReLU::backward: dy " + dy.shape().str() + " does not match the forward's input");
    const float* ms = ctx.saved[0].data();
    const float* dys = dy.data();
    float* dxs = dx.data();
    const bool simd = kernelsHaveAvx2();
    parallelFor(0, dy.numel(), kGrain, [ms, dys, dxs, simd](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; i += kBits) {
            reluGradWord(loadWord(ms, i / kBits), dys + i, dxs + i, std::min(kBits, hi - i), simd);
        }
    });
}

}  // namespace

Tensor ReLU::apply(const Tensor& x, Context& ctx, Mode /*mode*/) const {
    Tensor y = Tensor::uninitialized(x.shape());  // written whole
    reluForward(x, y, ctx);
    return y;
}

Tensor ReLU::applyConsuming(Tensor&& x, Context& ctx, Mode /*mode*/) const {
    Tensor y = std::move(x);
    reluForward(y, y, ctx);  // each element is read before it is written
    return y;
}

Tensor ReLU::applyBackward(const Tensor& dy, Context& ctx) const {
    Tensor dx = Tensor::uninitialized(dy.shape());  // written whole
    reluBackward(dy, dx, ctx);
    return dx;
}

Tensor ReLU::applyBackwardConsuming(Tensor&& dy, Context& ctx) const {
    Tensor dx = std::move(dy);
    reluBackward(dx, dx, ctx);
    return dx;
}

}  // namespace lp::core::nn
