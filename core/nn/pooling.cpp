// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/pooling.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"

#include <Eigen/Core>

#include <utility>

namespace lp::core::nn {

namespace {

// Target elements per parallel chunk; chunks are whole (n, c) planes.
constexpr std::int64_t kGrainElements = std::int64_t{1} << 15;

std::int64_t planesPerChunk(std::int64_t plane) {
    return plane >= kGrainElements ? 1 : kGrainElements / plane;
}

}  // namespace

TensorShape GlobalAvgPool::outputShape(const TensorShape& in) const {
    LP_EXPECTS(in.rank() == 4 && in[2] > 0 && in[3] > 0,
               "GlobalAvgPool expects [N, C, H, W] with H, W > 0, got " + in.str());
    return TensorShape{in[0], in[1]};
}

Tensor GlobalAvgPool::apply(const Tensor& x, Context& ctx, Mode /*mode*/) const {
    Tensor y(outputShape(x.shape()));
    const std::int64_t plane = x.dim(2) * x.dim(3);
    const auto inv = 1.0 / static_cast<double>(plane);
    const float* xs = x.data();
    float* ys = y.data();
    parallelFor(0, y.numel(), planesPerChunk(plane), [=](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t k = lo; k < hi; ++k) {
            const float* px = xs + k * plane;
            double s = 0.0;
            for (std::int64_t i = 0; i < plane; ++i) {
                s += static_cast<double>(px[i]);
            }
            ys[k] = static_cast<float>(s * inv);
        }
    });
    // Only the plane size is needed by backward; keep it as two floats (exact below 2^24).
    Tensor hw(TensorShape{2});
    hw[0] = static_cast<float>(x.dim(2));
    hw[1] = static_cast<float>(x.dim(3));
    ctx.saved.clear();
    ctx.saved.push_back(std::move(hw));
    return y;
}

Tensor GlobalAvgPool::applyBackward(const Tensor& dy, Context& ctx) const {
    LP_EXPECTS(ctx.saved.size() == 1, "GlobalAvgPool::backward needs the context of its forward");
    LP_EXPECTS(dy.shape().rank() == 2,
               "GlobalAvgPool::backward expects dy [N, C], got " + dy.shape().str());
    const auto h = static_cast<std::int64_t>(ctx.saved[0][0]);
    const auto w = static_cast<std::int64_t>(ctx.saved[0][1]);
    const std::int64_t plane = h * w;
    Tensor dx(TensorShape{dy.dim(0), dy.dim(1), h, w});
    const float scale = 1.0F / static_cast<float>(plane);
    const float* dys = dy.data();
    float* dxs = dx.data();
    parallelFor(0, dy.numel(), planesPerChunk(plane), [=](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t k = lo; k < hi; ++k) {
            Eigen::Map<Eigen::ArrayXf>(dxs + k * plane, plane).setConstant(dys[k] * scale);
        }
    });
    return dx;
}

}  // namespace lp::core::nn
