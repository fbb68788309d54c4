// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/training_bridge.hpp"

#include "core/session/run_record.hpp"

#include <QTimer>

#include <utility>

namespace lp::ui {

namespace {

bool sameProgress(const core::session::SessionStatus& a, const core::session::SessionStatus& b) {
    return a.state == b.state && a.epoch == b.epoch && a.tick == b.tick &&
           a.lastTick == b.lastTick && a.message == b.message &&
           a.history.size() == b.history.size();
}

}  // namespace

TrainingBridge::TrainingBridge(QObject* parent) : QObject(parent), timer_(new QTimer(this)) {
    timer_->setInterval(kPollMs);
    timer_->setTimerType(Qt::CoarseTimer);
    connect(timer_, &QTimer::timeout, this, &TrainingBridge::poll);
}

// The session's destructor stops the run and joins its driver thread; declared here so that
// the unique_ptr's deleter sees the complete type.
TrainingBridge::~TrainingBridge() = default;

void TrainingBridge::start(const core::io::ExperimentConfig& config) {
    reset();
    // Loads the data and builds the model; may throw InputError, and then nothing changed.
    auto session = std::make_unique<core::session::Session>(config);
    session->setTicksPerSecond(ticksPerSecond_);
    session->setLrScale(lrScale_);
    layout_ = session->layout();
    config_ = session->config();
    dataSource_ = QString::fromStdString(session->dataSource());
    parameterCount_ = session->parameterCount();
    status_ = session->status();
    session_ = std::move(session);
    timer_->start();
    emit sessionStarted(layout_);
    emit statusChanged(status_);
    emit stateChanged(status_.state, QString());
}

void TrainingBridge::play() {
    if (session_) {
        session_->play();
    }
}

void TrainingBridge::pause() {
    if (session_) {
        session_->pause();
    }
}

void TrainingBridge::stepTick() {
    if (session_) {
        session_->stepTicks(1);
    }
}

void TrainingBridge::stepEpoch() {
    if (session_) {
        session_->stepEpoch();
    }
}

void TrainingBridge::reset() {
    timer_->stop();
    // Destroying the session stops it at its next tick boundary and joins the driver thread
    // (quick, except in the middle of "step epoch", which runs the epoch to its end).
    session_.reset();
    log_.clear();
    status_ = {};
    layout_ = {};
    dataSource_.clear();
    parameterCount_ = 0;
    emit cleared();
    emit statusChanged(status_);
}

void TrainingBridge::setTicksPerSecond(double tps) {
    ticksPerSecond_ = tps;
    if (session_) {
        session_->setTicksPerSecond(tps);
    }
}

void TrainingBridge::setLrScale(float scale) {
    lrScale_ = scale;
    if (session_) {
        session_->setLrScale(scale);
    }
}

void TrainingBridge::poll() {
    if (!session_) {
        return;
    }
    // Status before drain: whatever the status reports (e.g. Finished) was recorded before it,
    // so this poll's batch already holds it. Take both before emitting: a slot connected below
    // may reset() the bridge (or open a dialog whose event loop polls again), so nothing after
    // an emit may touch session_.
    core::session::SessionStatus next = session_->status();
    core::telemetry::TelemetryBatch batch = session_->drain();
    const bool progressed = !sameProgress(next, status_);
    const bool stateMoved = next.state != status_.state;
    status_ = std::move(next);
    const core::session::SessionStatus shown = status_;
    if (!batch.empty()) {
        log_.append(batch);
        emit telemetry(batch);
    }
    if (progressed) {
        emit statusChanged(shown);
    }
    if (stateMoved) {
        emit stateChanged(shown.state, QString::fromStdString(shown.message));
    }
}

void TrainingBridge::writeCsvs(const std::filesystem::path& dir) const {
    core::telemetry::writeCsvs(log_, dir, layout_.hosts);
}

void TrainingBridge::writeChromeTrace(const std::filesystem::path& file) const {
    core::telemetry::writeChromeTrace(log_, layout_, file);
}

void TrainingBridge::writeRunRecord(const std::filesystem::path& file) const {
    core::session::writeRunRecord(
        config_,
        layout_,
        log_,
        core::session::sessionRunFacts(status_, dataSource_.toStdString(), parameterCount_),
        file);
}

void TrainingBridge::saveCheckpoint(const std::filesystem::path& file) {
    if (session_) {
        session_->saveCheckpoint(file);
    }
}

}  // namespace lp::ui
