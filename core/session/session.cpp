// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/session.hpp"

#include "core/error.hpp"
#include "core/session/run_folder.hpp"
#include "core/session/trainer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

namespace lp::core::session {

// In RunState's order.
constexpr std::array<const char*, 7> kRunStateNames{
    "ready", "running", "paused", "paused: non-finite loss", "finished", "stopped", "failed"};
static_assert(kRunStateNames.size() == static_cast<std::size_t>(RunState::Failed) + 1);

const char* toString(RunState state) {
    return indexedName(kRunStateNames, state);
}

struct Session::Impl {
    explicit Impl(const io::ExperimentConfig& config) : Impl(Experiment::create(config, false)) {}

    // The experiment moves into the trainer: one copy of the dataset's pixels per session.
    explicit Impl(Experiment experiment)
        : recorder(static_cast<std::int32_t>(experiment.pipeline.cuts.size() + 1),
                   experiment.config.pipeline.telemetry)
        , trainer(std::make_unique<Trainer>(std::move(experiment), &recorder)) {
        status.epochs = trainer->experiment().config.training.epochs;
        status.stepsPerEpoch = trainer->experiment().stepsPerEpoch;
    }

    telemetry::Recorder recorder;
    std::unique_ptr<Trainer> trainer;

    mutable std::mutex mutex;
    std::condition_variable cv;
    SessionStatus status;
    bool running = false;           // play mode
    std::int64_t pendingTicks = 0;  // step requests
    bool pendingEpoch = false;
    bool stopRequested = false;
    double ticksPerSecond = 0.0;
    std::jthread driver;

    bool hasWork() const { return running || pendingTicks > 0 || pendingEpoch || stopRequested; }

    void setState(RunState s) {
        status.state = s;
        cv.notify_all();
    }

    // Called by the engine between settles; returns the next tick budget or -1 to stop.
    std::int64_t nextBudget(std::int64_t doneTick, std::chrono::steady_clock::time_point& last) {
        std::unique_lock lock(mutex);
        status.tick = doneTick;
        status.lastTick = trainer->engine().lastTick();
        for (;;) {
            if (stopRequested) {
                return -1;
            }
            if (pendingEpoch) {
                return std::numeric_limits<std::int64_t>::max();
            }
            if (pendingTicks > 0) {
                const std::int64_t n = std::exchange(pendingTicks, 0);
                status.state = RunState::Running;
                return doneTick + n;
            }
            if (running) {
                status.state = RunState::Running;
                if (ticksPerSecond > 0.0) {
                    // Paced: one tick per 1/tps seconds, interruptible by any command.
                    const auto due =
                        last + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(1.0 / ticksPerSecond));
                    if (cv.wait_until(lock, due, [&] { return stopRequested || !running; })) {
                        continue;
                    }
                    last = std::chrono::steady_clock::now();
                    return doneTick + 1;
                }
                // As fast as possible, but settle every few ticks so pause answers quickly.
                const auto now = std::chrono::steady_clock::now();
                const double since = std::chrono::duration<double>(now - last).count();
                chunk = since < 0.05 ? std::min<std::int64_t>(chunk * 2, 1 << 20)
                                     : std::max<std::int64_t>(chunk / 2, 1);
                last = now;
                return doneTick + chunk;
            }
            status.state = RunState::Paused;
            cv.notify_all();
            cv.wait(lock, [&] { return hasWork(); });
            last = std::chrono::steady_clock::now();
        }
    }

    void drive(const std::stop_token& token) {
        std::stop_callback onStop(token, [this] {
            const std::lock_guard lock(mutex);
            stopRequested = true;
            cv.notify_all();
        });
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return hasWork(); });
        }
        try {
            while (!trainer->finished()) {
                auto last = std::chrono::steady_clock::now();
                const EpochReport r =
                    trainer->runEpoch([&](std::int64_t done) { return nextBudget(done, last); });
                const std::lock_guard lock(mutex);
                if (r.nonFinite) {
                    running = false;
                    pendingTicks = 0;
                    pendingEpoch = false;
                    status.message =
                        concat("the loss became non-finite (NaN or infinity) in epoch ",
                               r.epoch + 1,
                               "; the run is paused. Lower the learning rate.");
                    setState(RunState::NonFinite);
                    return;
                }
                if (!r.completed) {
                    setState(RunState::Stopped);
                    return;
                }
                pendingEpoch = false;
                status.epoch = trainer->epoch();
                status.tick = -1;
                status.history.push_back(epochSummary(r));
                if (stopRequested) {
                    setState(RunState::Stopped);
                    return;
                }
            }
            const std::lock_guard lock(mutex);
            running = false;
            setState(RunState::Finished);
        } catch (const std::exception& e) {
            const std::lock_guard lock(mutex);
            status.message = e.what();
            running = false;
            setState(RunState::Failed);
        }
    }

    std::int64_t chunk = 1;
};

Session::Session(const io::ExperimentConfig& config) : impl_(std::make_unique<Impl>(config)) {
    impl_->driver = std::jthread([this](const std::stop_token& t) { impl_->drive(t); });
}

Session::~Session() {
    stop();
    // jthread's destructor requests stop and joins; the graph is destroyed on the driver thread.
}

const io::ExperimentConfig& Session::config() const {
    return impl_->trainer->experiment().config;
}

telemetry::PipelineLayout Session::layout() const {
    return impl_->trainer->layout();
}

std::string Session::dataSource() const {
    return impl_->trainer->experiment().data.source;
}

std::int64_t Session::parameterCount() const {
    return static_cast<std::int64_t>(impl_->trainer->net().weightCount());
}

void Session::play() {
    const std::lock_guard lock(impl_->mutex);
    impl_->running = true;
    impl_->cv.notify_all();
}

void Session::pause() {
    const std::lock_guard lock(impl_->mutex);
    impl_->running = false;
    impl_->pendingTicks = 0;
    impl_->pendingEpoch = false;
    impl_->cv.notify_all();
}

void Session::stepTicks(std::int64_t n) {
    const std::lock_guard lock(impl_->mutex);
    impl_->running = false;
    impl_->pendingTicks += std::max<std::int64_t>(n, 0);
    impl_->cv.notify_all();
}

void Session::stepEpoch() {
    const std::lock_guard lock(impl_->mutex);
    impl_->running = false;
    impl_->pendingEpoch = true;
    impl_->cv.notify_all();
}

void Session::stop() {
    const std::lock_guard lock(impl_->mutex);
    impl_->stopRequested = true;
    impl_->running = false;
    impl_->cv.notify_all();
}

void Session::setTicksPerSecond(double tps) {
    const std::lock_guard lock(impl_->mutex);
    impl_->ticksPerSecond = std::max(tps, 0.0);
    impl_->cv.notify_all();
}

void Session::setLrScale(float scale) {
    impl_->trainer->setLrScale(scale);
}

telemetry::TelemetryBatch Session::drain() {
    return impl_->recorder.drain();
}

SessionStatus Session::status() const {
    const std::lock_guard lock(impl_->mutex);
    return impl_->status;
}

void Session::saveCheckpoint(const std::filesystem::path& file) {
    const std::lock_guard lock(impl_->mutex);
    const RunState s = impl_->status.state;
    if (impl_->status.tick >= 0 && s != RunState::Finished) {
        throw InputError(
            "a checkpoint can only be saved between epochs; step to the end of the "
            "epoch first (the pipeline must be drained)");
    }
    impl_->trainer->save(file);
}

}  // namespace lp::core::session
