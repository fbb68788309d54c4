// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/linear.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

#include <cmath>

namespace lp::core::nn {

namespace {

// Unaligned views: a layer's slice of the flat parameter buffer has no alignment guarantee.
using ParamMap = Eigen::Map<MatrixRM>;
using ConstParamMap = Eigen::Map<const MatrixRM>;
using ConstRowVecMap = Eigen::Map<const Eigen::RowVectorXf>;

// Rows of the batch per GEMM chunk, and output features per weight-gradient chunk. Fixed, so a
// row's bits depend on the shapes only, never on how many threads ran the chunks.
constexpr std::int64_t kRowGrain = 32;
constexpr std::int64_t kFeatureGrain = 16;

}  // namespace

Linear::Linear(const LinearSpec& spec) : spec_(spec) {
    LP_EXPECTS(spec.inFeatures > 0 && spec.outFeatures > 0,
               concat("Linear features must be > 0, got in = ",
                      spec.inFeatures,
                      ", out = ",
                      spec.outFeatures));
}

std::vector<ParamSpec> Linear::params() const {
    std::vector<ParamSpec> ps{
        {"weight", TensorShape{spec_.outFeatures, spec_.inFeatures}, ParamKind::Weight}};
    if (spec_.bias) {
        ps.push_back({"bias", TensorShape{spec_.outFeatures}, ParamKind::Weight});
    }
    return ps;
}

std::size_t Linear::weightFloats() const {
    return static_cast<std::size_t>(spec_.outFeatures * (spec_.inFeatures + (spec_.bias ? 1 : 0)));
}

TensorShape Linear::outputShape(const TensorShape& in) const {
    LP_EXPECTS(in.rank() == 2 && in[1] == spec_.inFeatures,
               concat("Linear(",
                      spec_.inFeatures,
                      " -> ",
                      spec_.outFeatures,
                      ") expects [N, ",
                      spec_.inFeatures,
                      "], got ",
                      in.str()));
    return TensorShape{in[0], spec_.outFeatures};
}

Tensor Linear::forward(const LayerParams& p, const Tensor& x, Context& ctx, Mode /*mode*/) const {
    Tensor y(outputShape(x.shape()));
    LP_EXPECTS(p.weights.size() == weightFloats(),
               concat("Linear expects ", weightFloats(), " weights, got ", p.weights.size()));
    const std::int64_t in = spec_.inFeatures;
    const std::int64_t out = spec_.outFeatures;
    const ConstParamMap w(p.weights.data(), out, in);
    const float* bias = spec_.bias ? p.weights.data() + out * in : nullptr;
    const float* xs = x.data();
    float* ys = y.data();
    parallelFor(0, x.dim(0), kRowGrain, [&](std::int64_t lo, std::int64_t hi) {
        const ConstParamMap xc(xs + lo * in, hi - lo, in);
        ParamMap yc(ys + lo * out, hi - lo, out);
        yc.noalias() = xc * w.transpose();
        if (bias != nullptr) {
            yc.rowwise() += ConstRowVecMap(bias, out);
        }
    });
    ctx.saved.clear();
    ctx.saved.push_back(x);
    return y;
}

Tensor Linear::backward(const LayerParams& p,
                        const Tensor& dy,
                        Context& ctx,
                        std::span<float> gradWeights) const {
    LP_EXPECTS(ctx.saved.size() == 1, "Linear::backward needs the context of its forward");
    const Tensor& x = ctx.saved[0];
    expectSameShape(dy.shape(), outputShape(x.shape()), "Linear::backward dy");
    LP_EXPECTS(p.weights.size() == weightFloats() && gradWeights.size() == weightFloats(),
               concat("Linear expects ",
                      weightFloats(),
                      " weights and weight gradients, got ",
                      p.weights.size(),
                      " and ",
                      gradWeights.size()));
    const std::int64_t n = x.dim(0);
    const std::int64_t in = spec_.inFeatures;
    const std::int64_t out = spec_.outFeatures;
    const ConstParamMap w(p.weights.data(), out, in);
    const ConstParamMap xm(x.data(), n, in);
    const ConstParamMap dym(dy.data(), n, out);

    // dX = dY·W, by batch rows.
    Tensor dx(x.shape());
    float* dxs = dx.data();
    parallelFor(0, n, kRowGrain, [&](std::int64_t lo, std::int64_t hi) {
        ParamMap dxc(dxs + lo * in, hi - lo, in);
        dxc.noalias() = dym.middleRows(lo, hi - lo) * w;
    });

    // dW += dYᵀ·X and db += Σₙ dY, by output features: each task owns whole rows of dW, and the
    // sum over the batch inside a row runs in one fixed order.
    float* gw = gradWeights.data();
    float* gb = spec_.bias ? gw + out * in : nullptr;
    parallelFor(0, out, kFeatureGrain, [&](std::int64_t lo, std::int64_t hi) {
        ParamMap gwc(gw + lo * in, hi - lo, in);
        gwc.noalias() += dym.middleCols(lo, hi - lo).transpose() * xm;
        if (gb != nullptr) {
            for (std::int64_t o = lo; o < hi; ++o) {
                double s = 0.0;
                for (std::int64_t r = 0; r < n; ++r) {
                    s += static_cast<double>(dym(r, o));
                }
                gb[o] += static_cast<float>(s);
            }
        }
    });
    return dx;
}

void Linear::init(std::span<float> weights, std::span<float> /*buffers*/, Rng& rng) const {
    LP_EXPECTS(weights.size() == weightFloats(), "Linear::init: weights do not match params()");
    // kaiming_uniform_(a = √5) on the weight and the bias rule of torch.nn.Linear both give the
    // bound 1/√fan_in.
    const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec_.inFeatures)));
    for (float& v : weights) {
        v = rng.uniform(-bound, bound);
    }
}

}  // namespace lp::core::nn
