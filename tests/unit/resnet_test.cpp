// ResNet builder: parameter counts, names, shapes, the BasicBlock's gradients, and the proof that
// the whole backward chain is right (a small ResNet-18 overfits a fixed batch).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/resnet.hpp"

#include "core/error.hpp"
#include "core/nn/activations.hpp"
#include "core/nn/batch_norm2d.hpp"
#include "core/nn/conv2d.hpp"
#include "core/nn/elementwise.hpp"
#include "core/nn/loss.hpp"
#include "core/optim/optimizer.hpp"

#include "tests/support/bits.hpp"
#include "tests/support/grad_check.hpp"
#include "tests/support/isa_paths.hpp"
#include "tests/support/resnet18_units.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace lp::core::model {
namespace {

std::size_t countParams(const ResNet& net, nn::ParamKind kind) {
    std::size_t n = 0;
    for (const ModelParam& p : net.params()) {
        if (p.kind == kind) {
            n += static_cast<std::size_t>(p.shape.numel());
        }
    }
    return n;
}

TEST(ResNet, Cifar18ParameterCountsMatchTorchvision) {
    const ResNet r100(ResNetSpec{.classes = 100});
    EXPECT_EQ(r100.weightCount(), 11220132U);
    EXPECT_EQ(countParams(r100, nn::ParamKind::Weight), 11220132U);
    const ResNet r10(ResNetSpec{.classes = 10});
    EXPECT_EQ(r10.weightCount(), 11173962U);
}

TEST(ResNet, HasTenUnitsWithTorchvisionNames) {
    const ResNet net(ResNetSpec{.width = 8, .classes = 10});
    ASSERT_EQ(net.unitCount(), 10U);
    EXPECT_EQ(net.unitNames(), lp::test::resnet18UnitNames());
    auto has = [&](const std::string& name) {
        return std::any_of(net.params().begin(), net.params().end(), [&](const ModelParam& p) {
            return p.name == name;
        });
    };
    for (const char* name : {"conv1.weight",
                             "bn1.running_mean",
                             "bn1.num_batches_tracked",
                             "layer1.0.conv2.weight",
                             "layer2.0.downsample.0.weight",
                             "layer2.0.downsample.1.running_var",
                             "fc.weight",
                             "fc.bias"}) {
        EXPECT_TRUE(has(name)) << name;
    }
    EXPECT_FALSE(has("layer1.0.downsample.0.weight"));
    // torchvision state_dict order inside a unit: conv1, bn1.*, conv2, bn2.*, downsample.*
    const auto& p = net.unit(3).params();
    EXPECT_EQ(p.front().name, "layer2.0.conv1.weight");
    EXPECT_EQ(p.back().name, "layer2.0.downsample.1.num_batches_tracked");
}

TEST(ResNet, OutputShapesForCifarAndFashionMnist) {
    for (const auto& [channels, size] : {std::pair<std::int64_t, std::int64_t>{3, 32}, {1, 28}}) {
        const ResNet net(
            ResNetSpec{.width = 8, .inChannels = channels, .inSize = size, .classes = 10});
        ModelState st = ModelState::create(net, 1);
        std::vector<UnitContext> ctxs;
        const Tensor x = testing::randomTensor(net.inputShape(1), 3);
        const Tensor y = forwardUnits(
            net, 0, net.unitCount(), st.weights.span(), st.buffers.span(), x, ctxs, nn::Mode::Eval);
        EXPECT_EQ(y.shape(), (TensorShape{1, 10}));
    }
    const ResNet full(ResNetSpec{.classes = 100});
    EXPECT_EQ(full.unit(0).outputShape(), (TensorShape{1, 64, 32, 32}));
    EXPECT_EQ(full.unit(8).outputShape(), (TensorShape{1, 512, 4, 4}));
    EXPECT_EQ(full.unit(9).outputShape(), (TensorShape{1, 100}));
    const ResNet imagenet(
        ResNetSpec{.width = 8, .inSize = 64, .classes = 10, .stem = Stem::ImageNet});
    EXPECT_EQ(imagenet.unit(0).outputShape(), (TensorShape{1, 8, 16, 16}));
}

TEST(ResNet, BlockCountsGiveTheFamily) {
    EXPECT_EQ(ResNet(ResNetSpec{.width = 8, .blocks = *blocksForArch("resnet10")}).unitCount(), 6U);
    EXPECT_EQ(ResNet(ResNetSpec{.width = 8, .blocks = *blocksForArch("resnet34")}).unitCount(),
              18U);
    EXPECT_FALSE(blocksForArch("resnet50").has_value());
    EXPECT_THROW(ResNet(ResNetSpec{.width = 0}), InputError);
}

TEST(ResNet, InitialisationIsTorchvisionLike) {
    const ResNet net(ResNetSpec{.width = 32, .classes = 10});
    const ModelState st = ModelState::create(net, 5);
    for (const ModelParam& p : net.params()) {
        const float* v = p.kind == nn::ParamKind::Weight ? st.weights.data() + p.offset
                                                         : st.buffers.data() + p.offset;
        const auto n = static_cast<std::size_t>(p.shape.numel());
        if (p.name == "layer3.0.conv2.weight") {  // Kaiming normal, fan_out = 128·9
            double s2 = 0.0;
            for (std::size_t i = 0; i < n; ++i) {
                s2 += static_cast<double>(v[i]) * static_cast<double>(v[i]);
            }
            EXPECT_NEAR(
                std::sqrt(s2 / static_cast<double>(n)), std::sqrt(2.0 / (128.0 * 9.0)), 2e-3);
        }
        if (p.name == "layer1.0.bn1.weight" || p.name == "bn1.running_var") {
            EXPECT_TRUE(std::all_of(v, v + n, [](float x) { return x == 1.0F; })) << p.name;
        }
        if (p.name == "layer1.0.bn1.bias" || p.name == "bn1.running_mean") {
            EXPECT_TRUE(std::all_of(v, v + n, [](float x) { return x == 0.0F; })) << p.name;
        }
        if (p.name == "fc.weight") {  // U(-1/sqrt(256), 1/sqrt(256))
            const float bound = 1.0F / std::sqrt(256.0F);
            EXPECT_TRUE(std::all_of(v, v + n, [&](float x) { return std::abs(x) <= bound; }));
        }
    }
    // Same seed, same bits; another seed, other weights.
    const ModelState again = ModelState::create(net, 5);
    EXPECT_TRUE(std::equal(
        st.weights.span().begin(), st.weights.span().end(), again.weights.span().begin()));
    const ModelState other = ModelState::create(net, 6);
    EXPECT_NE(st.weights[100], other.weights[100]);
}

// Gradient check of one unit as a pure function of (x, weights), BN in training mode.
testing::GradCheckTarget unitTarget(const Unit& unit, std::vector<float> buffers) {
    struct State {
        std::vector<float> initial;
        std::vector<float> live;
        std::vector<float> weights;
        UnitContext ctx;
    };

    auto st = std::make_shared<State>();
    st->initial = std::move(buffers);
    testing::GradCheckTarget t;
    t.forward = [&unit, st](const Tensor& x, std::span<const float> w) {
        st->live = st->initial;
        st->weights.assign(w.begin(), w.end());
        return unit.forward(st->weights, st->live, x, st->ctx, nn::Mode::Train);
    };
    t.backward = [&unit, st](const Tensor& dy, std::span<float> gw) {
        return unit.backward(st->weights, dy, st->ctx, gw);
    };
    return t;
}

// A whole block in float: the projected loss sums hundreds of outputs, each rounded to float, so
// with h = 1e-3 the central difference carries ~1e-3 of rounding noise; h = 1e-2 keeps it well
// under the tolerance. A weight perturbation moves every BN-normalised value of its channel, so
// with ReLUs near zero some kink is almost always straddled; shifting every BN's β by +8 keeps all
// ReLU inputs positive, which checks the block's wiring (both branches, the BN coupling across
// the batch) exactly. ReLU's own kink handling is checked in its layer test.
const testing::GradCheckOptions kBlockCheck{.h = 1e-2, .rtol = 1e-2, .atol = 1e-3};

void liftBatchNormBias(const Unit& unit, std::vector<float>& w) {
    for (const UnitParam& p : unit.params()) {
        const std::string& n = p.name;
        if (n.ends_with("bn1.bias") || n.ends_with("bn2.bias") ||
            n.ends_with("downsample.1.bias")) {
            for (std::int64_t i = 0; i < p.shape.numel(); ++i) {
                w[p.offset + static_cast<std::size_t>(i)] = 8.0F;
            }
        }
    }
}

// The block's input and parameter gradients on an input of shape `x`: weights initialised from
// Rng(seed) with the BN biases lifted, the input from seed + 1, the check's samples from seed + 2.
void expectBlockGradientsMatch(const BasicBlock& block, const TensorShape& x, std::uint64_t seed) {
    std::vector<float> w(block.weightCount());
    std::vector<float> b(block.bufferCount());
    Rng rng(seed);
    block.init(w, b, rng);
    liftBatchNormBias(block, w);
    const Tensor input = testing::randomTensor(x, seed + 1);
    testing::expectGradientsMatch(unitTarget(block, b), input, w, seed + 2, kBlockCheck);
}

TEST(BasicBlock, BackwardMatchesFiniteDifferencesWithDownsample) {
    const BasicBlock block("layer2.0", TensorShape{1, 3, 6, 6}, 4, 2);
    ASSERT_TRUE(block.hasDownsample());
    expectBlockGradientsMatch(block, TensorShape{3, 3, 6, 6}, 11);
}

TEST(BasicBlock, BackwardMatchesFiniteDifferencesWithIdentityShortcut) {
    const BasicBlock block("layer1.0", TensorShape{1, 4, 5, 5}, 4, 1);
    ASSERT_FALSE(block.hasDownsample());
    expectBlockGradientsMatch(block, TensorShape{2, 4, 5, 5}, 21);
}

// The block's layers run one by one, each keeping what its own forward saves (conv2 its input):
// the reference for BasicBlock's rebuilt conv2 input and its release of each layer's context.
struct BlockByHand {
    const BasicBlock& block;
    std::int64_t in, out, stride;

    std::size_t offsetOf(const std::string& name) const {
        for (const UnitParam& p : block.params()) {
            if (p.name == block.name() + "." + name) {
                return p.offset;
            }
        }
        ADD_FAILURE() << "no parameter " << name;
        return 0;
    }

    // Forward (Train) with `w` and `buf`, then backward of dy with `wBack` (stale weights),
    // adding the weight gradients into gw; returns dx, and in `held` the bytes the layers'
    // contexts held between the two.
    Tensor run(const Tensor& x,
               std::span<const float> w,
               std::span<float> buf,
               std::span<const float> wBack,
               const Tensor& dy,
               std::span<float> gw,
               std::size_t& held) const {
        const nn::Conv2d conv1({.inChannels = in, .outChannels = out, .stride = stride});
        const nn::Conv2d conv2({.inChannels = out, .outChannels = out});
        const nn::Conv2d down(
            {.inChannels = in, .outChannels = out, .kernel = 1, .stride = stride, .padding = 0});
        const nn::BatchNorm2d bn({.channels = out});
        const nn::ReLU relu;
        const auto c = static_cast<std::size_t>(out);
        const auto params = [&](const std::string& layer, std::size_t weights, bool norm) {
            const std::size_t o = offsetOf(layer + ".weight");
            return nn::LayerParams{
                .weights = w.subspan(o, weights),
                .buffers = norm ? buf.subspan(offsetOf(layer + ".running_mean"), 2 * c + 1)
                                : std::span<float>{}};
        };
        const auto back = [&](const std::string& layer, std::size_t weights) {
            return nn::LayerParams{.weights = wBack.subspan(offsetOf(layer + ".weight"), weights),
                                   .buffers = {}};
        };
        const auto grad = [&](const std::string& layer, std::size_t weights) {
            return gw.subspan(offsetOf(layer + ".weight"), weights);
        };
        const std::size_t k1 = conv1.weightCount();
        const std::size_t k2 = conv2.weightCount();
        const std::size_t kd = down.weightCount();
        std::vector<nn::Context> ctx(8);
        Tensor h = conv1.forward(params("conv1", k1, false), x, ctx[0], nn::Mode::Train);
        h = bn.forward(params("bn1", 2 * c, true), h, ctx[1], nn::Mode::Train);
        h = relu.forward({}, h, ctx[2], nn::Mode::Train);
        h = conv2.forward(params("conv2", k2, false), h, ctx[3], nn::Mode::Train);
        h = bn.forward(params("bn2", 2 * c, true), h, ctx[4], nn::Mode::Train);
        if (block.hasDownsample()) {
            Tensor s = down.forward(params("downsample.0", kd, false), x, ctx[6], nn::Mode::Train);
            s = bn.forward(params("downsample.1", 2 * c, true), s, ctx[7], nn::Mode::Train);
            nn::addInPlace(h, s);
        } else {
            nn::addInPlace(h, x);
        }
        static_cast<void>(relu.forward({}, h, ctx[5], nn::Mode::Train));
        held = 0;
        for (const nn::Context& one : ctx) {
            held += one.bytes();
        }

        const Tensor dSum = relu.backward({}, dy, ctx[5], {});
        Tensor d = bn.backward(back("bn2", 2 * c), dSum, ctx[4], grad("bn2", 2 * c));
        d = conv2.backward(back("conv2", k2), d, ctx[3], grad("conv2", k2));
        d = relu.backward({}, d, ctx[2], {});
        d = bn.backward(back("bn1", 2 * c), d, ctx[1], grad("bn1", 2 * c));
        d = conv1.backward(back("conv1", k1), d, ctx[0], grad("conv1", k1));
        if (block.hasDownsample()) {
            Tensor ds =
                bn.backward(back("downsample.1", 2 * c), dSum, ctx[7], grad("downsample.1", 2 * c));
            ds = down.backward(back("downsample.0", kd), ds, ctx[6], grad("downsample.0", kd));
            nn::addInPlace(d, ds);
        } else {
            nn::addInPlace(d, dSum);
        }
        return d;
    }
};

// BasicBlock keeps no copy of conv2's input through to backward (it rebuilds relu(bn1(·)) from
// bn1's x̂ and the γ, β of the forward) and releases each layer's context after its backward:
// the same bits as the layers run one by one with everything kept, even when backward gets
// other weights than the forward (a stale-weight policy), with one tensor fewer held between.
void expectBlockMatchesLayersByHand(std::int64_t in,
                                    std::int64_t out,
                                    std::int64_t stride,
                                    std::int64_t size) {
    const BasicBlock block("layer", TensorShape{1, in, size, size}, out, stride);
    std::vector<float> w(block.weightCount());
    std::vector<float> buf(block.bufferCount());
    Rng rng(41);
    block.init(w, buf, rng);
    std::vector<float> stale = w;
    for (std::size_t i = 0; i < w.size(); ++i) {  // every γ and β off 1 and 0, some β negative
        w[i] += 0.25F * rng.normal();
        stale[i] = w[i] + 0.5F * rng.normal();
    }
    const Tensor x = testing::randomTensor(TensorShape{3, in, size, size}, 42);
    const TensorShape o = block.outputShape();
    const Tensor dy = testing::randomTensor(TensorShape{3, o[1], o[2], o[3]}, 43);

    std::vector<float> bufBlock = buf;
    std::vector<float> gwBlock(w.size(), 0.0F);
    UnitContext ctx;
    const Tensor y = block.forward(w, bufBlock, x, ctx, nn::Mode::Train);
    const std::size_t held = ctx.bytes();
    const Tensor dxBlock = block.backward(stale, dy, ctx, gwBlock);
    EXPECT_EQ(ctx.bytes(), 0U) << "backward releases every layer's saved state";

    std::vector<float> bufHand = buf;
    std::vector<float> gwHand(w.size(), 0.0F);
    const BlockByHand hand{.block = block, .in = in, .out = out, .stride = stride};
    std::size_t handHeld = 0;
    const Tensor dxHand = hand.run(x, w, bufHand, stale, dy, gwHand, handHeld);
    EXPECT_TRUE(testing::sameBits(dxBlock.span(), dxHand.span()));
    EXPECT_TRUE(testing::sameBits(gwBlock, gwHand));
    EXPECT_TRUE(testing::sameBits(bufBlock, bufHand));
    // Between forward and backward the block holds exactly conv2's input (y's shape) less.
    EXPECT_EQ(handHeld - held, static_cast<std::size_t>(y.numel()) * sizeof(float));
}

// On every kernel path (tests/support/isa_paths.hpp): 7x7 maps leave scalar tails, 8x8 maps
// with stride 2 take the stride-2 convolution.
class BasicBlockPath : public lp::testing::OnEachPath {};

LP_TEST_ON_EACH_PATH(BasicBlockPath);

TEST_P(BasicBlockPath, RebuildsConv2InputWithTheForwardsBitsIdentityShortcut) {
    expectBlockMatchesLayersByHand(6, 6, 1, 7);
}

TEST_P(BasicBlockPath, RebuildsConv2InputWithTheForwardsBitsWithDownsample) {
    expectBlockMatchesLayersByHand(4, 8, 2, 8);
}

// forwardConsuming (what forwardUnits hands every unit after the first): conv1 keeps the given
// input's storage instead of a copy (Train), the shortcut reads it from there, and the output,
// buffers and saved state are forward's to the bit; in Eval mode it saves nothing and the input
// is left whole.
void expectConsumingForwardMatches(std::int64_t in, std::int64_t out, std::int64_t stride) {
    const BasicBlock block("layer", TensorShape{1, in, 7, 7}, out, stride);
    std::vector<float> w(block.weightCount());
    std::vector<float> buf(block.bufferCount());
    Rng rng(51);
    block.init(w, buf, rng);
    const Tensor x = testing::randomTensor(TensorShape{2, in, 7, 7}, 52);
    for (const nn::Mode mode : {nn::Mode::Train, nn::Mode::Eval}) {
        std::vector<float> bufCopy = buf;
        UnitContext copied;
        const Tensor yCopy = block.forward(w, bufCopy, x, copied, mode);

        std::vector<float> bufOwn = buf;
        UnitContext owned;
        Tensor given = x;
        const float* storage = given.data();
        const Tensor yOwn = block.forwardConsuming(w, bufOwn, std::move(given), owned, mode);
        EXPECT_TRUE(testing::sameBits(yOwn.span(), yCopy.span()));
        EXPECT_TRUE(testing::sameBits(bufOwn, bufCopy));
        ASSERT_EQ(owned.layers.size(), copied.layers.size());
        for (std::size_t i = 0; i < owned.layers.size(); ++i) {
            ASSERT_EQ(owned.layers[i].saved.size(), copied.layers[i].saved.size()) << i;
            for (std::size_t k = 0; k < owned.layers[i].saved.size(); ++k) {
                EXPECT_TRUE(testing::sameBits(owned.layers[i].saved[k].span(),
                                              copied.layers[i].saved[k].span()))
                    << i << "." << k;
            }
        }
        if (mode == nn::Mode::Train) {
            EXPECT_EQ(nn::Conv2d::savedInput(owned.layers[0]).data(), storage)
                << "conv1 keeps the given input itself";
        } else {
            // NOLINTNEXTLINE(bugprone-use-after-move): Eval mode does not take it
            EXPECT_EQ(given.data(), storage) << "Eval mode leaves the input whole";
        }
    }
}

TEST(BasicBlock, ConsumingForwardKeepsTheInputWithoutACopyIdentityShortcut) {
    expectConsumingForwardMatches(6, 6, 1);
}

TEST(BasicBlock, ConsumingForwardKeepsTheInputWithoutACopyWithDownsample) {
    expectConsumingForwardMatches(4, 8, 2);
}

// The whole backward chain: a width-8 ResNet-18 memorises a fixed batch of 64 images.
// The observer behind `layerpipe bench`'s per-layer table sees every layer of the real model once
// per forward and once per backward, under its torchvision name, and nothing of a pass it is not
// passed to (issue 16: no process-global observer).
TEST(ResNet, LayerObserverSeesEveryLayerByName) {
    struct Calls final : LayerObserver {
        std::map<std::string, int> forward;
        std::map<std::string, int> backward;

        void layerDone(const std::string& name,
                       const nn::Layer& /*layer*/,
                       const TensorShape& in,
                       const TensorShape& out,
                       bool isBackward,
                       double seconds) override {
            EXPECT_GE(seconds, 0.0);
            EXPECT_EQ(in[0], 2);
            EXPECT_EQ(out[0], 2);
            ++(isBackward ? backward : forward)[name];
        }
    };

    const ResNet net({.width = 4, .inChannels = 3, .inSize = 8, .classes = 5});
    ModelState st = ModelState::create(net, 1);
    AlignedBuffer grads(net.weightCount());
    std::vector<UnitContext> ctxs;
    const Tensor x(TensorShape{2, 3, 8, 8}, 0.5F);
    Calls calls;
    {
        const Tensor logits = forwardUnits(net,
                                           0,
                                           net.unitCount(),
                                           st.weights.span(),
                                           st.buffers.span(),
                                           x,
                                           ctxs,
                                           nn::Mode::Train,
                                           &calls);
        const nn::LossResult loss =
            nn::softmaxCrossEntropy(logits, std::vector<std::int32_t>{0, 1});
        backwardUnits(net,
                      0,
                      net.unitCount(),
                      st.weights.span(),
                      loss.gradLogits,
                      ctxs,
                      grads.span(),
                      &calls);
    }
    EXPECT_EQ(calls.forward, calls.backward);
    for (const char* name : {"conv1",
                             "bn1",
                             "layer1.0.conv1",
                             "layer1.0.bn2",
                             "layer2.0.downsample.0",
                             "layer2.0.downsample.1",
                             "fc"}) {
        EXPECT_EQ(calls.forward[name], 1) << name;
    }
    EXPECT_EQ(calls.forward["layer4.1.relu"], 2);  // after bn1 and after the residual add
    // 3 stem layers, 8 blocks of 6 (+ 2 in the three downsampling blocks), pool + fc.
    int total = 0;
    for (const auto& [name, n] : calls.forward) {
        total += n;
    }
    EXPECT_EQ(total, 3 + 8 * 6 + 3 * 2 + 2);
    calls.forward.clear();
    forwardUnits(
        net, 0, net.unitCount(), st.weights.span(), st.buffers.span(), x, ctxs, nn::Mode::Eval);
    EXPECT_TRUE(calls.forward.empty());  // not passed: the contexts do not keep it
}

TEST(ResNet, Width8OverfitsAFixedBatch) {
    const ResNet net(ResNetSpec{.width = 8, .inChannels = 3, .inSize = 16, .classes = 10});
    ModelState st = ModelState::create(net, 7);
    const std::int64_t n = 64;
    Tensor x(net.inputShape(n));
    std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
    Rng rng(8);
    for (std::int64_t i = 0; i < n; ++i) {
        labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % 10);
    }
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        x[i] = rng.normal();
    }
    const optim::Optimizer opt(optim::OptimizerConfig{.momentum = 0.9F, .weightDecay = 0.0F});
    AlignedBuffer grads(net.weightCount());
    AlignedBuffer state(opt.stateSize(net.weightCount()));
    std::vector<UnitContext> ctxs;
    double accuracy = 0.0;
    for (std::int64_t step = 1; step <= 300 && accuracy < 1.0; ++step) {
        const Tensor logits = forwardUnits(net,
                                           0,
                                           net.unitCount(),
                                           st.weights.span(),
                                           st.buffers.span(),
                                           x,
                                           ctxs,
                                           nn::Mode::Train);
        const nn::LossResult loss = nn::softmaxCrossEntropy(logits, labels);
        ASSERT_TRUE(std::isfinite(loss.loss));
        accuracy = static_cast<double>(loss.correct) / static_cast<double>(n);
        grads.fill(0.0F);
        backwardUnits(
            net, 0, net.unitCount(), st.weights.span(), loss.gradLogits, ctxs, grads.span());
        opt.step(st.weights.span(), grads.span(), state.span(), step, 0.05F);
    }
    EXPECT_GT(accuracy, 0.95);
}

}  // namespace
}  // namespace lp::core::model
