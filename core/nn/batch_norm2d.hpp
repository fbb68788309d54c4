// BatchNorm2d with PyTorch's exact semantics (Ioffe & Szegedy 2015); a stateless op, so one
// instance may be used from several threads at once (each call writes only its ctx and buffers).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"
#include "core/tensor/rng.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace lp::core::nn {

struct BatchNorm2dSpec {
    std::int64_t channels = 0;
    float eps = 1e-5F;
    float momentum = 0.1F;  // weight of the new batch statistic in the running averages
};

// x: [N, C, H, W] -> y: [N, C, H, W], y = γ·(x − μ)/√(σ² + eps) + β per channel.
//
// params(): "weight" [C] (γ, Weight), "bias" [C] (β, Weight), "running_mean" [C] (Buffer),
// "running_var" [C] (Buffer), "num_batches_tracked" [1] (Counter) — torchvision's names.
//
// Train: μ, σ² are the batch mean and BIASED variance over (N, H, W); forward then updates
// running_mean ← (1−m)·running_mean + m·μ, running_var ← (1−m)·running_var + m·σ²·n/(n−1),
// num_batches_tracked += 1 (n = N·H·W, which must be > 1). Eval: μ, σ² are the running stats and
// the buffers are left alone. Statistics are accumulated in double; results are bit-identical
// for any thread count.
//
// forward saves its input x, the float μ and 1/√(σ² + eps) it normalized x with, and its own γ
// and β, in every mode, so backward works after a Train forward (the full-batch gradient through
// μ and σ²) and after an Eval forward (running stats are constants), and recomputeOutput can
// rebuild y from the context alone. x̂ = (x − μ)·invstd is never stored: backward and
// recomputeOutput recompute it with the forward's two operations, so with its bits. x is the
// same size as x̂, and forwardConsuming keeps the caller's x without a copy (a conv's output,
// which nothing else holds), so a Train-mode forward only writes y; writing x̂ as well had been a
// third of BatchNorm's forward time (Zen 5, AVX-512 CPU, AVX2 path, width 16 batch 128 on
// 1x28x28, the BN layers' forward summed: 10.0-10.4 ms with x̂ written, 6.5-6.7 ms without).
// backward reads only γ from p.weights (which may differ from the forward's γ under a stale-weight
// policy) and never p.buffers, which may be empty.
class BatchNorm2d final : public Layer {
public:
    explicit BatchNorm2d(const BatchNorm2dSpec& spec);

    const BatchNorm2dSpec& spec() const { return spec_; }

    std::string_view kind() const override { return "BatchNorm2d"; }

    std::vector<ParamSpec> params() const override;
    TensorShape outputShape(const TensorShape& in) const override;
    Tensor forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode mode) const override;
    // forward, keeping x's storage as the saved input instead of a copy.
    Tensor forwardConsuming(const LayerParams& p,
                            Tensor&& x,
                            Context& ctx,
                            Mode mode) const override;
    // dx = γ·invstd/n·(n·dy − Σdy − x̂·Σ(dy·x̂)) in Train mode, γ·invstd·dy in Eval mode;
    // adds dγ = Σ dy·x̂ and dβ = Σ dy (sums over N, H, W) into gradWeights = [dγ, dβ].
    Tensor backward(const LayerParams& p,
                    const Tensor& dy,
                    Context& ctx,
                    std::span<float> gradWeights) const override;
    // The y of the forward that filled ctx, rebuilt from the saved x, μ and invstd and that
    // forward's γ and β with the forward's own operations (x̂ = (x − μ)·invstd, y = x̂·γ + β: a
    // subtract, a multiply, a multiply and an add, never an FMA), so
    // with its bits on every path and whatever γ and β are now. For a caller that need not keep
    // y, or what it becomes, through to backward (BasicBlock: the input of its second conv).
    Tensor recomputeOutput(const Context& ctx) const;
    // γ = 1, β = 0, running_mean = 0, running_var = 1, num_batches_tracked = 0.
    void init(std::span<float> weights, std::span<float> buffers, Rng& rng) const override;

private:
    void checkParams(const LayerParams& p) const;

    BatchNorm2dSpec spec_;
};

}  // namespace lp::core::nn
