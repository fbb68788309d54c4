// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/unit.hpp"

#include "core/error.hpp"
#include "core/nn/activations.hpp"
#include "core/nn/batch_norm2d.hpp"
#include "core/nn/conv2d.hpp"
#include "core/nn/elementwise.hpp"
#include "core/nn/identity.hpp"

#include <chrono>
#include <utility>

namespace lp::core::model {

std::size_t UnitContext::bytes() const {
    std::size_t total = 0;
    for (const nn::Context& c : layers) {
        total += c.bytes();
    }
    return total;
}

void UnitContext::clear() {
    for (nn::Context& c : layers) {
        c.clear();
    }
}

Unit::Unit(std::string name, TensorShape inputShape)
    : name_(std::move(name)), inputShape_(inputShape), outputShape_(inputShape) {}

std::size_t Unit::addLayer(std::unique_ptr<nn::Layer> layer, const std::string& prefix) {
    weightOffset_.push_back(weightCount_);
    bufferOffset_.push_back(bufferCount_);
    for (const nn::ParamSpec& spec : layer->params()) {
        const bool isWeight = spec.kind == nn::ParamKind::Weight;
        std::size_t& counter = isWeight ? weightCount_ : bufferCount_;
        params_.push_back({.name = prefix + "." + spec.name,
                           .shape = spec.shape,
                           .kind = spec.kind,
                           .offset = counter});
        counter += static_cast<std::size_t>(spec.shape.numel());
    }
    layers_.push_back(std::move(layer));
    layerNames_.push_back(prefix);
    return layers_.size() - 1;
}

void Unit::init(std::span<float> weights, std::span<float> buffers, Rng& rng) const {
    LP_EXPECTS(weights.size() == weightCount_ && buffers.size() == bufferCount_,
               "unit " + name_ + ": parameter spans have the wrong size");
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        layers_[i]->init(weights.subspan(weightOffset_[i], layers_[i]->weightCount()),
                         buffers.subspan(bufferOffset_[i], layers_[i]->bufferCount()),
                         rng);
    }
}

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs one layer's forward or backward (`run`), timed for the observer if there is one.
// `known` is the shape of the tensor going in (copied before `run` may consume it).
template <typename Run>
Tensor observed(LayerObserver* observer,
                const std::string& name,
                const nn::Layer& l,
                TensorShape known,
                bool backward,
                const Run& run) {
    if (observer == nullptr) {
        return run();
    }
    const auto t0 = std::chrono::steady_clock::now();
    Tensor out = run();
    const double seconds = secondsSince(t0);
    // layerDone takes (input shape, output shape) of the forward in both directions.
    observer->layerDone(
        name, l, backward ? out.shape() : known, backward ? known : out.shape(), backward, seconds);
    return out;
}

}  // namespace

Tensor Unit::forwardLayer(std::size_t i,
                          std::span<const float> weights,
                          std::span<float> buffers,
                          const Tensor& x,
                          UnitContext& ctx,
                          nn::Mode mode) const {
    const nn::Layer& l = *layers_[i];
    const nn::LayerParams p{.weights = weightSlice(i, weights),
                            .buffers = buffers.subspan(bufferOffset_[i], l.bufferCount())};
    return observed(ctx.observer, layerNames_[i], l, x.shape(), false, [&] {
        return l.forward(p, x, ctx.layers[i], mode);
    });
}

Tensor Unit::forwardLayer(std::size_t i,
                          std::span<const float> weights,
                          std::span<float> buffers,
                          Tensor&& x,
                          UnitContext& ctx,
                          nn::Mode mode) const {
    const nn::Layer& l = *layers_[i];
    const nn::LayerParams p{.weights = weightSlice(i, weights),
                            .buffers = buffers.subspan(bufferOffset_[i], l.bufferCount())};
    return observed(ctx.observer, layerNames_[i], l, x.shape(), false, [&] {
        return l.forwardConsuming(p, std::move(x), ctx.layers[i], mode);
    });
}

Tensor Unit::backwardLayer(std::size_t i,
                           std::span<const float> weights,
                           const Tensor& dy,
                           UnitContext& ctx,
                           std::span<float> gradWeights) const {
    const nn::Layer& l = *layers_[i];
    const nn::LayerParams p{.weights = weightSlice(i, weights), .buffers = {}};
    const std::span<float> g = weightSlice(i, gradWeights);
    Tensor dx = observed(ctx.observer, layerNames_[i], l, dy.shape(), true, [&] {
        return l.backward(p, dy, ctx.layers[i], g);
    });
    ctx.layers[i].clear();
    return dx;
}

Tensor Unit::backwardLayer(std::size_t i,
                           std::span<const float> weights,
                           Tensor&& dy,
                           UnitContext& ctx,
                           std::span<float> gradWeights) const {
    const nn::Layer& l = *layers_[i];
    const nn::LayerParams p{.weights = weightSlice(i, weights), .buffers = {}};
    const std::span<float> g = weightSlice(i, gradWeights);
    Tensor dx = observed(ctx.observer, layerNames_[i], l, dy.shape(), true, [&] {
        return l.backwardConsuming(p, std::move(dy), ctx.layers[i], g);
    });
    ctx.layers[i].clear();
    return dx;
}

namespace {

void checkSpans(const Unit& u, std::size_t weights, std::size_t buffers) {
    LP_EXPECTS(
        weights == u.weightCount(),
        concat("unit ", u.name(), ": expected ", u.weightCount(), " weights, got ", weights));
    LP_EXPECTS(
        buffers == u.bufferCount() || buffers == 0,
        concat("unit ", u.name(), ": expected ", u.bufferCount(), " buffer floats, got ", buffers));
}

}  // namespace

void SequentialUnit::append(std::unique_ptr<nn::Layer> layer, const std::string& prefix) {
    setOutputShape(layer->outputShape(outputShape()));
    addLayer(std::move(layer), prefix);
}

Tensor SequentialUnit::forward(std::span<const float> weights,
                               std::span<float> buffers,
                               const Tensor& x,
                               UnitContext& ctx,
                               nn::Mode mode) const {
    checkSpans(*this, weights.size(), buffers.size());
    ctx.layers.resize(layerCount());
    Tensor y = forwardLayer(0, weights, buffers, x, ctx, mode);
    for (std::size_t i = 1; i < layerCount(); ++i) {
        y = forwardLayer(i, weights, buffers, std::move(y), ctx, mode);
    }
    return y;
}

Tensor SequentialUnit::backward(std::span<const float> weights,
                                const Tensor& dy,
                                UnitContext& ctx,
                                std::span<float> gradWeights) const {
    checkSpans(*this, weights.size(), 0);
    LP_EXPECTS(gradWeights.size() == weightCount(), "unit " + name() + ": gradient span size");
    Tensor d = backwardLayer(layerCount() - 1, weights, dy, ctx, gradWeights);
    for (std::size_t i = layerCount() - 1; i-- > 0;) {
        d = backwardLayer(i, weights, std::move(d), ctx, gradWeights);
    }
    return d;
}

namespace {

// Layer indices inside a BasicBlock, in torchvision state_dict order for the parameters.
enum BlockLayer : std::size_t {
    kConv1,
    kBn1,
    kRelu1,
    kConv2,
    kBn2,
    kReluOut,
    kDownConv,
    kDownBn,
};

}  // namespace

std::unique_ptr<nn::Layer> normLayer(bool batchNorm, std::int64_t channels, float momentum) {
    if (batchNorm) {
        return std::make_unique<nn::BatchNorm2d>(
            nn::BatchNorm2dSpec{.channels = channels, .momentum = momentum});
    }
    return std::make_unique<nn::Identity>();
}

BasicBlock::BasicBlock(const std::string& prefix,
                       const TensorShape& inputShape,
                       std::int64_t outChannels,
                       std::int64_t stride,
                       bool batchNorm,
                       float bnMomentum)
    : Unit(prefix, inputShape) {
    LP_EXPECTS(inputShape.rank() == 4, "BasicBlock input must be [1, C, H, W]");
    const std::int64_t inChannels = inputShape[1];
    hasDownsample_ = stride != 1 || inChannels != outChannels;
    auto conv =
        [](std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t s, std::int64_t pad) {
            return std::make_unique<nn::Conv2d>(nn::Conv2dSpec{
                .inChannels = in, .outChannels = out, .kernel = k, .stride = s, .padding = pad});
        };
    auto bn = [batchNorm, bnMomentum](std::int64_t c) {
        return normLayer(batchNorm, c, bnMomentum);
    };
    addLayer(conv(inChannels, outChannels, 3, stride, 1), prefix + ".conv1");
    addLayer(bn(outChannels), prefix + ".bn1");
    addLayer(std::make_unique<nn::ReLU>(), prefix + ".relu");
    addLayer(conv(outChannels, outChannels, 3, 1, 1), prefix + ".conv2");
    addLayer(bn(outChannels), prefix + ".bn2");
    addLayer(std::make_unique<nn::ReLU>(), prefix + ".relu");
    if (hasDownsample_) {
        addLayer(conv(inChannels, outChannels, 1, stride, 0), prefix + ".downsample.0");
        addLayer(bn(outChannels), prefix + ".downsample.1");
    }
    setOutputShape(layer(kConv1).outputShape(inputShape));
}

const nn::BatchNorm2d* BasicBlock::rebuildSource() const {
    return dynamic_cast<const nn::BatchNorm2d*>(&layer(kBn1));
}

Tensor BasicBlock::forward(std::span<const float> weights,
                           std::span<float> buffers,
                           const Tensor& x,
                           UnitContext& ctx,
                           nn::Mode mode) const {
    checkSpans(*this, weights.size(), buffers.size());
    ctx.layers.resize(layerCount());
    Tensor h = forwardLayer(kConv1, weights, buffers, x, ctx, mode);  // saves a copy of x
    return forwardAfterConv1(weights, buffers, std::move(h), x, ctx, mode);
}

Tensor BasicBlock::forwardConsuming(std::span<const float> weights,
                                    std::span<float> buffers,
                                    Tensor&& x,
                                    UnitContext& ctx,
                                    nn::Mode mode) const {
    checkSpans(*this, weights.size(), buffers.size());
    ctx.layers.resize(layerCount());
    // In Train mode conv1 keeps x's storage as its saved input; in Eval mode it saves nothing and
    // leaves x as it was.
    const Tensor* const unsaved = &x;
    Tensor h = forwardLayer(kConv1, weights, buffers, std::move(x), ctx, mode);
    const Tensor& input =
        mode == nn::Mode::Train ? nn::Conv2d::savedInput(ctx.layers[kConv1]) : *unsaved;
    return forwardAfterConv1(weights, buffers, std::move(h), input, ctx, mode);
}

Tensor BasicBlock::forwardAfterConv1(std::span<const float> weights,
                                     std::span<float> buffers,
                                     Tensor h,
                                     const Tensor& input,
                                     UnitContext& ctx,
                                     nn::Mode mode) const {
    // input stays alive for the shortcut; every intermediate is handed on (std::move).
    h = forwardLayer(kBn1, weights, buffers, std::move(h), ctx, mode);
    h = forwardLayer(kRelu1, weights, buffers, std::move(h), ctx, mode);
    h = forwardLayer(kConv2, weights, buffers, std::move(h), ctx, mode);
    if (mode == nn::Mode::Train && rebuildSource() != nullptr) {
        nn::Conv2d::dropSavedInput(ctx.layers[kConv2]);  // rebuilt in backward
    }
    h = forwardLayer(kBn2, weights, buffers, std::move(h), ctx, mode);
    if (hasDownsample_) {
        Tensor s = forwardLayer(kDownConv, weights, buffers, input, ctx, mode);
        s = forwardLayer(kDownBn, weights, buffers, std::move(s), ctx, mode);
        nn::addInPlace(h, s);
    } else {
        nn::addInPlace(h, input);
    }
    return forwardLayer(kReluOut, weights, buffers, std::move(h), ctx, mode);
}

Tensor BasicBlock::backward(std::span<const float> weights,
                            const Tensor& dy,
                            UnitContext& ctx,
                            std::span<float> gradWeights) const {
    checkSpans(*this, weights.size(), 0);
    LP_EXPECTS(gradWeights.size() == weightCount(), "unit " + name() + ": gradient span size");
    // The residual add passes its gradient unchanged to both branches.
    const Tensor dSum = backwardLayer(kReluOut, weights, dy, ctx, gradWeights);
    Tensor d = backwardLayer(kBn2, weights, dSum, ctx, gradWeights);
    if (!nn::Conv2d::holdsSavedInput(ctx.layers[kConv2])) {
        const nn::BatchNorm2d* bn1 = rebuildSource();
        LP_EXPECTS(bn1 != nullptr, "unit " + name() + ": backward needs a Train-mode forward");
        // The forward's relu(bn1(·)), bit for bit: y from bn1's saved x, μ, invstd, γ, β, then the
        // ReLU layer itself (its mask goes to a scratch context; relu1's own is untouched).
        nn::Context scratch;
        nn::Conv2d::restoreSavedInput(
            ctx.layers[kConv2],
            layer(kRelu1).forwardConsuming(
                {}, bn1->recomputeOutput(ctx.layers[kBn1]), scratch, nn::Mode::Train));
    }
    d = backwardLayer(kConv2, weights, std::move(d), ctx, gradWeights);
    d = backwardLayer(kRelu1, weights, std::move(d), ctx, gradWeights);
    d = backwardLayer(kBn1, weights, std::move(d), ctx, gradWeights);
    d = backwardLayer(kConv1, weights, std::move(d), ctx, gradWeights);
    if (hasDownsample_) {
        Tensor ds = backwardLayer(kDownBn, weights, dSum, ctx, gradWeights);
        ds = backwardLayer(kDownConv, weights, std::move(ds), ctx, gradWeights);
        nn::addInPlace(d, ds);
    } else {
        nn::addInPlace(d, dSum);
    }
    return d;
}

}  // namespace lp::core::model
