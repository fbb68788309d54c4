// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/conv2d.hpp"

#include "core/error.hpp"
#include "core/tensor/rng.hpp"

#include "tests/support/bits.hpp"
#include "tests/support/grad_check.hpp"
#include "tests/support/isa_paths.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace lp::core::nn {
namespace {

// Every test of this suite runs on each kernel path (tests/support/isa_paths.hpp).
class Conv2dPath : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(Conv2dPath);

std::vector<float> randomWeights(const Layer& layer, std::uint64_t seed) {
    std::vector<float> w(layer.weightCount());
    Rng rng(seed);
    for (float& v : w) {
        v = rng.uniform(-0.5F, 0.5F);
    }
    return w;
}

struct RunResult {
    Tensor y;
    Tensor dx;
    std::vector<float> gw;
};

// Forward with wForward, backward with wBackward, gradients accumulated onto gw0.
RunResult run(const Conv2d& conv,
              const Tensor& x,
              const std::vector<float>& wForward,
              const std::vector<float>& wBackward,
              const Tensor& dy,
              float gw0 = 0.0F) {
    RunResult r;
    Context ctx;
    r.y = conv.forward({wForward, {}}, x, ctx, Mode::Train);
    r.gw.assign(conv.weightCount(), gw0);
    r.dx = conv.backward({wBackward, {}}, dy, ctx, r.gw);
    return r;
}

using lp::testing::sameBits;

TEST_P(Conv2dPath, ForwardOnesCountsWindowTapsIncludingPaddingBorders) {
    const Conv2d conv({.inChannels = 2, .outChannels = 1, .kernel = 3, .padding = 1, .bias = true});
    std::vector<float> w(conv.weightCount() - 1, 1.0F);
    w.push_back(0.5F);  // bias
    const Tensor x(TensorShape{1, 2, 4, 4}, 1.0F);
    Context ctx;
    const Tensor y = conv.forward({w, {}}, x, ctx, Mode::Eval);
    ASSERT_EQ(y.shape(), (TensorShape{1, 1, 4, 4}));
    // 2 channels x the number of taps inside the image: 4 at corners, 6 on edges, 9 inside.
    const float expected[4][4] = {
        {8, 12, 12, 8}, {12, 18, 18, 12}, {12, 18, 18, 12}, {8, 12, 12, 8}};
    for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
            EXPECT_EQ(y.at(0, 0, i, j), expected[i][j] + 0.5F) << i << "," << j;
        }
    }
    EXPECT_TRUE(ctx.saved.empty()) << "Eval mode saves nothing";

    const Conv2d strided({.inChannels = 2, .outChannels = 1, .kernel = 3, .stride = 2});
    const std::vector<float> ones(strided.weightCount(), 1.0F);
    const Tensor ys = strided.forward({ones, {}}, x, ctx, Mode::Eval);
    ASSERT_EQ(ys.shape(), (TensorShape{1, 1, 2, 2}));
    EXPECT_EQ(ys.at(0, 0, 0, 0), 8.0F);
    EXPECT_EQ(ys.at(0, 0, 0, 1), 12.0F);
    EXPECT_EQ(ys.at(0, 0, 1, 0), 12.0F);
    EXPECT_EQ(ys.at(0, 0, 1, 1), 18.0F);
}

TEST_P(Conv2dPath, ForwardHandComputedTwoByTwoKernels) {
    const Conv2d conv({.inChannels = 1, .outChannels = 2, .kernel = 2, .padding = 0});
    // Channel 0: x[i, j] − x[i+1, j+1]; channel 1: the 2x2 window sum.
    const std::vector<float> w{1, 0, 0, -1, 1, 1, 1, 1};
    Tensor x(TensorShape{1, 1, 3, 3});
    for (std::int64_t i = 0; i < 9; ++i) {
        x[i] = static_cast<float>(i + 1);
    }
    Context ctx;
    const Tensor y = conv.forward({w, {}}, x, ctx, Mode::Train);
    ASSERT_EQ(y.shape(), (TensorShape{1, 2, 2, 2}));
    const float sums[4] = {12, 16, 24, 28};
    for (std::int64_t i = 0; i < 4; ++i) {
        EXPECT_EQ(y[i], -4.0F);
        EXPECT_EQ(y[4 + i], sums[i]);
    }
    ASSERT_EQ(ctx.saved.size(), 1U);
}

TEST_P(Conv2dPath, OutputShapesFollowPyTorch) {
    struct Case {
        std::int64_t in, k, s, p, out;
    };

    const Case cases[] = {{32, 3, 1, 1, 32},
                          {32, 3, 2, 1, 16},
                          {32, 1, 2, 0, 16},
                          {32, 1, 1, 0, 32},
                          {9, 7, 2, 3, 5},
                          {7, 3, 2, 0, 3},
                          {8, 3, 2, 1, 4},
                          {224, 7, 2, 3, 112},
                          {3, 3, 1, 0, 1}};
    for (const Case& c : cases) {
        const Conv2d conv(
            {.inChannels = 3, .outChannels = 4, .kernel = c.k, .stride = c.s, .padding = c.p});
        EXPECT_EQ(conv.outputShape(TensorShape{2, 3, c.in, c.in + 1}),
                  (TensorShape{2, 4, c.out, windowOutputSize(c.in + 1, c.k, c.s, c.p)}))
            << "in " << c.in << " k " << c.k << " s " << c.s << " p " << c.p;
    }
    const Conv2d conv({.inChannels = 3, .outChannels = 4, .kernel = 7, .stride = 2, .padding = 3});
    const std::vector<float> w(conv.weightCount(), 0.0F);
    Context ctx;
    EXPECT_EQ(conv.forward({w, {}}, Tensor(TensorShape{1, 3, 9, 9}), ctx, Mode::Eval).shape(),
              (TensorShape{1, 4, 5, 5}));
}

TEST_P(Conv2dPath, RejectsBadSpecsAndShapes) {
    EXPECT_THROW(Conv2d({.inChannels = 0, .outChannels = 4}), ContractError);
    EXPECT_THROW(Conv2d({.inChannels = 3, .outChannels = 4, .stride = 0}), ContractError);
    EXPECT_THROW(Conv2d({.inChannels = 3, .outChannels = 4, .padding = -1}), ContractError);
    const Conv2d conv({.inChannels = 3, .outChannels = 4, .kernel = 3, .padding = 0});
    EXPECT_THROW(static_cast<void>(conv.outputShape(TensorShape{1, 2, 8, 8})), ContractError);
    EXPECT_THROW(static_cast<void>(conv.outputShape(TensorShape{1, 3, 2, 8})), ContractError);
    EXPECT_THROW(static_cast<void>(conv.outputShape(TensorShape{3, 8, 8})), ContractError);
    const std::vector<float> w(conv.weightCount(), 0.0F);
    std::vector<float> gw(conv.weightCount(), 0.0F);
    Context ctx;
    EXPECT_THROW(
        static_cast<void>(conv.backward({w, {}}, Tensor(TensorShape{1, 4, 6, 6}), ctx, gw)),
        ContractError);
    static_cast<void>(conv.forward({w, {}}, Tensor(TensorShape{1, 3, 8, 8}), ctx, Mode::Train));
    EXPECT_THROW(
        static_cast<void>(conv.backward({w, {}}, Tensor(TensorShape{1, 4, 5, 5}), ctx, gw)),
        ContractError);
}

TEST_P(Conv2dPath, ParamsAndKaimingFanOutInit) {
    const Conv2d conv({.inChannels = 16, .outChannels = 64, .kernel = 3, .bias = true});
    const std::vector<ParamSpec> ps = conv.params();
    ASSERT_EQ(ps.size(), 2U);
    EXPECT_EQ(ps[0].name, "weight");
    EXPECT_EQ(ps[0].shape, (TensorShape{64, 16, 3, 3}));
    EXPECT_EQ(ps[1].name, "bias");
    EXPECT_EQ(ps[1].shape, (TensorShape{64}));
    EXPECT_EQ(conv.weightCount(), 64U * 16U * 9U + 64U);
    EXPECT_EQ(Conv2d({.inChannels = 3, .outChannels = 8}).params().size(), 1U);

    std::vector<float> w(conv.weightCount());
    Rng rng(7);
    conv.init(w, {}, rng);
    const std::size_t nWeight = std::size_t{64} * 16 * 9;
    double sum = 0.0;
    double sumSq = 0.0;
    for (std::size_t i = 0; i < nWeight; ++i) {
        sum += static_cast<double>(w[i]);
        sumSq += static_cast<double>(w[i]) * static_cast<double>(w[i]);
    }
    const double mean = sum / static_cast<double>(nWeight);
    const double stdDev = std::sqrt(sumSq / static_cast<double>(nWeight) - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.003);
    EXPECT_NEAR(stdDev, std::sqrt(2.0 / (64.0 * 9.0)), 0.03 * std::sqrt(2.0 / (64.0 * 9.0)));
    const float bound = 1.0F / 12.0F;  // 1 / sqrt(16 * 9)
    float biasMax = 0.0F;
    for (std::size_t i = nWeight; i < w.size(); ++i) {
        EXPECT_LT(std::abs(w[i]), bound);
        biasMax = std::max(biasMax, std::abs(w[i]));
    }
    EXPECT_GT(biasMax, 0.5F * bound);
}

TEST_P(Conv2dPath, BackwardMatchesFiniteDifferences) {
    struct Case {
        std::int64_t k, s, p, size;
        bool bias;
    };

    // The last case (1x1, stride 1, 16x16) takes the identity fast path one sample at a time;
    // the small maps batch both samples into one GEMM.
    const Case cases[] = {{3, 1, 1, 7, false},
                          {3, 2, 1, 9, true},
                          {1, 2, 0, 7, true},
                          {7, 2, 3, 9, false},
                          {1, 1, 0, 7, true},
                          {1, 1, 0, 16, true}};
    std::uint64_t seed = 100;
    for (const Case& c : cases) {
        SCOPED_TRACE(::testing::Message() << "k " << c.k << " s " << c.s << " p " << c.p << " size "
                                          << c.size << " bias " << c.bias);
        const Conv2d conv({.inChannels = 3,
                           .outChannels = 4,
                           .kernel = c.k,
                           .stride = c.s,
                           .padding = c.p,
                           .bias = c.bias});
        const Tensor x = lp::testing::randomTensor(TensorShape{2, 3, c.size, c.size}, ++seed);
        const std::vector<float> w = randomWeights(conv, ++seed);
        const int checked =
            lp::testing::expectGradientsMatch(lp::testing::layerTarget(conv, {}), x, w, ++seed);
        EXPECT_GE(checked, 60);
    }
}

// Direct six-loop convolution in double: y, dx, dW and db for dy, with the sum of |terms| of
// every result to scale the float tolerance.
struct Reference {
    std::vector<double> y, dx, dw, yAbs, dxAbs, dwAbs;
};

Reference naiveConv(const Conv2dSpec& sp,
                    const Tensor& x,
                    const std::vector<float>& w,
                    const Tensor& dy) {
    const std::int64_t n = x.dim(0);
    const std::int64_t c = x.dim(1);
    const std::int64_t h = x.dim(2);
    const std::int64_t wd = x.dim(3);
    const std::int64_t o = sp.outChannels;
    const std::int64_t k = sp.kernel;
    const std::int64_t ho = dy.dim(2);
    const std::int64_t wo = dy.dim(3);
    Reference r;
    r.y.assign(dy.size(), 0.0);
    r.yAbs.assign(dy.size(), 0.0);
    r.dx.assign(x.size(), 0.0);
    r.dxAbs.assign(x.size(), 0.0);
    r.dw.assign(w.size(), 0.0);
    r.dwAbs.assign(w.size(), 0.0);
    const auto biasAt = static_cast<std::size_t>(o * c * k * k);
    for (std::int64_t b = 0; b < n; ++b) {
        for (std::int64_t oc = 0; oc < o; ++oc) {
            for (std::int64_t oy = 0; oy < ho; ++oy) {
                for (std::int64_t ox = 0; ox < wo; ++ox) {
                    const auto yi = static_cast<std::size_t>(((b * o + oc) * ho + oy) * wo + ox);
                    const auto g = static_cast<double>(dy[static_cast<std::int64_t>(yi)]);
                    if (sp.bias) {
                        r.y[yi] += static_cast<double>(w[biasAt + static_cast<std::size_t>(oc)]);
                        r.dw[biasAt + static_cast<std::size_t>(oc)] += g;
                        r.dwAbs[biasAt + static_cast<std::size_t>(oc)] += std::abs(g);
                    }
                    for (std::int64_t ic = 0; ic < c; ++ic) {
                        for (std::int64_t ky = 0; ky < k; ++ky) {
                            for (std::int64_t kx = 0; kx < k; ++kx) {
                                const std::int64_t iy = oy * sp.stride - sp.padding + ky;
                                const std::int64_t ix = ox * sp.stride - sp.padding + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                                    continue;
                                }
                                const auto wi =
                                    static_cast<std::size_t>(((oc * c + ic) * k + ky) * k + kx);
                                const auto xi =
                                    static_cast<std::size_t>(((b * c + ic) * h + iy) * wd + ix);
                                const auto xv =
                                    static_cast<double>(x[static_cast<std::int64_t>(xi)]);
                                const auto wv = static_cast<double>(w[wi]);
                                r.y[yi] += wv * xv;
                                r.yAbs[yi] += std::abs(wv * xv);
                                r.dx[xi] += wv * g;
                                r.dxAbs[xi] += std::abs(wv * g);
                                r.dw[wi] += xv * g;
                                r.dwAbs[wi] += std::abs(xv * g);
                            }
                        }
                    }
                }
            }
        }
    }
    return r;
}

void expectNear(const char* what,
                std::span<const float> got,
                const std::vector<double>& want,
                const std::vector<double>& scale,
                double offset) {
    ASSERT_EQ(got.size(), want.size()) << what;
    int failures = 0;
    for (std::size_t i = 0; i < got.size() && failures < 5; ++i) {
        const double err = std::abs(static_cast<double>(got[i]) - offset - want[i]);
        if (err > 2e-5 * scale[i] + 1e-6) {
            ADD_FAILURE() << what << "[" << i << "]: " << got[i] << " vs " << want[i] + offset;
            ++failures;
        }
    }
}

TEST_P(Conv2dPath, ForwardAndBackwardMatchNaiveConvolution) {
    struct Case {
        std::int64_t n, c, o, k, s, p, size;
        bool bias;
    };

    // One sample per GEMM (16x16 outputs), the identity 1x1 path, several-sample GEMMs with a
    // short last group (8x8 outputs, 4 samples per GEMM), a 7x7/2 stem, and tiny maps; then
    // 576 im2col rows on 20x20 outputs, built in blocks of 6 output rows (6, 6, 6, 2), at
    // stride 1 and 2; and 64 output channels, where backward transposes the weights for the
    // input gradient (a two-sample group and a one-sample stride-2 map); ResNet's stage entries
    // (3x3/2 and 1x1/2 on 32x32: the vectorised stride-2 gather and scatter).
    const Case cases[] = {{2, 64, 4, 3, 1, 1, 20, true},
                          {2, 64, 3, 3, 2, 1, 40, false},
                          {2, 8, 64, 3, 1, 1, 8, true},
                          {1, 8, 64, 3, 2, 1, 34, false},
                          {3, 5, 6, 3, 1, 1, 16, true},
                          {5, 4, 3, 1, 1, 0, 16, true},
                          {10, 3, 5, 3, 2, 1, 16, true},
                          {7, 3, 4, 3, 2, 1, 9, false},
                          {2, 3, 4, 7, 2, 3, 12, false},
                          {9, 6, 5, 1, 2, 0, 10, false},
                          {3, 3, 4, 3, 2, 1, 6, false},
                          {3, 4, 4, 3, 1, 1, 3, false},
                          {2, 4, 4, 3, 1, 1, 5, false},
                          {2, 16, 32, 3, 2, 1, 32, false},
                          {2, 16, 32, 1, 2, 0, 32, false}};
    std::uint64_t seed = 500;
    for (const Case& cs : cases) {
        SCOPED_TRACE(::testing::Message() << "n " << cs.n << " c " << cs.c << " o " << cs.o << " k "
                                          << cs.k << " s " << cs.s << " p " << cs.p);
        const Conv2dSpec sp{.inChannels = cs.c,
                            .outChannels = cs.o,
                            .kernel = cs.k,
                            .stride = cs.s,
                            .padding = cs.p,
                            .bias = cs.bias};
        const Conv2d conv(sp);
        const Tensor x =
            lp::testing::randomTensor(TensorShape{cs.n, cs.c, cs.size, cs.size}, ++seed);
        const std::vector<float> w = randomWeights(conv, ++seed);
        const Tensor dy = lp::testing::randomTensor(conv.outputShape(x.shape()), ++seed);
        // Start from a non-zero gradient: backward must add to it.
        const RunResult got = run(conv, x, w, w, dy, 0.25F);
        const Reference ref = naiveConv(sp, x, w, dy);
        expectNear("y", got.y.span(), ref.y, ref.yAbs, 0.0);
        expectNear("dx", got.dx.span(), ref.dx, ref.dxAbs, 0.0);
        expectNear("dw", got.gw, ref.dw, ref.dwAbs, 0.25);
    }
}

// forwardConsuming saves the input itself (no copy) and otherwise equals forward: the same y,
// the same saved input, the same gradients after.
TEST_P(Conv2dPath, ForwardConsumingSavesTheInputItself) {
    const Conv2d conv({.inChannels = 4, .outChannels = 6, .kernel = 3, .stride = 1, .bias = true});
    const Tensor x = lp::testing::randomTensor(TensorShape{2, 4, 9, 9}, 71);
    const std::vector<float> w = randomWeights(conv, 72);
    const Tensor dy = lp::testing::randomTensor(conv.outputShape(x.shape()), 73);
    Context copied;
    const Tensor y = conv.forward({w, {}}, x, copied, Mode::Train);
    Context owned;
    Tensor input = x;
    const float* storage = input.data();
    const Tensor yOwned = conv.forwardConsuming({w, {}}, std::move(input), owned, Mode::Train);
    ASSERT_EQ(owned.saved.size(), 1U);
    EXPECT_EQ(owned.saved[0].data(), storage);
    EXPECT_TRUE(sameBits(yOwned.span(), y.span()));
    EXPECT_TRUE(sameBits(owned.saved[0].span(), copied.saved[0].span()));
    std::vector<float> g1(w.size(), 0.0F);
    std::vector<float> g2(w.size(), 0.0F);
    const Tensor dx1 = conv.backward({w, {}}, dy, copied, g1);
    const Tensor dx2 = conv.backward({w, {}}, dy, owned, g2);
    EXPECT_TRUE(sameBits(dx1.span(), dx2.span()));
    EXPECT_TRUE(sameBits(g1, g2));
}

TEST_P(Conv2dPath, BackwardUsesGivenWeightsAndSavedActivations) {
    const Conv2d conv({.inChannels = 4, .outChannels = 6, .kernel = 3, .stride = 1, .bias = true});
    const Tensor x = lp::testing::randomTensor(TensorShape{6, 4, 10, 10}, 1);
    const std::vector<float> w1 = randomWeights(conv, 2);
    const std::vector<float> w2 = randomWeights(conv, 3);
    const Tensor dy = lp::testing::randomTensor(conv.outputShape(x.shape()), 4);
    const RunResult stale = run(conv, x, w1, w2, dy);  // forward at w1, backward at w2
    const RunResult atW2 = run(conv, x, w2, w2, dy);
    const RunResult atW1 = run(conv, x, w1, w1, dy);
    EXPECT_TRUE(sameBits(stale.dx.span(), atW2.dx.span())) << "dx must use backward's weights";
    EXPECT_TRUE(sameBits(stale.gw, atW1.gw)) << "dW must depend only on saved input and dy";
    EXPECT_FALSE(sameBits(stale.dx.span(), atW1.dx.span()));
}

TEST_P(Conv2dPath, BitIdenticalForOneTwoAndFourThreads) {
    struct Case {
        std::int64_t n, c, o, k, s, p, size;
    };

    // 16 samples of 16x16 (8 dW chunks of 2 samples); 48 samples of 4x4 outputs (3 groups of
    // 16 samples per GEMM, one per chunk); 6 samples of 20x20 in im2col blocks of 6 rows; 64
    // output channels (transposed weights for dx).
    const Case cases[] = {{16, 8, 8, 3, 1, 1, 16},
                          {48, 8, 16, 1, 2, 0, 8},
                          {6, 64, 8, 3, 1, 1, 20},
                          {12, 8, 64, 3, 1, 1, 8}};
    for (const Case& cs : cases) {
        const Conv2d conv({.inChannels = cs.c,
                           .outChannels = cs.o,
                           .kernel = cs.k,
                           .stride = cs.s,
                           .padding = cs.p,
                           .bias = true});
        const Tensor x = lp::testing::randomTensor(TensorShape{cs.n, cs.c, cs.size, cs.size}, 11);
        const std::vector<float> w = randomWeights(conv, 12);
        const Tensor dy = lp::testing::randomTensor(conv.outputShape(x.shape()), 13);
        RunResult first;
        for (const int threads : {1, 2, 4}) {
            const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads));
            RunResult r = run(conv, x, w, w, dy);
            if (threads == 1) {
                first = std::move(r);
                continue;
            }
            EXPECT_TRUE(sameBits(r.y.span(), first.y.span())) << threads << " threads";
            EXPECT_TRUE(sameBits(r.dx.span(), first.dx.span())) << threads << " threads";
            EXPECT_TRUE(sameBits(r.gw, first.gw)) << threads << " threads";
        }
    }
}

}  // namespace
}  // namespace lp::core::nn
