// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/stage.hpp"

#include "core/error.hpp"
#include "core/optim/rewind.hpp"
#include "core/tensor/parallel.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace lp::core::pipeline {

namespace {

constexpr std::int64_t kGrain = 1 << 15;  // elementwise chunk, fixed for determinism

std::int64_t bytesOf(const AlignedBuffer& b) {
    return static_cast<std::int64_t>(b.bytes());
}

void copyInto(AlignedBuffer& dst, std::span<const float> src) {
    if (!src.empty()) {  // a stage without BN buffers: both are null, and memcpy(null, ...) is UB
        std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    }
}

// Where each parameter tensor of units [first, end) ends in the stage's flat weight buffer,
// which the tensors tile in order.
std::vector<std::size_t> tensorEndsOf(const model::ResNet& net,
                                      std::size_t first,
                                      std::size_t end) {
    const std::size_t w0 = net.weightOffset(first);
    std::vector<std::size_t> ends;
    for (const model::ModelParam& p : net.params()) {
        if (p.kind == nn::ParamKind::Weight && p.unit >= first && p.unit < end) {
            LP_EXPECTS(p.offset - w0 == (ends.empty() ? 0 : ends.back()),
                       concat("stage parameters must tile the weight buffer in order; ",
                              p.name,
                              " starts at ",
                              p.offset - w0));
            ends.push_back(p.offset - w0 + static_cast<std::size_t>(p.shape.numel()));
        }
    }
    LP_EXPECTS((ends.empty() ? 0 : ends.back()) == net.weightOffset(end) - w0,
               "stage parameters must cover the weight buffer");
    return ends;
}

// ‖a − b‖ / ‖b‖ in double (0 when b = 0), over fixed chunks added in order: the same bits for any
// thread count. Both the update size (delay schedules) and the reconstruction diagnostic use it.
double relativeChange(std::span<const float> a, std::span<const float> b) {
    using Sums = std::array<double, 2>;  // Σ (a − b)², Σ b²
    const Sums sums = chunkedReduce(
        0,
        static_cast<std::int64_t>(a.size()),
        kGrain,
        Sums{0.0, 0.0},
        [&](std::int64_t lo, std::int64_t hi, Sums& acc) {
            for (auto i = static_cast<std::size_t>(lo); i < static_cast<std::size_t>(hi); ++i) {
                const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
                acc[0] += d * d;
                acc[1] += static_cast<double>(b[i]) * static_cast<double>(b[i]);
            }
        },
        [](Sums& acc, const Sums& part) {
            acc[0] += part[0];
            acc[1] += part[1];
        });
    return sums[1] > 0.0 ? std::sqrt(sums[0] / sums[1]) : 0.0;
}

}  // namespace

float emaBeta(EmaBetaMode mode, std::int64_t delay, float fixedBeta) {
    if (delay <= 0) {
        return 0.0F;
    }
    const auto d = static_cast<float>(delay);
    switch (mode) {
        case EmaBetaMode::Window:
            return (d - 1.0F) / (d + 1.0F);
        case EmaBetaMode::Plain:
            return d / (d + 1.0F);
        case EmaBetaMode::Fixed:
            return fixedBeta;
    }
    return 0.0F;
}

void emaAccumulate(std::span<float> d,
                   std::span<const float> wNew,
                   std::span<const float> wOld,
                   float beta) {
    LP_EXPECTS(d.size() == wNew.size() && d.size() == wOld.size(), "emaAccumulate: sizes differ");
    parallelFor(
        0, static_cast<std::int64_t>(d.size()), kGrain, [&](std::int64_t lo, std::int64_t hi) {
            for (auto i = static_cast<std::size_t>(lo); i < static_cast<std::size_t>(hi); ++i) {
                d[i] = beta * d[i] + (1.0F - beta) * (wNew[i] - wOld[i]);
            }
        });
}

void emaReconstruct(std::span<float> out,
                    std::span<const float> w,
                    std::span<const float> d,
                    float beta,
                    std::int64_t k,
                    std::int64_t m) {
    LP_EXPECTS(out.size() == w.size() && d.size() == w.size(), "emaReconstruct: sizes differ");
    LP_EXPECTS(k >= 1 || m == 0, "emaReconstruct: no update observed yet");
    // Bias correction 1/(1 − β^k) in double; with β = 0 it is exactly 1.
    const double correction =
        k >= 1 ? 1.0 / (1.0 - std::pow(static_cast<double>(beta), static_cast<double>(k))) : 0.0;
    const auto scale = static_cast<float>(static_cast<double>(m) * correction);
    parallelFor(
        0, static_cast<std::int64_t>(w.size()), kGrain, [&](std::int64_t lo, std::int64_t hi) {
            for (auto i = static_cast<std::size_t>(lo); i < static_cast<std::size_t>(hi); ++i) {
                out[i] = w[i] - scale * d[i];
            }
        });
}

Stage::Stage(const model::ResNet& net,
             std::int64_t index,
             std::int64_t firstUnit,
             std::int64_t endUnit,
             const StageSettings& settings,
             std::span<const float> modelWeights,
             std::span<const float> modelBuffers)
    : net_(&net)
    , index_(index)
    , first_(firstUnit)
    , end_(endUnit)
    , settings_(settings)
    , optimizer_(settings.optimizer)
    , beta_(emaBeta(settings.betaMode, settings.delay, settings.fixedBeta)) {
    LP_EXPECTS(firstUnit >= 0 && firstUnit < endUnit &&
                   static_cast<std::size_t>(endUnit) <= net.unitCount(),
               "stage unit range out of bounds");
    LP_EXPECTS(settings.delay >= 0, "stage delay must be >= 0");
    const auto f = static_cast<std::size_t>(firstUnit);
    const auto e = static_cast<std::size_t>(endUnit);
    const std::size_t w0 = net.weightOffset(f);
    const std::size_t wn = net.weightOffset(e) - w0;
    const std::size_t b0 = net.bufferOffset(f);
    const std::size_t bn = net.bufferOffset(e) - b0;
    LP_EXPECTS(modelWeights.size() == net.weightCount() && modelBuffers.size() == net.bufferCount(),
               "stage needs the model-wide weights and buffers");
    weights_ = AlignedBuffer(wn);
    copyInto(weights_, modelWeights.subspan(w0, wn));
    buffers_ = AlignedBuffer(bn);
    copyInto(buffers_, modelBuffers.subspan(b0, bn));
    grads_ = AlignedBuffer(wn);
    optimizerState_ = AlignedBuffer(optimizer_.stateSize(wn));
    tensorEnds_ = tensorEndsOf(net, f, e);
    if (settings_.policy == WeightPolicy::Momentum) {
        optim::requireRewindable(settings_.optimizer);
    }
    if (settings_.policy == WeightPolicy::Ema && settings_.delay > 0) {
        ema_ = AlignedBuffer(wn);
    }
    if (reconstructs()) {
        scratch_ = AlignedBuffer(wn);
    }
    if (settings_.measureUpdates && scratch_.size() == 0) {
        scratch_ = AlignedBuffer(wn);
    }
}

bool Stage::reconstructs() const {
    return settings_.delay > 0 &&
           (settings_.policy == WeightPolicy::Ema || settings_.policy == WeightPolicy::Momentum);
}

bool Stage::keepsStash() const {
    return settings_.delay > 0 &&
           (settings_.policy == WeightPolicy::Stash || (reconstructs() && settings_.diagnostic));
}

const AlignedBuffer* Stage::stashed(std::int64_t version) const {
    for (const Stashed& s : stash_) {
        if (s.version == version) {
            return &s.weights;
        }
    }
    return nullptr;
}

Tensor Stage::forward(std::int64_t mb, const Tensor& x) {
    LP_EXPECTS(!inFlight_.contains(mb),
               concat("stage ", index_, ": minibatch ", mb, " is already in flight"));
    InFlight& f = inFlight_[mb];
    f.version = version_;
    return model::forwardUnits(*net_,
                               static_cast<std::size_t>(first_),
                               static_cast<std::size_t>(end_),
                               weights_.span(),
                               buffers_.span(),
                               x,
                               f.ctxs,
                               nn::Mode::Train);
}

Tensor Stage::evaluate(const Tensor& x) {
    std::vector<model::UnitContext> ctxs;
    return model::forwardUnits(*net_,
                               static_cast<std::size_t>(first_),
                               static_cast<std::size_t>(end_),
                               weights_.span(),
                               buffers_.span(),
                               x,
                               ctxs,
                               nn::Mode::Eval);
}

Tensor Stage::backward(std::int64_t mb, const Tensor& dy, BackwardInfo* info) {
    auto it = inFlight_.find(mb);
    LP_EXPECTS(it != inFlight_.end(),
               concat("stage ", index_, ": backward of minibatch ", mb, " before its forward"));
    const std::int64_t v = it->second.version;
    const std::int64_t m = version_ - v;
    std::span<const float> w = weights_.span();
    std::optional<float> reconstruction;
    if (m > 0 && settings_.policy == WeightPolicy::Stash) {
        const AlignedBuffer* old = stashed(v);
        LP_EXPECTS(old != nullptr, concat("stage ", index_, ": version ", v, " is not stashed"));
        w = old->span();
    } else if (m > 0 && reconstructs()) {
        if (settings_.policy == WeightPolicy::Ema) {
            emaReconstruct(scratch_.span(), weights_.span(), ema_.span(), beta_, emaUpdates_, m);
        } else {
            optim::rewind(settings_.optimizer,
                          scratch_.span(),
                          weights_.span(),
                          optimizerState_.span(),
                          version_,
                          lrLast_,
                          m,
                          tensorEnds_);
        }
        w = scratch_.span();
        if (settings_.diagnostic) {
            if (const AlignedBuffer* exact = stashed(v)) {
                reconstruction = static_cast<float>(relativeChange(scratch_.span(), exact->span()));
            }
        }
    }
    Tensor dx = model::backwardUnits(*net_,
                                     static_cast<std::size_t>(first_),
                                     static_cast<std::size_t>(end_),
                                     w,
                                     dy,
                                     it->second.ctxs,
                                     grads_.span());
    inFlight_.erase(it);
    if (info != nullptr) {
        *info = {.weightVersion = v, .staleness = m, .reconstruction = reconstruction};
    }
    return dx;
}

void Stage::stashCurrent() {
    AlignedBuffer buf;
    if (!spare_.empty()) {
        buf = std::move(spare_.back());
        spare_.pop_back();
    } else {
        buf = AlignedBuffer(weights_.size());
    }
    copyInto(buf, weights_.span());
    stash_.push_back({.version = version_, .weights = std::move(buf)});
}

void Stage::update(float lr) {
    const bool ema = settings_.policy == WeightPolicy::Ema && settings_.delay > 0;
    if (keepsStash()) {
        // After this update, backwards use versions >= (t + 1) − D: recycle older ones first,
        // so the ring never holds more than D buffers.
        while (!stash_.empty() && stash_.front().version < version_ + 1 - settings_.delay) {
            spare_.push_back(std::move(stash_.front().weights));
            stash_.pop_front();
        }
        stashCurrent();
    }
    if (ema || settings_.measureUpdates) {
        copyInto(scratch_, weights_.span());  // W_old
    }
    optimizer_.step(
        weights_.span(), grads_.span(), optimizerState_.span(), version_ + 1, lr, tensorEnds_);
    lrLast_ = lr;
    if (ema) {
        emaAccumulate(ema_.span(), weights_.span(), scratch_.span(), beta_);
        ++emaUpdates_;
    }
    if (settings_.measureUpdates) {
        updateSizeSum_ += relativeChange(weights_.span(), scratch_.span());
        ++updateSizeCount_;
    }
    grads_.fill(0.0F);
    ++version_;
}

void Stage::setVersion(std::int64_t version) {
    LP_EXPECTS(inFlight_.empty(), "setVersion needs a drained stage");
    version_ = version;
    stash_.clear();
}

void Stage::setDelay(std::int64_t delay) {
    LP_EXPECTS(inFlight_.empty(), "setDelay needs a drained stage");
    LP_EXPECTS(delay >= 0, "stage delay must be >= 0");
    if (delay == settings_.delay) {
        return;
    }
    settings_.delay = delay;
    beta_ = emaBeta(settings_.betaMode, delay, settings_.fixedBeta);
    // Backwards of the next epoch use versions >= its first: the ring starts empty and refills.
    for (Stashed& s : stash_) {
        spare_.push_back(std::move(s.weights));
    }
    stash_.clear();
    spare_.resize(keepsStash() ? std::min(spare_.size(), static_cast<std::size_t>(delay)) : 0);
    if (settings_.policy == WeightPolicy::Ema) {
        ema_ = delay > 0 ? AlignedBuffer(weights_.size()) : AlignedBuffer();
        emaUpdates_ = 0;
    }
    // Ŵ's scratch (ema, momentum) exists while the delay is positive, or for the measurement.
    const bool scratch = reconstructs() || settings_.measureUpdates;
    if (scratch != (scratch_.size() > 0)) {
        scratch_ = scratch ? AlignedBuffer(weights_.size()) : AlignedBuffer();
    }
}

std::optional<double> Stage::meanUpdateSize() const {
    if (updateSizeCount_ == 0) {
        return std::nullopt;
    }
    return updateSizeSum_ / static_cast<double>(updateSizeCount_);
}

void Stage::resetUpdateStats() {
    updateSizeSum_ = 0.0;
    updateSizeCount_ = 0;
}

StageMemory Stage::memory() const {
    StageMemory m;
    m.weights = bytesOf(weights_) + bytesOf(buffers_) + bytesOf(grads_) + bytesOf(scratch_);
    m.optimizer = bytesOf(optimizerState_);
    std::int64_t stashBytes = 0;
    for (const Stashed& s : stash_) {
        stashBytes += bytesOf(s.weights);
    }
    for (const AlignedBuffer& b : spare_) {
        stashBytes += bytesOf(b);
    }
    if (settings_.policy == WeightPolicy::Ema || settings_.policy == WeightPolicy::Momentum) {
        m.history = bytesOf(ema_);  // momentum keeps none: 0
        m.shadow = stashBytes;
    } else {
        m.history = stashBytes;
    }
    for (const auto& [mb, f] : inFlight_) {
        for (const model::UnitContext& c : f.ctxs) {
            m.activations += static_cast<std::int64_t>(c.bytes());
        }
    }
    return m;
}

}  // namespace lp::core::pipeline
