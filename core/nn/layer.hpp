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
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::nn {

enum class Mode { Train, Eval };

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

}  // namespace lp::core::nn
