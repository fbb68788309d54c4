// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/gemm.hpp"

#include "core/tensor/rng.hpp"
#include "core/tensor/tensor.hpp"

#include "tests/support/isa_paths.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace lp::core {
namespace {

std::vector<float> randomFloats(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<float> v(n);
    for (float& x : v) {
        x = rng.normal();
    }
    return v;
}

// Every test of GemmPath runs on each kernel path (tests/support/isa_paths.hpp): the GEMM
// library's kernels follow the path (core/tensor/gemm.hpp).
class GemmPath : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(GemmPath);

struct GemmCase {
    std::int64_t m, n, k;
    float alpha;
};

// Every transpose combination, leading dimensions wider than the rows, beta 0 (C's old content,
// NaN included, ignored) and beta 1 (accumulate), against a double-precision loop, for a thin
// product (BLIS's small-matrix kernels), products whose operands fit libxsmm's limit of the
// AVX2 or only of the AVX-512 path, alpha 0.5 (which libxsmm has no kernel for: BLIS) and a
// product larger than both limits (BLIS's blocked kernels).
TEST_P(GemmPath, MatchesNaiveProductForEveryTransposeAndStride) {
    const std::int64_t pad = 3;
    for (const GemmCase& g : {GemmCase{7, 19, 33, 0.5F},
                              GemmCase{64, 96, 48, 1.0F},
                              GemmCase{64, 96, 48, 0.5F},
                              GemmCase{192, 128, 160, 1.0F},
                              GemmCase{512, 96, 640, 1.0F}}) {
        const std::int64_t m = g.m;
        const std::int64_t n = g.n;
        const std::int64_t k = g.k;
        for (const Trans ta : {Trans::No, Trans::Yes}) {
            for (const Trans tb : {Trans::No, Trans::Yes}) {
                for (const float beta : {0.0F, 1.0F}) {
                    SCOPED_TRACE(::testing::Message()
                                 << m << " x " << n << " x " << k << " alpha " << g.alpha
                                 << " transA " << (ta == Trans::Yes) << " transB "
                                 << (tb == Trans::Yes) << " beta " << beta);
                    const std::int64_t aRows = ta == Trans::Yes ? k : m;
                    const std::int64_t lda = (ta == Trans::Yes ? m : k) + pad;
                    const std::int64_t bRows = tb == Trans::Yes ? n : k;
                    const std::int64_t ldb = (tb == Trans::Yes ? k : n) + pad;
                    const std::int64_t ldc = n + pad;
                    const auto a = randomFloats(static_cast<std::size_t>(aRows * lda), 1);
                    const auto b = randomFloats(static_cast<std::size_t>(bRows * ldb), 2);
                    auto c = randomFloats(static_cast<std::size_t>(m * ldc), 3);
                    const std::vector<float> c0 = c;
                    if (beta == 0.0F) {
                        c[0] = std::numeric_limits<float>::quiet_NaN();
                        c[static_cast<std::size_t>((m - 1) * ldc + n - 1)] =
                            std::numeric_limits<float>::infinity();
                    }
                    gemm(ta,
                         tb,
                         m,
                         n,
                         k,
                         g.alpha,
                         a.data(),
                         lda,
                         b.data(),
                         ldb,
                         beta,
                         c.data(),
                         ldc);
                    for (std::int64_t i = 0; i < m; ++i) {
                        for (std::int64_t j = 0; j < n; ++j) {
                            double sum = 0.0;
                            for (std::int64_t p = 0; p < k; ++p) {
                                const std::int64_t ai =
                                    ta == Trans::Yes ? p * lda + i : i * lda + p;
                                const std::int64_t bi =
                                    tb == Trans::Yes ? j * ldb + p : p * ldb + j;
                                sum += static_cast<double>(a[static_cast<std::size_t>(ai)]) *
                                       static_cast<double>(b[static_cast<std::size_t>(bi)]);
                            }
                            const auto idx = static_cast<std::size_t>(i * ldc + j);
                            const double want =
                                static_cast<double>(g.alpha) * sum +
                                static_cast<double>(beta) * static_cast<double>(c0[idx]);
                            // float sums of k terms of size ~1: error ~ k · 2^-24 · sqrt(k)
                            ASSERT_NEAR(static_cast<double>(c[idx]), want, 2e-3) << i << ", " << j;
                        }
                        // Columns past n (the stride's padding) are never written.
                        for (std::int64_t j = n; j < ldc; ++j) {
                            const auto idx = static_cast<std::size_t>(i * ldc + j);
                            ASSERT_EQ(c[idx], c0[idx]);
                        }
                    }
                }
            }
        }
    }
}

TEST(Gemm, EmptyProductsLeaveCAlone) {
    std::vector<float> c{1.0F, 2.0F};
    const std::vector<float> a{1.0F};
    gemm(Trans::No, Trans::No, 0, 2, 1, 1.0F, a.data(), 1, a.data(), 2, 0.0F, c.data(), 2);
    EXPECT_EQ(c[0], 1.0F);
    EXPECT_EQ(c[1], 2.0F);
}

// Recycled storage (the large-block cache) must come back zeroed from the zeroing constructor,
// and uninitialized() must give the right shape.
TEST(Tensor, RecycledLargeStorageIsZeroedAgain) {
    const TensorShape shape{4, 64, 32, 32};  // 1 MiB: large enough to be recycled
    for (int round = 0; round < 3; ++round) {
        Tensor dirty = Tensor::uninitialized(shape);
        EXPECT_EQ(dirty.shape(), shape);
        dirty.fill(3.0F);
    }
    const Tensor clean(shape);
    for (std::int64_t i = 0; i < clean.numel(); i += 997) {
        ASSERT_EQ(clean[i], 0.0F) << i;
    }
    const Tensor copy = clean;
    EXPECT_EQ(copy[clean.numel() - 1], 0.0F);
}

}  // namespace
}  // namespace lp::core
