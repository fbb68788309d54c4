// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/max_pool2d.hpp"

#include "core/error.hpp"
#include "core/tensor/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lp::core::nn {

namespace {

// Planes per parallel chunk: about this many outputs, a fixed function of the shapes.
constexpr std::int64_t kOutputsPerChunk = 16384;
// Argmax positions are saved as floats, exact up to 2^24.
constexpr std::int64_t kMaxPlane = std::int64_t{1} << 24;

std::int64_t planeGrain(std::int64_t outPlane) {
    return std::max<std::int64_t>(1, kOutputsPerChunk / outPlane);
}

}  // namespace

MaxPool2d::MaxPool2d(const MaxPool2dSpec& spec) : spec_(spec) {
    LP_EXPECTS(
        spec.kernel >= 1 && spec.stride >= 1 && spec.padding >= 0 &&
            spec.padding <= spec.kernel / 2,
        concat("MaxPool2d needs kernel >= 1, stride >= 1, 0 <= padding <= kernel / 2, got k=",
               spec.kernel,
               " s=",
               spec.stride,
               " p=",
               spec.padding));
}

TensorShape MaxPool2d::outputShape(const TensorShape& in) const {
    LP_EXPECTS(in.rank() == 4 && in[0] >= 1 && in[1] >= 1,
               concat("MaxPool2d expects [N, C, H, W], got ", in.str()));
    const WindowPlane out =
        windowOutputPlane("MaxPool2d", "window", in, spec_.kernel, spec_.stride, spec_.padding);
    return TensorShape{in[0], in[1], out.height, out.width};
}

Tensor MaxPool2d::apply(const Tensor& x, Context& ctx, Mode mode) const {
    const TensorShape outShape = outputShape(x.shape());
    const std::int64_t h = x.dim(2);
    const std::int64_t w = x.dim(3);
    const std::int64_t ho = outShape[2];
    const std::int64_t wo = outShape[3];
    LP_EXPECTS(h * w <= kMaxPlane, concat("MaxPool2d plane too large: ", x.shape().str()));
    const std::int64_t k = spec_.kernel;
    const std::int64_t s = spec_.stride;
    const std::int64_t pad = spec_.padding;
    Tensor y(outShape);
    Tensor argmax(outShape);

    parallelFor(0, x.dim(0) * x.dim(1), planeGrain(ho * wo), [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t plane = lo; plane < hi; ++plane) {
            const float* xp = x.data() + plane * h * w;
            float* yp = y.data() + plane * ho * wo;
            float* ip = argmax.data() + plane * ho * wo;
            for (std::int64_t oy = 0; oy < ho; ++oy) {
                const std::int64_t y0 = std::max<std::int64_t>(oy * s - pad, 0);
                const std::int64_t y1 = std::min(oy * s - pad + k, h);
                for (std::int64_t ox = 0; ox < wo; ++ox) {
                    const std::int64_t x0 = std::max<std::int64_t>(ox * s - pad, 0);
                    const std::int64_t x1 = std::min(ox * s - pad + k, w);
                    // Padding is −inf; the first real element is the argmax unless something is
                    // strictly greater (first max on ties), and NaN propagates as in PyTorch.
                    float best = -std::numeric_limits<float>::infinity();
                    std::int64_t bestAt = y0 * w + x0;
                    for (std::int64_t iy = y0; iy < y1; ++iy) {
                        for (std::int64_t ix = x0; ix < x1; ++ix) {
                            const float v = xp[iy * w + ix];
                            if (v > best || std::isnan(v)) {
                                best = v;
                                bestAt = iy * w + ix;
                            }
                        }
                    }
                    yp[oy * wo + ox] = best;
                    ip[oy * wo + ox] = static_cast<float>(bestAt);
                }
            }
        }
    });

    if (mode == Mode::Train) {
        ctx.saved.clear();
        ctx.saved.push_back(std::move(argmax));
        // The input shape, so that backward can size dx.
        Tensor inShape(TensorShape{4});
        for (int i = 0; i < 4; ++i) {
            inShape[i] = static_cast<float>(x.dim(i));
        }
        ctx.saved.push_back(std::move(inShape));
    }
    return y;
}

Tensor MaxPool2d::applyBackward(const Tensor& dy, Context& ctx) const {
    LP_EXPECTS(ctx.saved.size() == 2,
               "MaxPool2d::backward needs the context of a Train-mode forward");
    const Tensor& argmax = ctx.saved[0];
    const Tensor& inDims = ctx.saved[1];
    const TensorShape inShape{static_cast<std::int64_t>(inDims[0]),
                              static_cast<std::int64_t>(inDims[1]),
                              static_cast<std::int64_t>(inDims[2]),
                              static_cast<std::int64_t>(inDims[3])};
    expectSameShape(dy.shape(), argmax.shape(), "MaxPool2d::backward dy");
    const std::int64_t inPlane = inShape[2] * inShape[3];
    const std::int64_t outPlane = dy.dim(2) * dy.dim(3);
    Tensor dx(inShape);
    // Each plane's dx is written by one chunk only, in output order: deterministic.
    parallelFor(
        0, inShape[0] * inShape[1], planeGrain(outPlane), [&](std::int64_t lo, std::int64_t hi) {
            for (std::int64_t plane = lo; plane < hi; ++plane) {
                float* dxp = dx.data() + plane * inPlane;
                const float* dyp = dy.data() + plane * outPlane;
                const float* ip = argmax.data() + plane * outPlane;
                for (std::int64_t j = 0; j < outPlane; ++j) {
                    dxp[static_cast<std::int64_t>(ip[j])] += dyp[j];
                }
            }
        });
    return dx;
}

}  // namespace lp::core::nn
