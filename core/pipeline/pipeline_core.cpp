// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/pipeline/pipeline_core.hpp"

#include "core/error.hpp"
#include "core/nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lp::core::pipeline {

void PipelineCore::Transit::put(std::int64_t unit, Tensor t) {
    const std::lock_guard lock(mutex);
    tensors[unit] = std::move(t);
}

Tensor PipelineCore::Transit::take(std::int64_t unit) {
    const std::lock_guard lock(mutex);
    auto it = tensors.find(unit);
    LP_EXPECTS(it != tensors.end(), concat("no tensor in transit for unit ", unit));
    Tensor t = std::move(it->second);
    tensors.erase(it);
    return t;
}

bool PipelineCore::Transit::has(std::int64_t unit) const {
    const std::lock_guard lock(mutex);
    return tensors.contains(unit);
}

namespace {

DelayPlan makeDelays(const PipelineSpec& spec, std::int64_t stages) {
    if (spec.schedule == ScheduleKind::GPipe) {
        return DelayPlan::custom(stages,
                                 std::vector<std::int64_t>(static_cast<std::size_t>(stages), 0));
    }
    return spec.delays.empty() ? DelayPlan::layerPipeDefault(stages)
                               : DelayPlan::custom(stages, spec.delays);
}

}  // namespace

PipelineCore::PipelineCore(const model::ResNet& net,
                           const model::ModelState& init,
                           const PipelineSpec& spec,
                           telemetry::Recorder* recorder)
    : net_(&net)
    , spec_(spec)
    , partition_(static_cast<std::int64_t>(net.unitCount()), spec.cuts)
    , builtDelays_(makeDelays(spec, partition_.stageCount()))
    , delays_(builtDelays_)
    , recorder_(recorder) {
    if (spec.schedule == ScheduleKind::GPipe) {
        if (!kMicroBatchesRange.contains(static_cast<double>(spec.microBatches))) {
            throw InputError(concat("GPipe micro-batches must be ",
                                    kMicroBatchesRange.text(true),
                                    ", got ",
                                    spec.microBatches));
        }
        micro_ = spec.microBatches;
    }
    for (std::int64_t s = 0; s < stageCount(); ++s) {
        StageSettings settings{.delay = delays_.delay(s),
                               .policy = spec.policy,
                               .betaMode = spec.betaMode,
                               .fixedBeta = spec.fixedBeta,
                               .diagnostic = spec.diagnostic,
                               .measureUpdates = spec.measureUpdates,
                               .optimizer = spec.optimizer};
        stages_.push_back(std::make_unique<Stage>(net,
                                                  s,
                                                  partition_.firstUnit(s),
                                                  partition_.endUnit(s),
                                                  settings,
                                                  init.weights.span(),
                                                  init.buffers.span()));
        activations_.push_back(std::make_unique<Transit>());
        gradients_.push_back(std::make_unique<Transit>());
    }
}

telemetry::PipelineLayout PipelineCore::layout() const {
    telemetry::PipelineLayout l;
    l.unitNames = net_->unitNames();
    for (std::int64_t u = 0; u < partition_.unitCount(); ++u) {
        l.stageOfUnit.push_back(static_cast<std::int32_t>(partition_.stageOfUnit(u)));
    }
    l.delays = builtDelays_.delays();
    for (const auto& s : stages_) {
        l.stageParams.push_back(static_cast<std::int64_t>(s->paramCount()));
    }
    l.policy = std::string(toString(spec_.policy));
    l.schedule = std::string(toString(spec_.schedule));
    return l;
}

void PipelineCore::setDelays(const std::vector<std::int64_t>& delays) {
    LP_EXPECTS(spec_.schedule == ScheduleKind::LayerPipe, "GPipe has no delays to change");
    for (const auto& s : stages_) {
        LP_EXPECTS(s->inFlight() == 0, "setDelays needs a drained pipeline");
    }
    delays_ = DelayPlan::custom(stageCount(), delays);
    for (std::int64_t s = 0; s < stageCount(); ++s) {
        stage(s).setDelay(delays_.delay(s));
    }
}

void PipelineCore::beginEpoch(std::int64_t epoch,
                              std::int64_t minibatches,
                              BatchSource source,
                              LrFunction lr,
                              std::int64_t stepBase,
                              std::int64_t tickBase) {
    LP_EXPECTS(minibatches >= 1, "an epoch needs at least one minibatch");
    for (const auto& s : stages_) {
        LP_EXPECTS(s->inFlight() == 0, "beginEpoch needs a drained pipeline");
    }
    for (const auto& s : stages_) {
        s->resetUpdateStats();
    }
    epoch_ = epoch;
    stepBase_ = stepBase;
    tickBase_ = tickBase;
    source_ = std::move(source);
    lr_ = std::move(lr);
    batches_.clear();
    perMinibatch_.clear();
    stats_ = {};
    if (recorder_ != nullptr) {
        recorder_->uncut();
        epochStartUs_ = recorder_->nowUs();
    } else {
        epochStartUs_ = 0.0;
    }
}

bool PipelineCore::ready(std::int64_t s, const StageOp& op) const {
    if (op.kind == OpKind::Forward) {
        return s == 0 || activations_[static_cast<std::size_t>(s)]->has(op.unit);
    }
    if (op.kind == OpKind::Backward) {
        return gradients_[static_cast<std::size_t>(s)]->has(op.unit);
    }
    return true;
}

MiniBatch PipelineCore::microBatch(std::int64_t unit, bool labelsOnly) {
    const std::int64_t j = unit / micro_;
    const std::int64_t i = unit % micro_;
    std::unique_lock lock(batchMutex_);
    auto it = batches_.find(j);
    if (it == batches_.end()) {
        // Load without holding the lock: the source may wait on a oneTBB task (the prefetcher),
        // and a waiting thread may pick up another stage's op that needs this mutex.
        lock.unlock();
        MiniBatch b = source_(epoch_, j);
        const auto n = static_cast<std::int64_t>(b.labels.size());
        if (n % micro_ != 0) {
            throw InputError(concat(
                "batch size ", n, " must be divisible by the ", micro_, " GPipe micro-batches"));
        }
        lock.lock();
        // Stage 0 fetches the images and the last stage the labels of every micro-batch; in a
        // process that runs only one of them (a transport) the batch is done after its fetches.
        const std::int64_t uses =
            micro_ * ((isLocal(0) ? 1 : 0) + (isLocal(stageCount() - 1) ? 1 : 0));
        it = batches_.emplace(j, PendingBatch{std::move(b), uses}).first;
    }
    const MiniBatch& b = it->second.batch;
    const auto n = static_cast<std::int64_t>(b.labels.size()) / micro_;
    MiniBatch out;
    out.labels.assign(b.labels.begin() + i * n, b.labels.begin() + (i + 1) * n);
    if (!labelsOnly) {
        const TensorShape& shape = b.images.shape();
        out.images = Tensor(TensorShape{n, shape[1], shape[2], shape[3]});
        std::memcpy(
            out.images.data(), b.images.data() + i * n * shape.perSample(), out.images.bytes());
    }
    if (--it->second.usesLeft == 0) {
        batches_.erase(it);
    }
    return out;
}

void PipelineCore::finishLoss(std::int64_t unit, std::int64_t tick, const Tensor& logits) {
    const MiniBatch labels = microBatch(unit, true);
    nn::LossResult r = nn::softmaxCrossEntropy(logits, labels.labels);
    if (micro_ > 1) {
        // Mean over the whole minibatch = mean of the micro-batch means.
        r.gradLogits.vec() *= 1.0F / static_cast<float>(micro_);
    }
    const bool finite = std::isfinite(r.loss);
    gradients_.back()->put(unit, std::move(r.gradLogits));

    const std::int64_t j = unit / micro_;
    const std::lock_guard lock(statsMutex_);
    EpochStats& mb = perMinibatch_[j];
    mb.lossSum += static_cast<double>(r.loss) / static_cast<double>(micro_);
    mb.correct += r.correct;
    mb.samples += static_cast<std::int64_t>(labels.labels.size());
    mb.nonFinite = mb.nonFinite || !finite;
    if (unit % micro_ != micro_ - 1) {
        return;
    }
    if (stats_.nonFinite) {
        // After the first diverged minibatch nothing counts: how many more the last stage
        // finishes before the driver sees it depends on timing (Recorder::cutAfter).
        perMinibatch_.erase(j);
        return;
    }
    if (mb.nonFinite) {
        // A minibatch whose loss is NaN or infinite has diverged: its predictions count for
        // nothing, even in the rows whose logits stayed finite (docs/pipeline.md).
        mb.correct = 0;
    }
    stats_.lossSum += mb.lossSum;
    stats_.correct += mb.correct;
    stats_.samples += mb.samples;
    stats_.minibatches += 1;
    stats_.nonFinite = stats_.nonFinite || mb.nonFinite;
    if (recorder_ != nullptr) {
        const double now = recorder_->nowUs();
        const double elapsed = (now - epochStartUs_) * 1e-6;
        recorder_->train(
            {.step = stepBase_ + j,
             .epoch = static_cast<std::int32_t>(epoch_),
             .timeUs = now,
             .loss = static_cast<float>(mb.lossSum),
             .accuracy = static_cast<float>(mb.correct) /
                         static_cast<float>(std::max<std::int64_t>(mb.samples, 1)),
             .lr = lr_(stepBase_ + j),
             .imagesPerSecond =
                 elapsed > 0.0 ? static_cast<float>(static_cast<double>(stats_.samples) / elapsed)
                               : 0.0F,
             .nonFinite = mb.nonFinite});
        if (mb.nonFinite) {
            recorder_->cutAfter(tickBase_ + tick);
        }
    }
    perMinibatch_.erase(j);
}

void PipelineCore::execute(std::int64_t s, const StageOp& op) {
    Stage& st = stage(s);
    const auto si = static_cast<std::size_t>(s);
    const bool last = s == stageCount() - 1;
    const double start = recorder_ != nullptr ? recorder_->nowUs() : 0.0;
    const std::int64_t versionBefore = st.version();
    std::int64_t versionUsed = versionBefore;
    switch (op.kind) {
        case OpKind::Forward: {
            Tensor x = s == 0 ? microBatch(op.unit, false).images : activations_[si]->take(op.unit);
            Tensor y = st.forward(op.unit, x);
            if (last) {
                finishLoss(op.unit, op.tick, y);
            } else if (isLocal(s + 1)) {
                activations_[si + 1]->put(op.unit, std::move(y));
            } else {
                transport_->send(Direction::Forward, s + 1, op.unit, y);
            }
            break;
        }
        case OpKind::Backward: {
            BackwardInfo info;
            Tensor dx = st.backward(op.unit, gradients_[si]->take(op.unit), &info);
            if (s > 0 && isLocal(s - 1)) {
                gradients_[si - 1]->put(op.unit, std::move(dx));
            } else if (s > 0) {
                transport_->send(Direction::Backward, s - 1, op.unit, dx);
            }
            versionUsed = info.weightVersion;
            if (recorder_ != nullptr) {
                recorder_->staleness({.update = versionBefore + 1,
                                      .stage = static_cast<std::int32_t>(s),
                                      .staleness = info.staleness,
                                      .configuredDelay = delays_.delay(s),
                                      .tick = tickBase_ + op.tick});
                if (info.reconstruction) {
                    recorder_->reconstruction({.minibatch = stepBase_ + op.unit / micro_,
                                               .stage = static_cast<std::int32_t>(s),
                                               .relativeError = *info.reconstruction,
                                               .tick = tickBase_ + op.tick});
                }
            }
            break;
        }
        case OpKind::Update:
            st.update(lr_(stepBase_ + op.unit));
            break;
        case OpKind::Eval:
            throw ContractError("PipelineCore::execute: an epoch plan holds no evaluation op");
    }
    if (recorder_ != nullptr) {
        const std::int64_t mb = op.kind == OpKind::Update ? op.unit : op.unit / micro_;
        recorder_->op({.stage = static_cast<std::int32_t>(s),
                       .op = op.kind,
                       .minibatch = stepBase_ + mb,
                       .weightVersion = versionUsed,
                       .tick = tickBase_ + op.tick,
                       .startUs = start,
                       .endUs = recorder_->nowUs(),
                       .thread = 0});
        sampleMemory(s, tickBase_ + op.tick);
    }
}

void PipelineCore::sampleMemory(std::int64_t s, std::int64_t tick) {
    if (recorder_ == nullptr) {
        return;
    }
    const StageMemory m = stage(s).memory();
    const double now = recorder_->nowUs();
    using telemetry::MemoryCategory;
    const auto si = static_cast<std::int32_t>(s);
    for (const auto& [cat, bytes] : {std::pair{MemoryCategory::Weights, m.weights},
                                     std::pair{MemoryCategory::WeightHistory, m.history},
                                     std::pair{MemoryCategory::Activations, m.activations},
                                     std::pair{MemoryCategory::OptimizerState, m.optimizer},
                                     std::pair{MemoryCategory::DiagnosticShadow, m.shadow}}) {
        recorder_->memory(
            {.timeUs = now, .tick = tick, .stage = si, .category = cat, .bytes = bytes});
    }
}

EpochStats PipelineCore::epochStats() const {
    return stats_;
}

void PipelineCore::setEpochStats(const EpochStats& stats) {
    const std::lock_guard lock(statsMutex_);
    stats_ = stats;
}

void PipelineCore::deliver(Direction dir, std::int64_t to, std::int64_t unit, Tensor tensor) {
    LP_EXPECTS(isLocal(to), concat("a tensor arrived for stage ", to, ", which runs elsewhere"));
    const auto si = static_cast<std::size_t>(to);
    (dir == Direction::Forward ? activations_ : gradients_)[si]->put(unit, std::move(tensor));
}

void PipelineCore::abortEpoch() {
    for (std::size_t s = 0; s < stages_.size(); ++s) {
        stages_[s]->dropInFlight();
        const std::lock_guard la(activations_[s]->mutex);
        activations_[s]->tensors.clear();
        const std::lock_guard lg(gradients_[s]->mutex);
        gradients_[s]->tensors.clear();
    }
    const std::lock_guard lock(batchMutex_);
    batches_.clear();
}

EvalResult PipelineCore::evaluate(const BatchSource& test, std::int64_t batches) {
    EvalResult r;
    double lossSum = 0.0;
    std::int64_t top1 = 0;
    std::int64_t top5 = 0;
    for (std::int64_t b = 0; b < batches; ++b) {
        MiniBatch mb = test(0, b);
        Tensor x = std::move(mb.images);
        for (auto& s : stages_) {
            x = s->evaluate(x);
        }
        const nn::LossResult l = nn::softmaxCrossEntropy(x, mb.labels, false);
        const auto n = static_cast<std::int64_t>(mb.labels.size());
        lossSum += static_cast<double>(l.loss) * static_cast<double>(n);
        top1 += l.correct;
        top5 += l.correctTop5;
        r.samples += n;
    }
    if (r.samples > 0) {
        const auto n = static_cast<double>(r.samples);
        r.loss = lossSum / n;
        r.top1 = static_cast<double>(top1) / n;
        r.top5 = static_cast<double>(top5) / n;
    }
    return r;
}

EvalResult PipelineCore::evaluateWith(std::span<const float> buffers,
                                      const BatchSource& test,
                                      std::int64_t batches) {
    LP_EXPECTS(buffers.size() == net_->bufferCount(), "evaluateWith: model-wide buffers expected");
    const auto place = [this](std::span<const float> from) {
        for (auto& s : stages_) {
            const std::span<float> to = s->mutableBuffers();
            const auto part = from.subspan(
                net_->bufferOffset(static_cast<std::size_t>(s->firstUnit())), to.size());
            std::copy(part.begin(), part.end(), to.begin());
        }
    };
    const model::ModelState trained = gather();
    place(buffers);
    EvalResult r;
    try {
        r = evaluate(test, batches);
    } catch (...) {
        place(trained.buffers.span());
        throw;
    }
    place(trained.buffers.span());
    return r;
}

model::ModelState PipelineCore::gather() const {
    model::ModelState out{.weights = AlignedBuffer(net_->weightCount()),
                          .buffers = AlignedBuffer(net_->bufferCount())};
    for (const auto& s : stages_) {
        const auto f = static_cast<std::size_t>(s->firstUnit());
        // std::copy, not memcpy: a stage without BatchNorm has no buffers (null, empty).
        std::copy(
            s->weights().begin(), s->weights().end(), out.weights.data() + net_->weightOffset(f));
        std::copy(
            s->buffers().begin(), s->buffers().end(), out.buffers.data() + net_->bufferOffset(f));
    }
    return out;
}

void PipelineCore::scatter(const model::ModelState& state) {
    for (auto& s : stages_) {
        const auto f = static_cast<std::size_t>(s->firstUnit());
        const float* w = state.weights.data() + net_->weightOffset(f);
        const float* b = state.buffers.data() + net_->bufferOffset(f);
        std::copy(w, w + s->weights().size(), s->mutableWeights().data());
        std::copy(b, b + s->buffers().size(), s->mutableBuffers().data());
    }
}

}  // namespace lp::core::pipeline
