// Recorder: collects telemetry from the stages while they run and hands it out in batches
// (DESIGN.md section 6). Each stage appends to its own lock-free single-producer logs
// (spsc_log.hpp), so recording an op takes no lock and stages never contend; drain() (a reader
// at ~30 Hz) takes a mutex only against other readers. Per-minibatch train and eval samples go
// through one mutex-guarded list (a few hundred per second at most). Thread-safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "core/telemetry/spsc_log.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

namespace lp::core::telemetry {

class Recorder {
public:
    explicit Recorder(std::int32_t stages, bool opEvents = true);

    // Microseconds since construction (or the last restartClock()).
    double nowUs() const;
    void restartClock();
    // From `origin` on (a time origin shared by the processes of one run; docs/mpi.md).
    void restartClock(std::chrono::steady_clock::time_point origin);

    bool recordsOps() const { return opEvents_.load(std::memory_order_relaxed); }

    void setRecordsOps(bool on) { opEvents_.store(on, std::memory_order_relaxed); }

    // Called by the stage's own executor (one caller per stage at a time).
    void op(const OpEvent& e);
    void staleness(const StalenessSample& s);
    void memory(const MemorySample& s);
    void reconstruction(const ReconstructionSample& s);
    // Called by whoever finishes a minibatch or an evaluation.
    void train(const TrainSample& s);
    void eval(const EvalSample& s);
    void delays(const DelaySample& s);

    // Everything recorded since the last drain; ops ordered by stage, then recording order.
    // Op, staleness, memory and reconstruction records of a tick after the cut are left out.
    TelemetryBatch drain();

    // The run diverged at `tick` (the op whose minibatch loss was first non-finite): records of
    // later ticks are dropped, now and in every later drain. Stages run ahead of the last
    // stage's loss by as many ticks as the driver's budget allowed, which depends on timing;
    // every op up to `tick` has always run when the divergence is seen (its settle runs all ops
    // within the budget), so the records kept are the same bits whatever the timing.
    // uncut() lifts it (a new epoch).
    void cutAfter(std::int64_t tick);
    void uncut();
    // The tick of the cut; std::numeric_limits<std::int64_t>::max() when there is none.
    std::int64_t cutTick() const;

private:
    struct StageBuffer {
        SpscLog<OpEvent> ops;
        SpscLog<StalenessSample> staleness;
        SpscLog<MemorySample> memory;
        SpscLog<ReconstructionSample> reconstruction;
    };

    // Stage `stage`'s logs; throws std::out_of_range for a stage the recorder was not built for.
    StageBuffer& stageBuffer(std::int32_t stage);

    std::vector<std::unique_ptr<StageBuffer>> stages_;
    std::mutex drainMutex_;  // one consumer of the stage logs at a time
    std::mutex globalMutex_;
    std::vector<TrainSample> train_;
    std::vector<EvalSample> eval_;
    std::vector<DelaySample> delays_;
    std::atomic<bool> opEvents_;
    std::atomic<std::int64_t> cut_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace lp::core::telemetry
