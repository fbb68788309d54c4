// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/telemetry/recorder.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace lp::core::telemetry {

Recorder::Recorder(std::int32_t stages, bool opEvents)
    : opEvents_(opEvents)
    , cut_(std::numeric_limits<std::int64_t>::max())
    , start_(std::chrono::steady_clock::now()) {
    LP_EXPECTS(stages >= 1, "recorder needs at least one stage");
    for (std::int32_t s = 0; s < stages; ++s) {
        stages_.push_back(std::make_unique<StageBuffer>());
    }
}

double Recorder::nowUs() const {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_)
        .count();
}

void Recorder::restartClock(std::chrono::steady_clock::time_point origin) {
    start_ = origin;
}

void Recorder::restartClock() {
    start_ = std::chrono::steady_clock::now();
}

Recorder::StageBuffer& Recorder::stageBuffer(std::int32_t stage) {
    return *stages_.at(static_cast<std::size_t>(stage));
}

void Recorder::op(const OpEvent& e) {
    if (!recordsOps()) {
        return;
    }
    stageBuffer(e.stage).ops.push(e);
}

void Recorder::staleness(const StalenessSample& s) {
    stageBuffer(s.stage).staleness.push(s);
}

void Recorder::memory(const MemorySample& s) {
    stageBuffer(s.stage).memory.push(s);
}

void Recorder::reconstruction(const ReconstructionSample& s) {
    stageBuffer(s.stage).reconstruction.push(s);
}

void Recorder::train(const TrainSample& s) {
    const std::lock_guard lock(globalMutex_);
    train_.push_back(s);
}

void Recorder::eval(const EvalSample& s) {
    const std::lock_guard lock(globalMutex_);
    eval_.push_back(s);
}

void Recorder::delays(const DelaySample& s) {
    const std::lock_guard lock(globalMutex_);
    delays_.push_back(s);
}

void Recorder::cutAfter(std::int64_t tick) {
    cut_.store(tick, std::memory_order_release);
}

std::int64_t Recorder::cutTick() const {
    return cut_.load(std::memory_order_acquire);
}

void Recorder::uncut() {
    cut_.store(std::numeric_limits<std::int64_t>::max(), std::memory_order_release);
}

TelemetryBatch Recorder::drain() {
    TelemetryBatch out;
    {
        const std::lock_guard consumer(drainMutex_);
        for (auto& b : stages_) {
            b->ops.drainInto(out.ops);
            b->staleness.drainInto(out.staleness);
            b->memory.drainInto(out.memory);
            b->reconstruction.drainInto(out.reconstruction);
        }
    }
    const std::int64_t cut = cut_.load(std::memory_order_acquire);
    if (cut != std::numeric_limits<std::int64_t>::max()) {
        dropAfterTick(out, cut);
    }
    const std::lock_guard lock(globalMutex_);
    out.train = std::exchange(train_, {});
    out.eval = std::exchange(eval_, {});
    out.delays = std::exchange(delays_, {});
    return out;
}

}  // namespace lp::core::telemetry
