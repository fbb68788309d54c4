// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/max_pool2d.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/grad_check.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace lp::core::nn {
namespace {

Tensor fromValues(const TensorShape& shape, const std::vector<float>& values) {
    Tensor t(shape);
    for (std::size_t i = 0; i < values.size(); ++i) {
        t[static_cast<std::int64_t>(i)] = values[i];
    }
    return t;
}

Tensor pool(const MaxPool2d& mp, const Tensor& x) {
    Context ctx;
    return mp.forward({}, x, ctx, Mode::Eval);
}

// A 4x4 plane whose windows below each hold a unique maximum.
std::vector<float> plane4x4() {
    // clang-format off
    return {1, 5, 2, 0,
            3, 4, 9, 1,
            7, 0, 2, 8,
            6, 2, 3, 1};
    // clang-format on
}

TEST(MaxPool2d, ForwardHandComputed) {
    const Tensor x = fromValues(TensorShape{1, 1, 4, 4}, plane4x4());
    const Tensor a = pool(MaxPool2d({.kernel = 2, .stride = 2, .padding = 0}), x);
    ASSERT_EQ(a.shape(), (TensorShape{1, 1, 2, 2}));
    EXPECT_EQ(a[0], 5.0F);
    EXPECT_EQ(a[1], 9.0F);
    EXPECT_EQ(a[2], 7.0F);
    EXPECT_EQ(a[3], 8.0F);
    // 3x3/2 with padding 1: windows rows/cols {0,1}, {1,2,3}.
    const Tensor b = pool(MaxPool2d({}), x);
    ASSERT_EQ(b.shape(), (TensorShape{1, 1, 2, 2}));
    EXPECT_EQ(b[0], 5.0F);
    EXPECT_EQ(b[1], 9.0F);
    EXPECT_EQ(b[2], 7.0F);
    EXPECT_EQ(b[3], 9.0F);
}

TEST(MaxPool2d, PaddingIsMinusInfinity) {
    std::vector<float> negative(16);
    for (std::size_t i = 0; i < 16; ++i) {
        negative[i] = -1.0F - static_cast<float>(i);
    }
    const Tensor y = pool(MaxPool2d({}), fromValues(TensorShape{1, 1, 4, 4}, negative));
    // A zero padding would win every border window.
    EXPECT_EQ(y[0], -1.0F);
    EXPECT_EQ(y[1], -2.0F);
    EXPECT_EQ(y[2], -5.0F);
    EXPECT_EQ(y[3], -6.0F);
}

TEST(MaxPool2d, OutputShapesAndContracts) {
    EXPECT_EQ(MaxPool2d({}).outputShape(TensorShape{2, 64, 112, 112}),
              (TensorShape{2, 64, 56, 56}));
    EXPECT_EQ(MaxPool2d({}).outputShape(TensorShape{1, 3, 7, 8}), (TensorShape{1, 3, 4, 4}));
    EXPECT_EQ(
        MaxPool2d({.kernel = 2, .stride = 2, .padding = 0}).outputShape(TensorShape{1, 3, 5, 32}),
        (TensorShape{1, 3, 2, 16}));
    EXPECT_EQ(
        MaxPool2d({.kernel = 3, .stride = 1, .padding = 1}).outputShape(TensorShape{1, 1, 5, 5}),
        (TensorShape{1, 1, 5, 5}));
    EXPECT_THROW(MaxPool2d({.kernel = 3, .stride = 2, .padding = 2}), ContractError);
    EXPECT_THROW(MaxPool2d({.kernel = 0}), ContractError);
    EXPECT_THROW(static_cast<void>(MaxPool2d({.padding = 0}).outputShape(TensorShape{1, 1, 2, 2})),
                 ContractError);
    const MaxPool2d mp({});
    Context ctx;
    EXPECT_THROW(static_cast<void>(mp.backward({}, Tensor(TensorShape{1, 1, 2, 2}), ctx, {})),
                 ContractError);
    static_cast<void>(mp.forward({}, Tensor(TensorShape{1, 1, 4, 4}), ctx, Mode::Train));
    EXPECT_THROW(static_cast<void>(mp.backward({}, Tensor(TensorShape{1, 1, 3, 3}), ctx, {})),
                 ContractError);
}

// Distinct values 0.01 apart (far more than the finite-difference step), shuffled.
Tensor distinctValues(const TensorShape& shape, std::uint64_t seed) {
    Tensor t(shape);
    std::vector<float> v(t.size());
    std::iota(v.begin(), v.end(), 0.0F);
    Rng rng(seed);
    for (std::size_t i = v.size() - 1; i > 0; --i) {
        std::swap(v[i], v[rng.below(i + 1)]);
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        t[static_cast<std::int64_t>(i)] = 0.01F * v[i] - 2.0F;
    }
    return t;
}

TEST(MaxPool2d, BackwardMatchesFiniteDifferences) {
    const MaxPool2dSpec specs[] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 1}, {3, 2, 0}};
    std::uint64_t seed = 40;
    for (const MaxPool2dSpec& sp : specs) {
        SCOPED_TRACE(::testing::Message()
                     << "k " << sp.kernel << " s " << sp.stride << " p " << sp.padding);
        const MaxPool2d mp(sp);
        const Tensor x = distinctValues(TensorShape{2, 3, 9, 9}, ++seed);
        const int checked =
            lp::testing::expectGradientsMatch(lp::testing::layerTarget(mp, {}), x, {}, ++seed);
        EXPECT_EQ(checked, 50);
    }
}

TEST(MaxPool2d, GradientGoesToFirstMaxOnTies) {
    const MaxPool2d mp({.kernel = 2, .stride = 1, .padding = 0});
    const Tensor x(TensorShape{1, 1, 3, 3}, 5.0F);
    Context ctx;
    const Tensor y = mp.forward({}, x, ctx, Mode::Train);
    const Tensor dy = fromValues(y.shape(), {1, 2, 3, 4});
    const Tensor dx = mp.backward({}, dy, ctx, {});
    // Every window's first (top-left) element wins.
    const std::vector<float> want{1, 2, 0, 3, 4, 0, 0, 0, 0};
    for (std::int64_t i = 0; i < 9; ++i) {
        EXPECT_EQ(dx[i], want[static_cast<std::size_t>(i)]) << i;
    }
}

TEST(MaxPool2d, OverlappingWindowsAccumulateAtSharedArgmax) {
    const MaxPool2d mp({.kernel = 2, .stride = 1, .padding = 0});
    const Tensor x = fromValues(TensorShape{1, 1, 3, 3}, {1, 2, 3, 4, 9, 5, 6, 7, 8});
    Context ctx;
    const Tensor y = mp.forward({}, x, ctx, Mode::Train);
    for (std::int64_t i = 0; i < 4; ++i) {
        EXPECT_EQ(y[i], 9.0F);
    }
    const Tensor dx = mp.backward({}, fromValues(y.shape(), {1, 2, 3, 4}), ctx, {});
    for (std::int64_t i = 0; i < 9; ++i) {
        EXPECT_EQ(dx[i], i == 4 ? 10.0F : 0.0F) << i;
    }
}

}  // namespace
}  // namespace lp::core::nn
