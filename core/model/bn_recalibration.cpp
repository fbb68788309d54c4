// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/bn_recalibration.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <vector>

namespace lp::core::model {

AlignedBuffer recalibrateBatchNorm(const ResNet& net,
                                   std::span<const float> weights,
                                   std::span<const float> buffers,
                                   std::int64_t count,
                                   const RecalibrationBatch& batch) {
    LP_EXPECTS(weights.size() == net.weightCount() && buffers.size() == net.bufferCount(),
               "recalibrateBatchNorm: the spans must be the model-wide weights and buffers");
    LP_EXPECTS(count >= 1, concat("recalibrateBatchNorm needs at least 1 minibatch, got ", count));
    // A twin whose BatchNorm layers have momentum 1: a Train forward then leaves exactly the
    // batch's statistics in the running buffers, (1 − 1)·old + 1·μ, computed by the layer itself
    // (PyTorch's unbiased variance included). Layers hold hyper-parameters only, so the twin is
    // cheap and shares the weights' layout.
    ResNetSpec spec = net.spec();
    spec.bnMomentum = 1.0F;
    const ResNet twin(spec);

    // Units after the last one with buffers (the head) need no forward.
    std::size_t end = 0;
    for (std::size_t u = 0; u < net.unitCount(); ++u) {
        if (net.unit(u).bufferCount() > 0) {
            end = u + 1;
        }
    }
    std::vector<std::size_t> statistics;  // indices of running_mean / running_var floats
    for (const ModelParam& p : net.params()) {
        if (p.kind == nn::ParamKind::Buffer) {
            for (std::int64_t i = 0; i < p.shape.numel(); ++i) {
                statistics.push_back(p.offset + static_cast<std::size_t>(i));
            }
        }
    }

    std::vector<double> sums(statistics.size(), 0.0);
    AlignedBuffer scratch(net.bufferCount());
    std::vector<UnitContext> ctxs;
    for (std::int64_t b = 0; b < count && end > 0; ++b) {
        // Zero, not the trained values: (1 − 1)·NaN would still be NaN.
        scratch.fill(0.0F);
        Tensor x = batch(b);
        // Unit by unit, so only one unit's saved activations are alive at a time.
        for (std::size_t u = 0; u < end; ++u) {
            x = forwardUnits(twin,
                             u,
                             u + 1,
                             weights.subspan(net.weightOffset(u), net.unit(u).weightCount()),
                             scratch.span().subspan(net.bufferOffset(u), net.unit(u).bufferCount()),
                             x,
                             ctxs,
                             nn::Mode::Train);
            ctxs.clear();
        }
        for (std::size_t k = 0; k < statistics.size(); ++k) {
            sums[k] += static_cast<double>(scratch[statistics[k]]);
        }
    }

    AlignedBuffer out(buffers.size());
    std::copy(buffers.begin(), buffers.end(), out.data());
    for (std::size_t k = 0; k < statistics.size(); ++k) {
        out[statistics[k]] = static_cast<float>(sums[k] / static_cast<double>(count));
    }
    return out;
}

}  // namespace lp::core::model
