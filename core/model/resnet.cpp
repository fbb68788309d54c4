// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/resnet.hpp"

#include "core/error.hpp"
#include "core/nn/activations.hpp"
#include "core/nn/batch_norm2d.hpp"
#include "core/nn/conv2d.hpp"
#include "core/nn/linear.hpp"
#include "core/nn/max_pool2d.hpp"
#include "core/nn/pooling.hpp"
#include "core/tensor/rng.hpp"

namespace lp::core::model {

void validate(const ResNetSpec& spec) {
    auto check = [](bool ok, const char* field, std::int64_t v, const char* allowed) {
        if (!ok) {
            throw InputError(concat("model.", field, " must be ", allowed, ", got ", v));
        }
    };
    const auto in = [](const Interval& r, std::int64_t v) {
        return r.contains(static_cast<double>(v));
    };
    check(in(kWidthRange, spec.width), "width", spec.width, kWidthRange.text(true).c_str());
    check(in(kInChannelsRange, spec.inChannels),
          "inputChannels",
          spec.inChannels,
          kInChannelsRange.text(true).c_str());
    const std::int64_t minSize = spec.stem == Stem::Cifar ? 8 : 32;
    check(in(kInSizeRange, spec.inSize) && spec.inSize >= minSize,
          "inputSize",
          spec.inSize,
          spec.stem == Stem::Cifar ? "in [8, 512] for the CIFAR stem"
                                   : "in [32, 512] for the ImageNet stem");
    check(
        in(kClassesRange, spec.classes), "classes", spec.classes, kClassesRange.text(true).c_str());
    for (std::int64_t b : spec.blocks) {
        check(b >= 1 && b <= 64, "blocks[i]", b, "in [1, 64]");
    }
}

std::array<std::int64_t, 4> blocksOf(Arch arch) {
    switch (arch) {
        case Arch::ResNet10:
            return {1, 1, 1, 1};
        case Arch::ResNet18:
            return {2, 2, 2, 2};
        case Arch::ResNet34:
            return {3, 4, 6, 3};
    }
    throw ContractError(concat("blocksOf: unknown Arch ", static_cast<int>(arch)));
}

ResNet::ResNet(const ResNetSpec& spec) : spec_(spec) {
    validate(spec);
    const TensorShape in{1, spec.inChannels, spec.inSize, spec.inSize};

    auto stem = std::make_unique<SequentialUnit>("stem", in);
    // CIFAR stem: conv 3x3 stride 1; ImageNet stem: conv 7x7 stride 2, then the max-pool below.
    const bool cifar = spec.stem == Stem::Cifar;
    stem->append(std::make_unique<nn::Conv2d>(nn::Conv2dSpec{.inChannels = spec.inChannels,
                                                             .outChannels = spec.width,
                                                             .kernel = cifar ? 3 : 7,
                                                             .stride = cifar ? 1 : 2,
                                                             .padding = cifar ? 1 : 3}),
                 "conv1");
    stem->append(normLayer(spec.batchNorm, spec.width, spec.bnMomentum), "bn1");
    stem->append(std::make_unique<nn::ReLU>(), "relu");
    if (spec.stem == Stem::ImageNet) {
        stem->append(std::make_unique<nn::MaxPool2d>(
                         nn::MaxPool2dSpec{.kernel = 3, .stride = 2, .padding = 1}),
                     "maxpool");
    }
    TensorShape shape = stem->outputShape();
    units_.push_back(std::move(stem));

    std::int64_t channels = spec.width;
    for (std::size_t stage = 0; stage < 4; ++stage) {
        for (std::int64_t b = 0; b < spec.blocks[stage]; ++b) {
            const std::int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
            auto block = std::make_unique<BasicBlock>(concat("layer", stage + 1, ".", b),
                                                      shape,
                                                      channels,
                                                      stride,
                                                      spec.batchNorm,
                                                      spec.bnMomentum);
            shape = block->outputShape();
            units_.push_back(std::move(block));
        }
        channels *= 2;
    }

    auto head = std::make_unique<SequentialUnit>("head", shape);
    head->append(std::make_unique<nn::GlobalAvgPool>(), "avgpool");
    head->append(std::make_unique<nn::Linear>(
                     nn::LinearSpec{.inFeatures = shape[1], .outFeatures = spec.classes}),
                 "fc");
    units_.push_back(std::move(head));

    weightOffsets_.push_back(0);
    bufferOffsets_.push_back(0);
    for (std::size_t u = 0; u < units_.size(); ++u) {
        for (const UnitParam& p : units_[u]->params()) {
            const bool isWeight = p.kind == nn::ParamKind::Weight;
            params_.push_back(
                {.name = p.name,
                 .shape = p.shape,
                 .kind = p.kind,
                 .offset = p.offset + (isWeight ? weightOffsets_.back() : bufferOffsets_.back()),
                 .unit = u});
        }
        weightOffsets_.push_back(weightOffsets_.back() + units_[u]->weightCount());
        bufferOffsets_.push_back(bufferOffsets_.back() + units_[u]->bufferCount());
    }
}

std::vector<std::string> ResNet::unitNames() const {
    std::vector<std::string> names;
    names.reserve(units_.size());
    for (const auto& u : units_) {
        names.push_back(u->name());
    }
    return names;
}

void ResNet::init(std::span<float> weights, std::span<float> buffers, std::uint64_t seed) const {
    LP_EXPECTS(weights.size() == weightCount() && buffers.size() == bufferCount(),
               "ResNet::init: buffers of the wrong size");
    for (std::size_t u = 0; u < units_.size(); ++u) {
        Rng rng(Rng::derive(seed, 0x1417, u));
        units_[u]->init(weights.subspan(weightOffsets_[u], units_[u]->weightCount()),
                        buffers.subspan(bufferOffsets_[u], units_[u]->bufferCount()),
                        rng);
    }
}

TensorShape ResNet::inputShape(std::int64_t n) const {
    return {n, spec_.inChannels, spec_.inSize, spec_.inSize};
}

Tensor forwardUnits(const ResNet& net,
                    std::size_t first,
                    std::size_t last,
                    std::span<const float> weights,
                    std::span<float> buffers,
                    const Tensor& x,
                    std::vector<UnitContext>& ctxs,
                    nn::Mode mode,
                    LayerObserver* observer) {
    LP_EXPECTS(first < last && last <= net.unitCount(), "forwardUnits: bad unit range");
    LP_EXPECTS(weights.size() == net.weightOffset(last) - net.weightOffset(first),
               "forwardUnits: weight span does not cover the units");
    LP_EXPECTS(buffers.size() == net.bufferOffset(last) - net.bufferOffset(first),
               "forwardUnits: buffer span does not cover the units");
    ctxs.resize(last - first);
    Tensor y;
    for (std::size_t u = first; u < last; ++u) {
        const Unit& unit = net.unit(u);
        ctxs[u - first].observer = observer;
        const std::span<const float> w =
            weights.subspan(net.weightOffset(u) - net.weightOffset(first), unit.weightCount());
        const std::span<float> b =
            buffers.subspan(net.bufferOffset(u) - net.bufferOffset(first), unit.bufferCount());
        // The caller keeps x; every later unit's input is its predecessor's output, which it
        // may keep without a copy (a BasicBlock's conv1 does).
        y = u == first ? unit.forward(w, b, x, ctxs[u - first], mode)
                       : unit.forwardConsuming(w, b, std::move(y), ctxs[u - first], mode);
    }
    return y;
}

Tensor backwardUnits(const ResNet& net,
                     std::size_t first,
                     std::size_t last,
                     std::span<const float> weights,
                     const Tensor& dy,
                     std::vector<UnitContext>& ctxs,
                     std::span<float> gradWeights,
                     LayerObserver* observer) {
    LP_EXPECTS(first < last && last <= net.unitCount(), "backwardUnits: bad unit range");
    LP_EXPECTS(weights.size() == net.weightOffset(last) - net.weightOffset(first) &&
                   gradWeights.size() == weights.size(),
               "backwardUnits: weight spans do not cover the units");
    LP_EXPECTS(ctxs.size() == last - first, "backwardUnits: needs the forward's contexts");
    Tensor d;
    const Tensor* in = &dy;
    for (std::size_t u = last; u-- > first;) {
        const Unit& unit = net.unit(u);
        const std::size_t off = net.weightOffset(u) - net.weightOffset(first);
        ctxs[u - first].observer = observer;
        d = unit.backward(weights.subspan(off, unit.weightCount()),
                          *in,
                          ctxs[u - first],
                          gradWeights.subspan(off, unit.weightCount()));
        in = &d;
    }
    return d;
}

ModelState ModelState::create(const ResNet& net, std::uint64_t seed) {
    ModelState s{.weights = AlignedBuffer(net.weightCount()),
                 .buffers = AlignedBuffer(net.bufferCount())};
    net.init(s.weights.span(), s.buffers.span(), seed);
    return s;
}

std::span<const float> ModelState::unitWeights(const ResNet& net, std::size_t u) const {
    return weights.span().subspan(net.weightOffset(u), net.unit(u).weightCount());
}

std::span<float> ModelState::unitWeights(const ResNet& net, std::size_t u) {
    return weights.span().subspan(net.weightOffset(u), net.unit(u).weightCount());
}

std::span<float> ModelState::unitBuffers(const ResNet& net, std::size_t u) {
    return buffers.span().subspan(net.bufferOffset(u), net.unit(u).bufferCount());
}

}  // namespace lp::core::model
