// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/nn/layer.hpp"

namespace lp::core::nn {

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

}  // namespace lp::core::nn
