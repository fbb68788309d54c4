// The layer contract: stateless ops with forward(params, input, ctx) / backward(params, dy, ctx).
//
// A layer holds only its hyper-parameters (channels, kernel, stride ...). Its parameters are views
// into a flat buffer owned by whoever runs it (a pipeline stage, DESIGN.md section 2), and what
// backward needs from forward is saved in a per-minibatch Context, because a stage has several
// minibatches in flight at once.
//
// backward receives the weights explicitly: under the stale-weight policies of DESIGN.md section 4
// they may differ from the weights the forward used. Only the input gradient (Wᵀ·dY of conv and
// fc, BatchNorm's γ) uses them; weight gradients use the activations saved by forward.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/rng.hpp"
#include "core/tensor/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::nn {

enum class Mode { Train, Eval };

// Output length along one axis of a sliding window (convolution, pooling): floor((in +
// 2·padding − kernel) / stride) + 1 (PyTorch, dilation 1); 0 when the padded input is shorter
// than the window.
constexpr std::int64_t windowOutputSize(std::int64_t in,
                                        std::int64_t kernel,
                                        std::int64_t stride,
                                        std::int64_t padding) {
    const std::int64_t span = in + 2 * padding - kernel;
    return span < 0 ? 0 : span / stride + 1;
}

static_assert(windowOutputSize(32, 3, 1, 1) == 32);
static_assert(windowOutputSize(32, 3, 2, 1) == 16);
static_assert(windowOutputSize(32, 1, 2, 0) == 16);
static_assert(windowOutputSize(224, 7, 2, 3) == 112);
static_assert(windowOutputSize(112, 3, 2, 1) == 56);
static_assert(windowOutputSize(4, 2, 2, 0) == 2);

// The output plane of a kernel×kernel window sliding over in = [N, C, H, W]. Throws
// ContractError "<layer> input <in> is smaller than <window> <kernel> with padding <padding>"
// unless both sides are >= 1.
struct WindowPlane {
    std::int64_t height = 0;
    std::int64_t width = 0;
};

WindowPlane windowOutputPlane(std::string_view layer,
                              std::string_view window,
                              const TensorShape& in,
                              std::int64_t kernel,
                              std::int64_t stride,
                              std::int64_t padding);

// Weight: trained by the optimizer. Buffer: float state updated in forward (BN running stats).
// Counter: an integer buffer kept as float here and written as int64 to checkpoints
// (num_batches_tracked).
enum class ParamKind { Weight, Buffer, Counter };

// One named tensor of a layer, e.g. {"weight", [64, 3, 3, 3], Weight}.
struct ParamSpec {
    std::string name;
    TensorShape shape;
    ParamKind kind = ParamKind::Weight;
};

// Views into the runner's flat buffers for one layer. `weights` holds the layer's Weight tensors
// back to back in params() order; `buffers` holds its Buffer and Counter tensors likewise.
struct LayerParams {
    std::span<const float> weights;
    std::span<float> buffers;
};

// Per-minibatch, per-layer saved state, written by forward (Train mode) and read by backward.
struct Context {
    std::vector<Tensor> saved;
    std::size_t bytes() const;  // bytes held by saved activations

    void clear() { saved.clear(); }
};

class Layer {
public:
    Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;
    Layer(Layer&&) = delete;
    Layer& operator=(Layer&&) = delete;
    virtual ~Layer() = default;

    virtual std::string_view kind() const = 0;

    // The layer's named tensors in buffer order (none for parameter-free layers).
    virtual std::vector<ParamSpec> params() const { return {}; }

    // Output shape for an input shape; throws ContractError for an incompatible input.
    virtual TensorShape outputShape(const TensorShape& in) const = 0;
    // y = f(x). In Train mode saves what backward needs into ctx and updates running buffers.
    virtual Tensor forward(const LayerParams& p,
                           const Tensor& x,
                           Context& ctx,
                           Mode mode) const = 0;
    // Returns dL/dx and ADDS dL/dW into gradWeights (same layout as p.weights). Needs the ctx
    // filled by a Train-mode forward of the same minibatch. Never reads p.buffers, which callers
    // may leave empty (running statistics are not versioned, DESIGN.md section 4).
    virtual Tensor backward(const LayerParams& p,
                            const Tensor& dy,
                            Context& ctx,
                            std::span<float> gradWeights) const = 0;

    // forward and backward for an input the caller gives up (it no longer needs x, or dy): a
    // layer may keep its storage (Conv2d saves x without a copy) or work in place (ReLU). Same
    // results, bits and saved state as forward/backward, which they default to.
    virtual Tensor forwardConsuming(const LayerParams& p,
                                    Tensor&& x,
                                    Context& ctx,
                                    Mode mode) const {
        return forward(p, x, ctx, mode);
    }

    virtual Tensor backwardConsuming(const LayerParams& p,
                                     Tensor&& dy,
                                     Context& ctx,
                                     std::span<float> gradWeights) const {
        return backward(p, dy, ctx, gradWeights);
    }

    // torchvision-like initialisation of this layer's weights and buffers.
    virtual void init(std::span<float> weights, std::span<float> buffers, Rng& rng) const;

    std::size_t weightCount() const;  // floats in the Weight tensors
    std::size_t bufferCount() const;  // floats in the Buffer and Counter tensors
};

// A layer without parameters (pooling, activations, identity): it ignores LayerParams and
// gradWeights, so it implements the four entry points without them. The consuming variants
// default to the copying ones, as Layer's do.
class ParameterFreeLayer : public Layer {
public:
    Tensor forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode mode) const final;
    Tensor backward(const LayerParams& p,
                    const Tensor& dy,
                    Context& ctx,
                    std::span<float> gradWeights) const final;
    Tensor forwardConsuming(const LayerParams& p, Tensor&& x, Context& ctx, Mode mode) const final;
    Tensor backwardConsuming(const LayerParams& p,
                             Tensor&& dy,
                             Context& ctx,
                             std::span<float> gradWeights) const final;

protected:
    virtual Tensor apply(const Tensor& x, Context& ctx, Mode mode) const = 0;
    virtual Tensor applyBackward(const Tensor& dy, Context& ctx) const = 0;

    virtual Tensor applyConsuming(Tensor&& x, Context& ctx, Mode mode) const {
        return apply(x, ctx, mode);
    }

    virtual Tensor applyBackwardConsuming(Tensor&& dy, Context& ctx) const {
        return applyBackward(dy, ctx);
    }
};

}  // namespace lp::core::nn
