// A pipeline unit: the indivisible piece of the model that a partition assigns to a stage
// (DESIGN.md section 3): the stem, one BasicBlock, or the head (pool + fc). The loss is applied
// outside the head by whoever runs the last stage.
//
// A unit owns its layers (hyper-parameters only). Its parameters are two flat spans handed in by
// the caller — `weights` (trained) and `buffers` (BN running statistics and counters) — laid out
// in torchvision state_dict order, so a stage's buffer is just the concatenation of its units'.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"
#include "core/tensor/rng.hpp"
#include "core/tensor/tensor.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lp::core::nn {
class BatchNorm2d;
}  // namespace lp::core::nn

namespace lp::core::model {

// One named tensor of a unit with its torchvision name, e.g. "layer2.0.downsample.0.weight".
// `offset` indexes the unit's weights span (kind Weight) or its buffers span (other kinds).
struct UnitParam {
    std::string name;
    TensorShape shape;
    nn::ParamKind kind = nn::ParamKind::Weight;
    std::size_t offset = 0;
};

class LayerObserver;

// Saved state of one minibatch through one unit (a context per layer), and who observes the
// unit's layer calls for it (forwardUnits and backwardUnits set it from their argument).
struct UnitContext {
    std::vector<nn::Context> layers;
    LayerObserver* observer = nullptr;  // null: the calls are not timed
    std::size_t bytes() const;
    void clear();
};

// Observes the layer calls of the units it is passed to (forwardUnits, backwardUnits: layerpipe
// bench's per-layer table — the real model, its real names and shapes). No global state: a call
// without an observer is not observed. Calls come from whichever thread runs the unit. Costs two
// clock reads per observed layer call, nothing otherwise.
class LayerObserver {
public:
    LayerObserver() = default;
    LayerObserver(const LayerObserver&) = delete;
    LayerObserver& operator=(const LayerObserver&) = delete;
    LayerObserver(LayerObserver&&) = delete;
    LayerObserver& operator=(LayerObserver&&) = delete;
    virtual ~LayerObserver() = default;
    // name: the layer's torchvision-style prefix ("layer1.0.conv1", "fc"); in/out: the shapes of
    // the layer's input and output (also for a backward call: dx and dy).
    virtual void layerDone(const std::string& name,
                           const nn::Layer& layer,
                           const TensorShape& in,
                           const TensorShape& out,
                           bool backward,
                           double seconds) = 0;
};

class Unit {
public:
    Unit(std::string name, TensorShape inputShape);
    Unit(const Unit&) = delete;
    Unit& operator=(const Unit&) = delete;
    Unit(Unit&&) = delete;
    Unit& operator=(Unit&&) = delete;
    virtual ~Unit() = default;

    const std::string& name() const { return name_; }

    // Shapes for a batch of one, e.g. [1, 64, 32, 32]; the batch dimension is free.
    const TensorShape& inputShape() const { return inputShape_; }

    const TensorShape& outputShape() const { return outputShape_; }

    std::size_t weightCount() const { return weightCount_; }

    std::size_t bufferCount() const { return bufferCount_; }

    const std::vector<UnitParam>& params() const { return params_; }

    // x: [N, ...inputShape] -> [N, ...outputShape]. Train mode saves activations into ctx and
    // updates BN running statistics in `buffers`.
    virtual Tensor forward(std::span<const float> weights,
                           std::span<float> buffers,
                           const Tensor& x,
                           UnitContext& ctx,
                           nn::Mode mode) const = 0;

    // forward for an input the caller gives up (forwardUnits hands each unit its predecessor's
    // output): a unit may keep x's storage instead of a copy. Same results, bits and saved
    // state as forward, which it defaults to.
    virtual Tensor forwardConsuming(std::span<const float> weights,
                                    std::span<float> buffers,
                                    Tensor&& x,
                                    UnitContext& ctx,
                                    nn::Mode mode) const {
        return forward(weights, buffers, x, ctx, mode);
    }

    // Returns dL/dx; ADDS dL/dweights into gradWeights. `weights` may differ from the forward's
    // (stale-weight policies); weight gradients come from the activations saved in ctx. Consumes
    // ctx: each layer's saved state is released as soon as that layer's backward has run, so the
    // activations held fall through the pass instead of staying to its end (another backward
    // needs another forward).
    virtual Tensor backward(std::span<const float> weights,
                            const Tensor& dy,
                            UnitContext& ctx,
                            std::span<float> gradWeights) const = 0;
    // torchvision-like initialisation (Kaiming-normal fan_out convs, BN γ=1 β=0, Linear default).
    void init(std::span<float> weights, std::span<float> buffers, Rng& rng) const;

protected:
    // Registers a layer whose tensors are named prefix + "." + spec name; returns its index.
    std::size_t addLayer(std::unique_ptr<nn::Layer> layer, const std::string& prefix);

    void setOutputShape(const TensorShape& shape) { outputShape_ = shape; }

    std::size_t layerCount() const { return layers_.size(); }

    const nn::Layer& layer(std::size_t i) const { return *layers_[i]; }

    Tensor forwardLayer(std::size_t i,
                        std::span<const float> weights,
                        std::span<float> buffers,
                        const Tensor& x,
                        UnitContext& ctx,
                        nn::Mode mode) const;
    // Layer i's backward; then releases its saved state (ctx.layers[i]).
    Tensor backwardLayer(std::size_t i,
                         std::span<const float> weights,
                         const Tensor& dy,
                         UnitContext& ctx,
                         std::span<float> gradWeights) const;
    // The same for an input that is dead after the call (nn::Layer::forwardConsuming): Conv2d
    // saves it without a copy, ReLU works in place.
    Tensor forwardLayer(std::size_t i,
                        std::span<const float> weights,
                        std::span<float> buffers,
                        Tensor&& x,
                        UnitContext& ctx,
                        nn::Mode mode) const;
    Tensor backwardLayer(std::size_t i,
                         std::span<const float> weights,
                         Tensor&& dy,
                         UnitContext& ctx,
                         std::span<float> gradWeights) const;

private:
    // Layer i's slice of a span laid out like the unit's weights (the weights or their gradient).
    template <typename T>
    std::span<T> weightSlice(std::size_t i, std::span<T> all) const {
        return all.subspan(weightOffset_[i], layers_[i]->weightCount());
    }

    std::string name_;
    TensorShape inputShape_;
    TensorShape outputShape_;
    std::vector<std::unique_ptr<nn::Layer>> layers_;
    std::vector<std::string> layerNames_;
    std::vector<std::size_t> weightOffset_;
    std::vector<std::size_t> bufferOffset_;
    std::vector<UnitParam> params_;
    std::size_t weightCount_ = 0;
    std::size_t bufferCount_ = 0;
};

// Layers applied one after another (the stem and the head).
class SequentialUnit : public Unit {
public:
    using Unit::Unit;
    // Appends a layer; its input is the previous layer's output shape.
    void append(std::unique_ptr<nn::Layer> layer, const std::string& prefix);

    Tensor forward(std::span<const float> weights,
                   std::span<float> buffers,
                   const Tensor& x,
                   UnitContext& ctx,
                   nn::Mode mode) const override;
    Tensor backward(std::span<const float> weights,
                    const Tensor& dy,
                    UnitContext& ctx,
                    std::span<float> gradWeights) const override;
};

// BatchNorm2d over `channels` with the given running-average momentum, or an nn::Identity when
// batchNorm is false.
std::unique_ptr<nn::Layer> normLayer(bool batchNorm, std::int64_t channels, float momentum = 0.1F);

// torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the
// shortcut is a 1x1 conv + BN when the stride or the channel count changes, else the identity.
//
// Activation memory: a Train-mode forward keeps x (conv1's input), bn1's and bn2's inputs (the
// convs' outputs, which each BatchNorm keeps instead of its x̂), the ReLUs' 1-bit masks and, with a
// downsample, its conv's copy of x and its BN's input; not conv2's input relu(bn1(·)): backward
// rebuilds it, with the forward's bits, from bn1's saved input and statistics and the γ and β its
// forward used (BatchNorm2d::recomputeOutput), just before conv2's backward needs it: one tensor of
// the four a block would hold, for one elementwise pass in backward. Without BatchNorm
// (nn::Identity) conv2 keeps its input. Measured on a Zen 5 (an AVX-512 CPU; `layerpipe bench
// --width 64 --batch-size 128 --threads 2`, AVX2 path), the training's peak RSS went 1173 -> 1005
// MiB from backward's release of each layer's context (Unit::backward) and 1005 -> 926 MiB from
// this rebuild, with images/s unchanged.
class BasicBlock : public Unit {
public:
    // prefix e.g. "layer2.0"; inputShape [1, inChannels, h, w].
    // batchNorm = false puts an nn::Identity where each BatchNorm2d would be; bnMomentum is the
    // BatchNorm layers' running-average momentum.
    BasicBlock(const std::string& prefix,
               const TensorShape& inputShape,
               std::int64_t outChannels,
               std::int64_t stride,
               bool batchNorm = true,
               float bnMomentum = 0.1F);

    bool hasDownsample() const { return hasDownsample_; }

    Tensor forward(std::span<const float> weights,
                   std::span<float> buffers,
                   const Tensor& x,
                   UnitContext& ctx,
                   nn::Mode mode) const override;
    // conv1 keeps x itself (Train mode) and the shortcut reads it from there, so conv1 saves no
    // copy (forward's const x is copied once, as conv1's saved input). A downsample conv still
    // saves its own copy: its backward runs after conv1 has released x.
    Tensor forwardConsuming(std::span<const float> weights,
                            std::span<float> buffers,
                            Tensor&& x,
                            UnitContext& ctx,
                            nn::Mode mode) const override;
    Tensor backward(std::span<const float> weights,
                    const Tensor& dy,
                    UnitContext& ctx,
                    std::span<float> gradWeights) const override;

private:
    // Everything after conv1 (output h), with the shortcut from `input`.
    Tensor forwardAfterConv1(std::span<const float> weights,
                             std::span<float> buffers,
                             Tensor h,
                             const Tensor& input,
                             UnitContext& ctx,
                             nn::Mode mode) const;
    // bn1 when it is a BatchNorm2d (conv2's input is then rebuilt in backward), else nullptr.
    const nn::BatchNorm2d* rebuildSource() const;

    bool hasDownsample_ = false;
};

}  // namespace lp::core::model
