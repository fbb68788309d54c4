// The identity layer: stands in for BatchNorm in a normalisation-free ResNet (model.norm = "none"),
// which the GPipe-versus-full-batch test needs (BN statistics depend on the micro-batch split).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"
#include "core/tensor/tensor.hpp"

#include <string_view>

namespace lp::core::nn {

// y = x, dx = dy; no parameters, nothing saved. Safe to call from several threads at once.
class Identity final : public ParameterFreeLayer {
public:
    std::string_view kind() const override { return "Identity"; }

    TensorShape outputShape(const TensorShape& in) const override { return in; }

protected:
    Tensor apply(const Tensor& x, Context& ctx, Mode /*mode*/) const override {
        ctx.saved.clear();
        return x;
    }

    Tensor applyBackward(const Tensor& dy, Context& /*ctx*/) const override { return dy; }
};

}  // namespace lp::core::nn
