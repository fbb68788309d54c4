// SPDX-License-Identifier: GPL-3.0-or-later
#include "tests/support/grad_check.hpp"

#include "core/tensor/rng.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace lp::testing {

namespace {

double projectedLoss(const core::Tensor& y, const core::Tensor& r) {
    double s = 0.0;
    for (std::int64_t i = 0; i < y.numel(); ++i) {
        s += static_cast<double>(y[i]) * static_cast<double>(r[i]);
    }
    return s;
}

// Checks `count` sampled coordinates of `values` (perturbed in place and restored) against the
// analytic gradient `analytic`. `evaluate` recomputes the loss with the current values.
int checkTensor(const char* what,
                std::span<float> values,
                std::span<const float> analytic,
                const std::function<double()>& evaluate,
                core::Rng& rng,
                const GradCheckOptions& opt) {
    if (values.empty()) {
        return 0;
    }
    const auto n = values.size();
    const int wanted =
        static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(opt.samples)));
    int checked = 0;
    int attempts = 0;
    const int maxAttempts = wanted * 20;
    std::size_t next = 0;
    while (checked < wanted && attempts < maxAttempts) {
        ++attempts;
        // Small tensors: walk every coordinate; large ones: sample.
        const std::size_t i = n <= static_cast<std::size_t>(opt.samples) ? next++ : rng.below(n);
        if (i >= n) {
            break;
        }
        const float saved = values[i];
        const double s = saved;
        const double h = opt.h;
        values[i] = static_cast<float>(s + h);
        const double up = evaluate();
        values[i] = static_cast<float>(s - h);
        const double down = evaluate();
        values[i] = saved;
        const double mid = evaluate();
        // The actual perturbations after float rounding.
        const double hUp = static_cast<double>(static_cast<float>(s + h)) - s;
        const double hDown = s - static_cast<double>(static_cast<float>(s - h));
        const double right = (up - mid) / hUp;
        const double left = (mid - down) / hDown;
        // A kink: the one-sided slopes disagree by far more than curvature explains.
        if (std::abs(right - left) > 0.1 * std::max(std::abs(right), std::abs(left)) + 1e-2) {
            continue;
        }
        const double numeric = (up - down) / (hUp + hDown);
        const double a = static_cast<double>(analytic[i]);
        const double tol = opt.rtol * std::max(std::abs(a), std::abs(numeric)) + opt.atol;
        EXPECT_LE(std::abs(a - numeric), tol)
            << what << "[" << i << "]: analytic " << a << " vs numeric " << numeric;
        ++checked;
    }
    EXPECT_GE(checked, std::min(wanted, 10)) << what << ": too many samples sat on kinks";
    return checked;
}

}  // namespace

int expectGradientsMatch(const GradCheckTarget& target,
                         const core::Tensor& x,
                         const std::vector<float>& w,
                         std::uint64_t seed,
                         const GradCheckOptions& opt) {
    core::Tensor xv = x;
    std::vector<float> wv = w;
    const core::Tensor y0 = target.forward(xv, wv);
    const core::Tensor r = randomTensor(y0.shape(), seed ^ 0x5EEDULL);
    std::vector<float> gw(w.size(), 0.0F);
    const core::Tensor dx = target.backward(r, gw);
    expectSameShape(dx.shape(), x.shape(), "input gradient");

    auto evaluate = [&] {
        return projectedLoss(target.forward(xv, wv), r);
    };
    core::Rng rng(seed);
    int checked = 0;
    if (opt.checkInput) {
        checked += checkTensor("dx", xv.span(), dx.span(), evaluate, rng, opt);
    }
    if (opt.checkWeights) {
        checked += checkTensor("dw", wv, gw, evaluate, rng, opt);
    }
    return checked;
}

GradCheckTarget layerTarget(const core::nn::Layer& layer,
                            std::vector<float> buffers,
                            core::nn::Mode mode) {
    struct State {
        std::vector<float> initial;
        std::vector<float> live;
        std::vector<float> weights;
        core::nn::Context ctx;
    };

    auto state = std::make_shared<State>();
    state->initial = std::move(buffers);
    GradCheckTarget t;
    t.forward = [&layer, state, mode](const core::Tensor& x, std::span<const float> w) {
        state->live = state->initial;
        state->weights.assign(w.begin(), w.end());
        state->ctx.clear();
        return layer.forward({state->weights, state->live}, x, state->ctx, mode);
    };
    t.backward = [&layer, state](const core::Tensor& dy, std::span<float> gw) {
        return layer.backward({state->weights, state->live}, dy, state->ctx, gw);
    };
    return t;
}

core::Tensor randomTensor(const core::TensorShape& shape, std::uint64_t seed, float lo, float hi) {
    core::Tensor t(shape);
    core::Rng rng(seed);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        t[i] = rng.uniform(lo, hi);
    }
    return t;
}

}  // namespace lp::testing
