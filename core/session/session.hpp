// Session: the one object the GUI and the CLI drive (DESIGN.md section 6). It owns a Trainer and
// a driver thread (std::jthread) that runs the engine; every public method is thread-safe and
// returns at once — the caller (the GUI thread) never waits on training, and training never waits
// on the caller: telemetry piles up in the Recorder until drain() takes it.
//
// Plain C++ header (no TBB, no Eigen), so that ui/ may include it.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/telemetry/events.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lp::core::session {

enum class RunState {
    Ready,  // built, nothing run yet
    Running,
    Paused,
    NonFinite,  // paused because the loss became NaN or infinite
    Finished,   // every configured epoch ran
    Stopped,    // stop() was called
    Failed,     // an exception escaped a stage; see message
};
const char* toString(RunState state);

struct EpochSummary {
    std::int32_t epoch = 0;
    double trainLoss = 0.0;
    double trainAccuracy = 0.0;
    double testLoss = 0.0;
    double testTop1 = 0.0;
    double testTop5 = 0.0;
    // With BN recalibration (eval.recalibrateBatchNorm > 0): the test figures with recalibrated
    // statistics; recalibrationBatches = 0 otherwise.
    std::int64_t recalibrationBatches = 0;
    double recalibratedTestLoss = 0.0;
    double recalibratedTestTop1 = 0.0;
    double recalibratedTestTop5 = 0.0;
    double seconds = 0.0;
    double imagesPerSecond = 0.0;
};

struct SessionStatus {
    RunState state = RunState::Ready;
    std::int64_t epoch = 0;     // epochs completed
    std::int64_t epochs = 0;    // configured
    std::int64_t tick = -1;     // last tick completed in the current epoch
    std::int64_t lastTick = 0;  // the current epoch's last tick
    std::int64_t stepsPerEpoch = 0;
    std::string message;  // error or non-finite explanation
    std::vector<EpochSummary> history;
};

class Session {
public:
    // Loads the data and builds the model and pipeline; throws InputError for a bad config.
    explicit Session(const io::ExperimentConfig& config);
    ~Session();  // stops the run and joins the driver thread
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    Session(Session&&) = delete;
    Session& operator=(Session&&) = delete;

    const io::ExperimentConfig& config() const;
    telemetry::PipelineLayout layout() const;
    std::string dataSource() const;  // "Fashion-MNIST from /usr/share/datasets/fashion-mnist"
    std::int64_t parameterCount() const;

    void play();                         // run continuously (paced by ticksPerSecond)
    void pause();                        // stop at the next tick boundary
    void stepTicks(std::int64_t n);      // run n more ticks, then pause
    void stepEpoch();                    // run to the end of the current epoch, then pause
    void stop();                         // end the run; the session cannot resume afterwards
    void setTicksPerSecond(double tps);  // 0 = as fast as possible
    void setLrScale(float scale);        // live learning-rate multiplier

    telemetry::TelemetryBatch drain();  // everything recorded since the last drain
    SessionStatus status() const;
    // Writes a checkpoint of the current weights (only between epochs or when finished).
    void saveCheckpoint(const std::filesystem::path& file);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lp::core::session
