// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/tensor/tensor.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace lp::core {
namespace {

TEST(Tensor, StorageIsAlignedAndZeroed) {
    Tensor t(TensorShape{2, 3, 5, 7});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0U);
    EXPECT_EQ(t.numel(), 210);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        ASSERT_EQ(t[i], 0.0F);
    }
}

TEST(Tensor, IndexingIsNchw) {
    Tensor t(TensorShape{2, 3, 4, 5});
    t.at(1, 2, 3, 4) = 7.0F;
    EXPECT_EQ(t[119], 7.0F);
    t.at(0, 1, 0, 2) = 3.0F;
    EXPECT_EQ(t[22], 3.0F);
}

TEST(Tensor, CopyIsDeepAndReshapeChecksCount) {
    Tensor a(TensorShape{4, 6}, 1.5F);
    Tensor b = a;
    b[0] = 2.0F;
    EXPECT_EQ(a[0], 1.5F);
    EXPECT_THROW(a.reshape(TensorShape{5, 5}), ContractError);
    a.reshape(TensorShape{2, 12});
    EXPECT_EQ(a.shape(), (TensorShape{2, 12}));
}

TEST(Tensor, MatrixViewIsRowMajor) {
    Tensor t(TensorShape{2, 3});
    for (std::int64_t i = 0; i < 6; ++i) {
        t[i] = static_cast<float>(i);
    }
    const auto m = t.matrix(2, 3);
    EXPECT_EQ(m(1, 0), 3.0F);
    EXPECT_EQ(m(0, 2), 2.0F);
    EXPECT_THROW(static_cast<void>(t.matrix(4, 2)), ContractError);
}

TEST(Rng, StreamsAreReproducibleAndDistinct) {
    Rng a(42);
    Rng b(42);
    Rng c(Rng::derive(42, 1));
    for (int i = 0; i < 100; ++i) {
        const std::uint64_t x = a.next();
        EXPECT_EQ(x, b.next());
        EXPECT_NE(x, c.next());
    }
}

TEST(Rng, NormalHasUnitMoments) {
    Rng r(7);
    double s = 0.0;
    double s2 = 0.0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        const double x = r.normal();
        s += x;
        s2 += x * x;
    }
    EXPECT_NEAR(s / n, 0.0, 0.01);
    EXPECT_NEAR(s2 / n, 1.0, 0.01);
}

}  // namespace
}  // namespace lp::core
