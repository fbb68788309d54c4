// Activation layers (ReLU); stateless ops, safe to call from several threads at once.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"
#include "core/tensor/tensor.hpp"

#include <string_view>

namespace lp::core::nn {

// y = max(x, 0) elementwise, any shape. No parameters. forward saves a mask of x > 0 packed one
// bit per element (numel/8 bytes) in every mode; backward passes dy where x > 0 and gives 0
// elsewhere, so the gradient at x <= 0 is 0 (PyTorch's convention at x = 0). A NaN input passes
// through (y = NaN, gradient passed), as in PyTorch, so that non-finite values stay visible.
class ReLU final : public ParameterFreeLayer {
public:
    std::string_view kind() const override { return "ReLU"; }

    TensorShape outputShape(const TensorShape& in) const override { return in; }

protected:
    Tensor apply(const Tensor& x, Context& ctx, Mode mode) const override;
    Tensor applyBackward(const Tensor& dy, Context& ctx) const override;
    // In place: the result is x's (dy's) storage.
    Tensor applyConsuming(Tensor&& x, Context& ctx, Mode mode) const override;
    Tensor applyBackwardConsuming(Tensor&& dy, Context& ctx) const override;
};

}  // namespace lp::core::nn
