// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/compare_runner.hpp"

#include "core/error.hpp"
#include "ui/choice_combo.hpp"
#include "ui/training_bridge.hpp"

#include <QTimer>

#include <algorithm>
#include <exception>
#include <utility>

namespace lp::ui {

using core::session::RunState;

namespace {

bool isOver(RunState s) {
    return s == RunState::Finished || s == RunState::NonFinite || s == RunState::Failed ||
           s == RunState::Stopped;
}

// The config with its name and pipeline blanked: what must be equal for a fair comparison.
core::io::ExperimentConfig withoutPipeline(core::io::ExperimentConfig c) {
    c.name.clear();
    c.description.clear();
    c.pipeline = {};
    return c;
}

}  // namespace

QString variantName(CompareVariant variant) {
    return choiceText(variant);
}

QString variantKey(CompareVariant variant) {
    return choiceKey(variant);
}

std::optional<CompareVariant> variantFromKey(const QString& key) {
    return core::parseChoice<CompareVariant>(key.toStdString());
}

core::io::ExperimentConfig variantConfig(const core::io::ExperimentConfig& base,
                                         CompareVariant variant) {
    core::io::ExperimentConfig c = base;
    c.name = base.name + " (" + variantName(variant).toStdString() + ")";
    core::io::PipelineConfig& p = c.pipeline;
    if (variant != CompareVariant::AsEdited) {
        p.diagnosticStash = false;  // its shadow stash would cost memory and time in one run only
        p.telemetry = true;
    }
    if (variant == CompareVariant::Sequential || variant == CompareVariant::GPipe) {
        p.delaySchedule = core::DelayScheduleKind::Static;  // no delays to schedule
        p.delayScales.clear();
    }
    switch (variant) {
        case CompareVariant::Sequential:
            p.cuts.clear();
            p.delays.clear();
            p.policy = core::WeightPolicy::Latest;  // one stage, no delay: plain backprop
            p.schedule = core::ScheduleKind::LayerPipe;
            break;
        case CompareVariant::Latest:
        case CompareVariant::Stash:
        case CompareVariant::Ema:
        case CompareVariant::Momentum:
            p.policy = variant == CompareVariant::Latest     ? core::WeightPolicy::Latest
                       : variant == CompareVariant::Ema      ? core::WeightPolicy::Ema
                       : variant == CompareVariant::Momentum ? core::WeightPolicy::Momentum
                                                             : core::WeightPolicy::Stash;
            if (p.schedule != core::ScheduleKind::LayerPipe) {
                p.schedule = core::ScheduleKind::LayerPipe;
                p.delays.clear();  // GPipe's delays are all 0: take LayerPipe's 2·S(s) instead
            }
            break;
        case CompareVariant::GPipe:
            p.schedule = core::ScheduleKind::GPipe;
            p.delays.clear();
            p.microBatches = std::clamp<std::int64_t>(p.microBatches, 1, base.training.batchSize);
            break;
        case CompareVariant::AsEdited:
            break;
    }
    return c;
}

CompareRunner::CompareRunner(QObject* parent) : QObject(parent), bridge_(new TrainingBridge(this)) {
    bridge_->setTicksPerSecond(0.0);  // as fast as possible; kept across the runs
    connect(bridge_, &TrainingBridge::sessionStarted, this, [this](const auto& layout) {
        emit runStarted(current_, layout);
    });
    // The bridge emits a poll's batch before the state change it polled, so a run's last samples
    // arrive before its end.
    connect(bridge_, &TrainingBridge::telemetry, this, [this](const auto& batch) {
        if (current_ >= 0) {
            emit telemetry(current_, batch);
        }
    });
    connect(bridge_, &TrainingBridge::stateChanged, this, &CompareRunner::onState);
}

CompareRunner::~CompareRunner() = default;

void CompareRunner::start(std::vector<CompareRun> runs) {
    stop();
    if (runs.empty() || runs.size() > static_cast<std::size_t>(kMaxRuns)) {
        throw core::InputError(
            core::concat("a comparison takes 1 to ", kMaxRuns, " runs, got ", runs.size()));
    }
    for (const CompareRun& run : runs) {
        if (withoutPipeline(run.config) != withoutPipeline(runs.front().config)) {
            throw core::InputError(
                "the runs of a comparison may differ only in their pipeline (same model, data, "
                "seed and training), but '" +
                run.config.name + "' differs from '" + runs.front().config.name + "'");
        }
        try {
            core::io::validate(run.config);
        } catch (const core::InputError& e) {
            throw core::InputError(run.label.toStdString() + ": " + e.what());
        }
    }
    runs_ = std::move(runs);
    outcomes_.assign(runs_.size(), RunState::Ready);
    launch(0);
}

void CompareRunner::stop() {
    if (current_ < 0) {
        return;
    }
    const int index = current_;
    if (bridge_->hasSession()) {
        bridge_->poll();  // hand out what the run recorded so far (it may even have just ended)
    }
    current_ = -1;  // also cancels a next run queued by onState
    bridge_->reset();
    if (outcomes_[static_cast<std::size_t>(index)] == RunState::Ready) {
        outcomes_[static_cast<std::size_t>(index)] = RunState::Stopped;
        emit runEnded(index, RunState::Stopped, QStringLiteral("stopped"));
    }
    emit finished();
}

void CompareRunner::launch(int index) {
    for (int i = index; i < static_cast<int>(runs_.size()); ++i) {
        current_ = i;
        try {
            bridge_->start(runs_[static_cast<std::size_t>(i)].config);  // emits runStarted
        } catch (const std::exception& e) {
            // A run that cannot be built (e.g. its data went missing) is reported; the rest go on.
            outcomes_[static_cast<std::size_t>(i)] = RunState::Failed;
            emit runEnded(i, RunState::Failed, QString::fromUtf8(e.what()));
            continue;
        }
        bridge_->play();
        return;
    }
    current_ = -1;
    bridge_->reset();
    emit finished();
}

void CompareRunner::onState(RunState state, const QString& message) {
    const int index = current_;
    if (index < 0 || !isOver(state) ||
        outcomes_[static_cast<std::size_t>(index)] != RunState::Ready) {
        return;
    }
    outcomes_[static_cast<std::size_t>(index)] = state;
    emit runEnded(index, state, message);
    // The next run starts from the event loop: TrainingBridge::start must not replace the session
    // from inside the bridge's own signal.
    QTimer::singleShot(0, this, [this, index] {
        if (current_ == index) {
            launch(index + 1);
        }
    });
}

}  // namespace lp::ui
