// TrainingBridge: the one QObject between a training Session and the GUI (STYLE.md section 6).
// It owns the Session, polls it from a ~30 Hz QTimer (drain + status), keeps everything drained in
// a TelemetryLog for export, and emits one batched signal per poll. GUI thread only; never blocks
// on training (Session's calls return at once), except reset(), which joins the driver thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/session.hpp"
#include "core/telemetry/events.hpp"
#include "core/telemetry/exporters.hpp"

#include <QObject>
#include <QString>

#include <filesystem>
#include <memory>

class QTimer;

namespace lp::ui {

class TrainingBridge : public QObject {
    Q_OBJECT

public:
    static constexpr int kPollMs = 33;

    explicit TrainingBridge(QObject* parent = nullptr);
    ~TrainingBridge() override;
    TrainingBridge(const TrainingBridge&) = delete;
    TrainingBridge& operator=(const TrainingBridge&) = delete;
    TrainingBridge(TrainingBridge&&) = delete;
    TrainingBridge& operator=(TrainingBridge&&) = delete;

    // Replaces any current session with a new one for config (loads the data and builds the
    // model: can take a second) in state Ready, and emits sessionStarted. Throws InputError (bad
    // config or data) or ContractError; the caller's slot must catch and show it.
    void start(const core::io::ExperimentConfig& config);

    bool hasSession() const { return session_ != nullptr; }

    // Session commands; no-ops without a session.
    void play();
    void pause();
    void stepTick();
    void stepEpoch();
    // Stops and destroys the session (joins its driver thread), clears the log, emits cleared().
    void reset();
    // Kept across sessions: applied to the current one and to every session started later.
    void setTicksPerSecond(double tps);  // 0 = as fast as possible
    void setLrScale(float scale);

    double ticksPerSecond() const { return ticksPerSecond_; }

    float lrScale() const { return lrScale_; }

    // Drains the session now (the timer does this every kPollMs).
    void poll();

    // The running session's values (empty/default without a session).
    const core::session::SessionStatus& status() const { return status_; }

    const core::telemetry::PipelineLayout& layout() const { return layout_; }

    const core::io::ExperimentConfig& config() const { return config_; }

    QString dataSource() const { return dataSource_; }

    std::int64_t parameterCount() const { return parameterCount_; }

    const core::telemetry::TelemetryLog& log() const { return log_; }

    // Exports of everything drained so far (core's writers: atomic; InputError on failure).
    void writeCsvs(const std::filesystem::path& dir) const;
    void writeChromeTrace(const std::filesystem::path& file) const;
    void writeRunRecord(const std::filesystem::path& file) const;
    // Checkpoint of the current weights; InputError while an epoch is half done.
    void saveCheckpoint(const std::filesystem::path& file);

signals:
    void sessionStarted(const lp::core::telemetry::PipelineLayout& layout);
    void telemetry(const lp::core::telemetry::TelemetryBatch& batch);
    void statusChanged(const lp::core::session::SessionStatus& status);
    // The state moved to another RunState (also reported by statusChanged).
    void stateChanged(lp::core::session::RunState state, const QString& message);
    void cleared();

private:
    std::unique_ptr<core::session::Session> session_;
    QTimer* timer_ = nullptr;
    core::telemetry::TelemetryLog log_;
    core::session::SessionStatus status_;
    core::telemetry::PipelineLayout layout_;
    core::io::ExperimentConfig config_;
    QString dataSource_;
    std::int64_t parameterCount_ = 0;
    double ticksPerSecond_ = 0.0;
    float lrScale_ = 1.0F;
};

}  // namespace lp::ui
