// Global average pooling (the ResNet head's pool); a stateless op, safe to call from several
// threads at once.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"
#include "core/tensor/tensor.hpp"

#include <string_view>

namespace lp::core::nn {

// x: [N, C, H, W] -> y: [N, C] (rank 2), y[n, c] = mean over (h, w) of x[n, c, h, w], summed in
// double. backward spreads dy[n, c]/(H·W) over the plane. No parameters; forward saves only H, W.
class GlobalAvgPool final : public ParameterFreeLayer {
public:
    std::string_view kind() const override { return "GlobalAvgPool"; }

    TensorShape outputShape(const TensorShape& in) const override;

protected:
    Tensor apply(const Tensor& x, Context& ctx, Mode mode) const override;
    Tensor applyBackward(const Tensor& dy, Context& ctx) const override;
};

}  // namespace lp::core::nn
