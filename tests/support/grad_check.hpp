// Central finite-difference gradient checks shared by every layer and unit test
// (STYLE.md section 7): the loss is a random projection L = Σ rᵢ·yᵢ accumulated in double,
// h = 1e-3, at least 50 sampled coordinates per tensor, pass when
// |a − n| ≤ rtol·max(|a|, |n|) + atol. Coordinates that sit on a kink (ReLU at 0, max-pool ties)
// are detected by comparing the one-sided differences and replaced by other samples.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/nn/layer.hpp"
#include "core/tensor/tensor.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace lp::testing {

struct GradCheckOptions {
    int samples = 50;
    double h = 1e-3;
    double rtol = 1e-2;
    double atol = 1e-4;
    bool checkInput = true;
    bool checkWeights = true;
};

// Anything differentiable: forward(x, w) must be a pure function of (x, w) (restore any running
// buffers it updates); backward(dy, gw) returns dL/dx for the latest forward and ADDS dL/dw to gw.
struct GradCheckTarget {
    std::function<core::Tensor(const core::Tensor& x, std::span<const float> w)> forward;
    std::function<core::Tensor(const core::Tensor& dy, std::span<float> gw)> backward;
};

// Adds a GoogleTest failure for every sampled coordinate whose analytic gradient disagrees with
// the central difference. Returns the number of coordinates checked.
int expectGradientsMatch(const GradCheckTarget& target,
                         const core::Tensor& x,
                         const std::vector<float>& w,
                         std::uint64_t seed,
                         const GradCheckOptions& opt = {});

// Wraps one layer: running buffers are restored before every forward, so BatchNorm in Train mode
// is checked over the whole batch as a pure function.
GradCheckTarget layerTarget(const core::nn::Layer& layer,
                            std::vector<float> buffers,
                            core::nn::Mode mode = core::nn::Mode::Train);

// Random tensor with entries uniform in [lo, hi).
core::Tensor randomTensor(const core::TensorShape& shape,
                          std::uint64_t seed,
                          float lo = -1.0F,
                          float hi = 1.0F);

}  // namespace lp::testing
