// ResNet builder: ResNet-18 by default in its CIFAR variant (DESIGN.md section 3), cut into
// pipeline units — stem, each BasicBlock, head — with torchvision parameter names.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"
#include "core/model/unit.hpp"
#include "core/tensor/tensor.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::model {

using Stem = core::Stem;  // Cifar: 3x3/1, no max-pool; ImageNet: 7x7/2 + 3x3/2 max-pool

struct ResNetSpec {
    std::int64_t width = 64;  // channels of the first stage (64 = the real ResNet-18)
    std::int64_t inChannels = 3;
    std::int64_t inSize = 32;  // square inputs
    std::int64_t classes = 100;
    Stem stem = Stem::Cifar;
    std::array<std::int64_t, 4> blocks{2, 2, 2, 2};  // {1,1,1,1} ResNet-10, {3,4,6,3} ResNet-34
    // false: every BatchNorm is an identity (no parameters, no buffers). Not a model to train
    // for accuracy; it makes the loss a plain sum over samples, so that GPipe's micro-batch
    // accumulation can be checked against the full-batch gradient (DESIGN.md section 4).
    bool batchNorm = true;
    // Weight of a batch's statistics in BN's running averages (PyTorch's momentum, 0.1). BN
    // recalibration builds a twin with 1, whose Train forward stores each batch's statistics.
    float bnMomentum = 0.1F;
};

// The spec's ranges (also the config's model.* ranges). inSize's lower end is 8 for the CIFAR
// stem and 32 for the ImageNet stem.
inline constexpr Interval kWidthRange{'[', 1, 256, ']'};
inline constexpr Interval kInChannelsRange{'[', 1, 16, ']'};
inline constexpr Interval kInSizeRange{'[', 8, 512, ']'};
inline constexpr Interval kClassesRange{'[', 2, 100000, ']'};

// Throws InputError naming the field and the allowed range.
void validate(const ResNetSpec& spec);
// BasicBlocks per stage: {1,1,1,1} ResNet-10, {2,2,2,2} ResNet-18, {3,4,6,3} ResNet-34.
std::array<std::int64_t, 4> blocksOf(Arch arch);

// By name ("resnet10" | "resnet18" | "resnet34", core/choices.hpp); nullopt for another name.
inline std::optional<std::array<std::int64_t, 4>> blocksForArch(std::string_view arch) {
    const std::optional<Arch> a = parseChoice<Arch>(arch);
    return a ? std::optional(blocksOf(*a)) : std::nullopt;
}

inline std::optional<Stem> parseStem(std::string_view name) {
    return parseChoice<Stem>(name);
}

inline std::string_view toString(Stem stem) {
    return choiceName(stem);
}

// A parameter of the whole model: its torchvision name and its place in the model-wide flat
// buffers (weights for kind Weight, buffers otherwise), which are the units' buffers back to back.
struct ModelParam {
    std::string name;
    TensorShape shape;
    nn::ParamKind kind = nn::ParamKind::Weight;
    std::size_t offset = 0;
    std::size_t unit = 0;
};

class ResNet {
public:
    explicit ResNet(const ResNetSpec& spec);

    const ResNetSpec& spec() const { return spec_; }

    std::size_t unitCount() const { return units_.size(); }

    const Unit& unit(std::size_t u) const { return *units_[u]; }

    // First float of unit u in the model-wide weight / buffer arrays; u == unitCount() gives the
    // totals.
    std::size_t weightOffset(std::size_t u) const { return weightOffsets_[u]; }

    std::size_t bufferOffset(std::size_t u) const { return bufferOffsets_[u]; }

    std::size_t weightCount() const { return weightOffsets_.back(); }

    std::size_t bufferCount() const { return bufferOffsets_.back(); }

    const std::vector<ModelParam>& params() const { return params_; }

    std::vector<std::string> unitNames() const;

    // Deterministic torchvision-like initialisation of model-wide buffers from a seed; unit u
    // draws from its own stream (seed, u), so a stage can be initialised alone.
    void init(std::span<float> weights, std::span<float> buffers, std::uint64_t seed) const;

    // Input shape [N, C, H, W] for a batch of n.
    TensorShape inputShape(std::int64_t n) const;

private:
    ResNetSpec spec_;
    std::vector<std::unique_ptr<Unit>> units_;
    std::vector<std::size_t> weightOffsets_;
    std::vector<std::size_t> bufferOffsets_;
    std::vector<ModelParam> params_;
};

// Runs units [first, last) forward. `weights`/`buffers` hold exactly those units' floats back to
// back (a stage's flat buffers, or the whole model's when first = 0, last = unitCount()).
// ctxs is resized to last - first. x: [N, ...unit(first).inputShape]. observer (may be null)
// sees every layer call of this pass (layerpipe bench).
Tensor forwardUnits(const ResNet& net,
                    std::size_t first,
                    std::size_t last,
                    std::span<const float> weights,
                    std::span<float> buffers,
                    const Tensor& x,
                    std::vector<UnitContext>& ctxs,
                    nn::Mode mode,
                    LayerObserver* observer = nullptr);
// Backward through units [first, last) in reverse; ADDS into gradWeights (same layout as weights).
Tensor backwardUnits(const ResNet& net,
                     std::size_t first,
                     std::size_t last,
                     std::span<const float> weights,
                     const Tensor& dy,
                     std::vector<UnitContext>& ctxs,
                     std::span<float> gradWeights,
                     LayerObserver* observer = nullptr);

// The model's parameters and buffers, model-wide and flat, for the sequential trainer and
// checkpoints.
struct ModelState {
    AlignedBuffer weights;
    AlignedBuffer buffers;
    static ModelState create(const ResNet& net, std::uint64_t seed);
    std::span<const float> unitWeights(const ResNet& net, std::size_t u) const;
    std::span<float> unitWeights(const ResNet& net, std::size_t u);
    std::span<float> unitBuffers(const ResNet& net, std::size_t u);
};

}  // namespace lp::core::model
