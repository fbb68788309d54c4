// Fully connected layer (the ResNet head's fc); a stateless op, safe to call from several threads
// at once.
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

struct LinearSpec {
    std::int64_t inFeatures = 0;
    std::int64_t outFeatures = 0;
    bool bias = true;
};

// x: [N, in] -> y: [N, out], y = x·Wᵀ + b (torch.nn.Linear).
// params(): "weight" [out, in], then "bias" [out] when spec.bias (both Weight).
// forward saves x (in every mode); backward returns dX = dY·W with W from p.weights (possibly
// stale) and adds dW = dYᵀ·X and db = Σₙ dY into gradWeights. Bit-identical for any thread count.
class Linear final : public Layer {
public:
    explicit Linear(const LinearSpec& spec);

    const LinearSpec& spec() const { return spec_; }

    std::string_view kind() const override { return "Linear"; }

    std::vector<ParamSpec> params() const override;
    TensorShape outputShape(const TensorShape& in) const override;
    Tensor forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode mode) const override;
    Tensor backward(const LayerParams& p,
                    const Tensor& dy,
                    Context& ctx,
                    std::span<float> gradWeights) const override;
    // PyTorch's default: weight and bias uniform in [−1/√in, 1/√in), weight first.
    void init(std::span<float> weights, std::span<float> buffers, Rng& rng) const override;

private:
    std::size_t weightFloats() const;

    LinearSpec spec_;
};

}  // namespace lp::core::nn
