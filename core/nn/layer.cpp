// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/layer.hpp"

#include "core/error.hpp"

#include <utility>

namespace lp::core::nn {

WindowPlane windowOutputPlane(std::string_view layer,
                              std::string_view window,
                              const TensorShape& in,
                              std::int64_t kernel,
                              std::int64_t stride,
                              std::int64_t padding) {
    const WindowPlane out{.height = windowOutputSize(in[2], kernel, stride, padding),
                          .width = windowOutputSize(in[3], kernel, stride, padding)};
    LP_EXPECTS(out.height >= 1 && out.width >= 1,
               concat(layer,
                      " input ",
                      in.str(),
                      " is smaller than ",
                      window,
                      " ",
                      kernel,
                      " with padding ",
                      padding));
    return out;
}

std::size_t Context::bytes() const {
    std::size_t total = 0;
    for (const Tensor& t : saved) {
        total += t.bytes();
    }
    return total;
}

void Layer::init(std::span<float> /*weights*/, std::span<float> /*buffers*/, Rng& /*rng*/) const {}

std::size_t Layer::weightCount() const {
    std::size_t n = 0;
    for (const ParamSpec& s : params()) {
        if (s.kind == ParamKind::Weight) {
            n += static_cast<std::size_t>(s.shape.numel());
        }
    }
    return n;
}

std::size_t Layer::bufferCount() const {
    std::size_t n = 0;
    for (const ParamSpec& s : params()) {
        if (s.kind != ParamKind::Weight) {
            n += static_cast<std::size_t>(s.shape.numel());
        }
    }
    return n;
}

Tensor ParameterFreeLayer::forward(const LayerParams& /*p*/,
                                   const Tensor& x,
                                   Context& ctx,
                                   Mode mode) const {
    return apply(x, ctx, mode);
}

Tensor ParameterFreeLayer::backward(const LayerParams& /*p*/,
                                    const Tensor& dy,
                                    Context& ctx,
                                    std::span<float> /*gradWeights*/) const {
    return applyBackward(dy, ctx);
}

Tensor ParameterFreeLayer::forwardConsuming(const LayerParams& /*p*/,
                                            Tensor&& x,
                                            Context& ctx,
                                            Mode mode) const {
    return applyConsuming(std::move(x), ctx, mode);
}

Tensor ParameterFreeLayer::backwardConsuming(const LayerParams& /*p*/,
                                             Tensor&& dy,
                                             Context& ctx,
                                             std::span<float> /*gradWeights*/) const {
    return applyBackwardConsuming(std::move(dy), ctx);
}

}  // namespace lp::core::nn
