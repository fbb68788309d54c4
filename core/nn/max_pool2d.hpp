// MaxPool2d: 2-D max pooling over NCHW tensors with PyTorch semantics (square windows, implicit
// −inf padding, floor output size). Stateless and const: one instance may serve several threads.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"

#include <cstdint>
#include <string_view>

namespace lp::core::nn {

struct MaxPool2dSpec {
    std::int64_t kernel = 3;
    std::int64_t stride = 2;
    std::int64_t padding = 1;
};

// y[n, c, i, j] = max of x[n, c] over the window at (i·stride − padding, j·stride − padding).
// Train-mode forward saves the in-plane argmax of every output (the first maximum in row-major
// window order on ties; NaN wins, as in PyTorch) and the input shape; backward routes each dy to
// its argmax. No parameters.
class MaxPool2d final : public ParameterFreeLayer {
public:
    // Throws ContractError unless kernel, stride >= 1 and 0 <= padding <= kernel / 2 (PyTorch's
    // rule, so that every window holds at least one real element).
    explicit MaxPool2d(const MaxPool2dSpec& spec);

    const MaxPool2dSpec& spec() const { return spec_; }

    std::string_view kind() const override { return "MaxPool2d"; }

    // in: [N, C, H, W]; returns [N, C, Ho, Wo] with Ho = windowOutputSize(H, ...) >= 1.
    TensorShape outputShape(const TensorShape& in) const override;

protected:
    // x: [N, C, H, W] -> [N, C, Ho, Wo].
    Tensor apply(const Tensor& x, Context& ctx, Mode mode) const override;
    // dy: [N, C, Ho, Wo] -> dx: [N, C, H, W] (zero except at the saved argmaxes).
    Tensor applyBackward(const Tensor& dy, Context& ctx) const override;

private:
    MaxPool2dSpec spec_;
};

}  // namespace lp::core::nn
