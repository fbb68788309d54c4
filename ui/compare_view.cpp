// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/compare_view.hpp"

#include "core/error.hpp"
#include "ui/chart_export.hpp"
#include "ui/chart_layout.hpp"
#include "ui/choice_combo.hpp"
#include "ui/palette.hpp"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSaveFile>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace lp::ui {

using core::session::RunState;
using core::telemetry::EvalSample;
using core::telemetry::MemoryCategory;
using core::telemetry::MemorySample;
using core::telemetry::PipelineLayout;
using core::telemetry::TelemetryBatch;
using core::telemetry::TrainSample;

namespace {

constexpr double kBytesPerMiB = 1024.0 * 1024.0;

// The classic four-way comparison of the paper: plain backprop against the three ways of
// handling the stale weights; the fifth slot (momentum, GPipe, ...) starts off.
constexpr std::array<std::optional<CompareVariant>, CompareRunner::kMaxRuns> kDefaultSlots = {
    CompareVariant::Sequential,
    CompareVariant::Latest,
    CompareVariant::Stash,
    CompareVariant::Ema,
    std::nullopt};

// A run's colour in all three charts: its policy's, as in the memory chart and the Study tab
// (sequential black, latest orange, stash vermillion, EMA blue, momentum green, GPipe purple);
// "as edited" takes the colour of the policy it runs.
QColor runColor(const CompareRun& run) {
    const core::io::PipelineConfig& p = run.config.pipeline;
    if (p.schedule == core::ScheduleKind::GPipe) {
        return palette::policyColor(choiceKey(p.schedule));
    }
    if (p.cuts.empty()) {
        return palette::policyColor(QStringLiteral("sequential"));
    }
    return palette::policyColor(choiceKey(p.policy));
}

// Row 2 is the plot's own axis rect (below the title and the legend).
QCPAxisRect* addRect(QCustomPlot* plot, int row, const QString& yLabel, const QString& xLabel) {
    auto* rect = row == 2 ? plot->axisRect() : new QCPAxisRect(plot);
    if (row != 2) {
        plot->plotLayout()->addElement(row, 0, rect);
    }
    palette::styleAxisRect(rect);
    rect->axis(QCPAxis::atLeft)->setLabel(yLabel);
    rect->axis(QCPAxis::atBottom)->setLabel(xLabel);
    return rect;
}

// Debiased EMA step: s ← β·s + (1 − β)·x; returns s / (1 − β^t).
double smooth(double x, double& ema, double& power) {
    ema = CompareView::kSmoothing * ema + (1.0 - CompareView::kSmoothing) * x;
    power *= CompareView::kSmoothing;
    return ema / (1.0 - power);
}

QString outcomeSuffix(RunState state) {
    switch (state) {
        case RunState::NonFinite:
            return QStringLiteral(" — diverged (non-finite loss)");
        case RunState::Failed:
            return QStringLiteral(" — failed");
        case RunState::Stopped:
            return QStringLiteral(" — stopped");
        default:
            return {};
    }
}

}  // namespace

CompareView::CompareView(QWidget* parent) : QWidget(parent), runner_(new CompareRunner(this)) {
    auto* box = new QVBoxLayout(this);
    box->setContentsMargins(0, 0, 0, 0);
    box->setSpacing(2);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(QStringLiteral("Compare"), this));
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        auto* combo = new QComboBox(this);
        combo->addItem(QStringLiteral("—"));
        for (int v = 0; v < kCompareVariants; ++v) {
            combo->addItem(variantName(static_cast<CompareVariant>(v)), v);
        }
        combo->setCurrentIndex(kDefaultSlots[i] ? static_cast<int>(*kDefaultSlots[i]) + 1 : 0);
        combo->setToolTip(
            QStringLiteral("A variant of the experiment in the Experiment and Pipeline panels; "
                           "only its pipeline changes (same model, seed and data order)"));
        // Five slots and the buttons must fit beside the docks of a 1024-pixel window: a slot
        // may shrink below its longest name (the text elides) when there is no room.
        combo->setMinimumWidth(combo->fontMetrics().horizontalAdvance(QStringLiteral("sequen")) +
                               combo->iconSize().width());
        slots_[i] = combo;
        bar->addWidget(combo, 1);
    }
    run_ = new QPushButton(QStringLiteral("▶ Run comparison"), this);
    run_->setToolTip(QStringLiteral("Runs the variants one after another at full speed"));
    stop_ = new QPushButton(QStringLiteral("■ Stop"), this);
    bar->addWidget(run_);
    bar->addWidget(stop_);
    bar->addStretch(1);
    box->addLayout(bar);
    // On a line of its own, wrapping: the tab fits a 1024-pixel window (issue 13).
    status_ = new QLabel(this);
    status_->setWordWrap(true);
    status_->setContentsMargins(4, 0, 4, 0);
    box->addWidget(status_);
    plot_ = new QCustomPlot(this);
    box->addWidget(plot_, 1);

    palette::applyChartStyle(plot_);
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    installHoverValues(plot_);
    installExportMenu(plot_);

    // Title on top, the runs' legend in a row below it (one entry per run, for all three
    // charts): both wrap rather than elide, and neither covers a curve.
    title_ = palette::makeTitle(plot_, QStringLiteral("Compare"));
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, title_);
    chart::addLegendRow(plot_, 1, true);

    lossRect_ = addRect(plot_, 2, QStringLiteral("loss (smoothed)"), QStringLiteral("step"));
    accuracyRect_ =
        addRect(plot_, 3, QStringLiteral("accuracy (%)"), QStringLiteral("step (dots: test)"));
    historyRect_ = addRect(plot_,
                           4,
                           QStringLiteral("weight history (MiB)"),
                           QStringLiteral("schedule time (minibatches)"));
    accuracyRect_->axis(QCPAxis::atLeft)->setRange(0.0, 100.0);
    auto* group = new QCPMarginGroup(plot_);
    const std::array<QCPAxisRect*, 3> rects = {lossRect_, accuracyRect_, historyRect_};
    for (QCPAxisRect* rect : rects) {
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
        rect->setRangeDrag(Qt::Horizontal);
        rect->setRangeZoom(Qt::Horizontal);
        // Loss and accuracy share the step axis: dragging or zooming one moves the other. The
        // history's schedule time also counts fill and drain, so it keeps its own range.
        for (QCPAxisRect* other : {lossRect_, accuracyRect_}) {
            if (other != rect && rect != historyRect_) {
                connect(rect->axis(QCPAxis::atBottom),
                        qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
                        other->axis(QCPAxis::atBottom),
                        qOverload<const QCPRange&>(&QCPAxis::setRange));
            }
        }
    }
    plot_->plotLayout()->setRowStretchFactor(2, 1.3);

    connect(plot_,
            &QCustomPlot::legendClick,
            this,
            [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
                auto* p = qobject_cast<QCPPlottableLegendItem*>(item);
                for (int r = 0; p != nullptr && r < runCount(); ++r) {
                    if (p->plottable() == series_[static_cast<std::size_t>(r)].loss) {
                        toggleRun(r);
                    }
                }
            });
    installAutoRangeToggle(plot_, this, autoRange_, [this] { rescale(); });
    connect(run_, &QPushButton::clicked, this, &CompareView::startRequested);
    connect(stop_, &QPushButton::clicked, this, &CompareView::stop);
    connect(runner_, &CompareRunner::runStarted, this, &CompareView::onRunStarted);
    connect(runner_, &CompareRunner::telemetry, this, &CompareView::onTelemetry);
    connect(runner_, &CompareRunner::runEnded, this, &CompareView::onRunEnded);
    connect(runner_, &CompareRunner::finished, this, &CompareView::onFinished);
    status_->setText(QStringLiteral("Pick up to five variants, then run them."));
    updateButtons();
}

void CompareView::setVariants(const std::vector<std::optional<CompareVariant>>& picks) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        const std::optional<CompareVariant> v = i < picks.size() ? picks[i] : std::nullopt;
        slots_[i]->setCurrentIndex(v ? static_cast<int>(*v) + 1 : 0);
    }
}

std::vector<std::optional<CompareVariant>> CompareView::variants() const {
    std::vector<std::optional<CompareVariant>> out;
    for (const QComboBox* combo : slots_) {
        const int i = combo->currentIndex();
        out.push_back(i > 0 ? std::optional(static_cast<CompareVariant>(i - 1)) : std::nullopt);
    }
    return out;
}

void CompareView::start(const core::io::ExperimentConfig& base) {
    std::vector<CompareRun> runs;
    for (const auto& v : variants()) {
        if (v) {
            runs.push_back({variantName(*v), variantConfig(base, *v)});
        }
    }
    if (runs.empty()) {
        throw core::InputError("pick at least one variant to compare");
    }
    // Check everything before the old curves go (the runner checks again).
    for (const CompareRun& run : runs) {
        try {
            core::io::validate(run.config);
        } catch (const core::InputError& e) {
            throw core::InputError(run.label.toStdString() + ": " + e.what());
        }
    }
    runner_->stop();
    std::vector<CompareRun> copy = runs;
    clearRuns();
    for (std::size_t i = 0; i < runs.size(); ++i) {
        Series s;
        s.label = runs[i].label;
        const QColor colour = runColor(runs[i]);
        s.loss =
            plot_->addGraph(lossRect_->axis(QCPAxis::atBottom), lossRect_->axis(QCPAxis::atLeft));
        s.accuracy = plot_->addGraph(accuracyRect_->axis(QCPAxis::atBottom),
                                     accuracyRect_->axis(QCPAxis::atLeft));
        s.testAccuracy = plot_->addGraph(accuracyRect_->axis(QCPAxis::atBottom),
                                         accuracyRect_->axis(QCPAxis::atLeft));
        s.history = plot_->addGraph(historyRect_->axis(QCPAxis::atBottom),
                                    historyRect_->axis(QCPAxis::atLeft));
        s.loss->setName(s.label);
        s.accuracy->setName(s.label + QStringLiteral(" · train top-1"));
        s.testAccuracy->setName(s.label + QStringLiteral(" · test top-1"));
        s.history->setName(s.label + QStringLiteral(" · weight history"));
        for (QCPGraph* g : {s.loss, s.accuracy, s.testAccuracy, s.history}) {
            g->setPen(palette::cosmeticPen(colour, 2.0));
            if (g != s.loss) {
                g->removeFromLegend();
            }
        }
        s.testAccuracy->setLineStyle(QCPGraph::lsNone);
        s.testAccuracy->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, 8));
        s.history->setLineStyle(QCPGraph::lsStepLeft);
        series_.push_back(std::move(s));
    }
    title_->setText(QStringLiteral("Compare · %1 · same seed and data order")
                        .arg(QString::fromStdString(base.name)));
    autoRange_ = true;
    try {
        runner_->start(std::move(copy));
    } catch (...) {
        clearRuns();
        throw;
    }
    updateButtons();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CompareView::stop() {
    runner_->stop();
}

void CompareView::clearRuns() {
    for (const Series& s : series_) {
        for (QCPGraph* g : {s.loss, s.accuracy, s.testAccuracy, s.history}) {
            plot_->removeGraph(g);
        }
    }
    series_.clear();
    title_->setText(QStringLiteral("Compare"));
}

QCPGraph* CompareView::lossGraph(int run) const {
    return run >= 0 && run < runCount() ? series_[static_cast<std::size_t>(run)].loss : nullptr;
}

QCPGraph* CompareView::accuracyGraph(int run) const {
    return run >= 0 && run < runCount() ? series_[static_cast<std::size_t>(run)].accuracy : nullptr;
}

QCPGraph* CompareView::testAccuracyGraph(int run) const {
    return run >= 0 && run < runCount() ? series_[static_cast<std::size_t>(run)].testAccuracy
                                        : nullptr;
}

QCPGraph* CompareView::historyGraph(int run) const {
    return run >= 0 && run < runCount() ? series_[static_cast<std::size_t>(run)].history : nullptr;
}

std::int64_t CompareView::historyBytes(int run) const {
    if (run < 0 || run >= runCount()) {
        return 0;
    }
    std::int64_t total = 0;
    for (const auto& changes : series_[static_cast<std::size_t>(run)].historyChanges) {
        if (!changes.empty()) {
            total += changes.back().second;  // sorted by tick in redrawHistory
        }
    }
    return total;
}

void CompareView::writeCsv(const QString& path) const {
    QByteArray text = "run,label,series,x,y\n";
    for (int r = 0; r < runCount(); ++r) {
        const Series& s = series_[static_cast<std::size_t>(r)];
        QString label = s.label;
        label.remove(QLatin1Char(','));
        const std::array<std::pair<const char*, QCPGraph*>, 4> graphs = {
            std::pair{"loss_smoothed", s.loss},
            std::pair{"train_top1_smoothed", s.accuracy},
            std::pair{"test_top1", s.testAccuracy},
            std::pair{"weight_history_mib", s.history}};
        for (const auto& [series, graph] : graphs) {
            for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) {
                // QByteArray::number ignores the locale: always '.' decimals.
                text += QByteArray::number(r) + ',' + label.toUtf8() + ',' + series + ',' +
                        QByteArray::number(it->key, 'g', 17) + ',' +
                        QByteArray::number(it->value, 'g', 17) + '\n';
            }
        }
    }
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly) || out.write(text) != text.size() || !out.commit()) {
        throw core::InputError("cannot write " + path.toStdString() + ": " +
                               out.errorString().toStdString());
    }
}

void CompareView::onRunStarted(int index, const PipelineLayout& layout) {
    if (index < 0 || index >= runCount()) {
        return;
    }
    Series& s = series_[static_cast<std::size_t>(index)];
    s.historyChanges.assign(static_cast<std::size_t>(std::max(layout.stages(), 1)), {});
    const core::io::ExperimentConfig& config =
        runner_->runs()[static_cast<std::size_t>(index)].config;
    // GPipe spends 2(M + K − 1) ticks on one minibatch, LayerPipe one (in steady state).
    s.ticksPerMinibatch =
        layout.schedule == "gpipe"
            ? 2.0 * static_cast<double>(config.pipeline.microBatches + layout.stages() - 1)
            : 1.0;
    s.loss->setName(s.label + QStringLiteral(" (running…)"));
    status_->setText(QStringLiteral("Run %1 of %2: %3 · K = %4")
                         .arg(index + 1)
                         .arg(runCount())
                         .arg(s.label)
                         .arg(layout.stages()));
    updateButtons();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CompareView::onTelemetry(int index, const TelemetryBatch& batch) {
    if (index < 0 || index >= runCount()) {
        return;
    }
    Series& s = series_[static_cast<std::size_t>(index)];
    QVector<double> steps;
    QVector<double> losses;
    QVector<double> accSteps;
    QVector<double> accs;
    for (const TrainSample& t : batch.train) {
        const auto step = static_cast<double>(t.step);
        accSteps << step;
        accs << 100.0 * smooth(static_cast<double>(t.accuracy), s.accEma, s.accPower);
        if (t.nonFinite || !std::isfinite(t.loss)) {
            s.diverged = true;
            continue;
        }
        steps << step;
        losses << smooth(static_cast<double>(t.loss), s.lossEma, s.lossPower);
    }
    s.loss->addData(steps, losses, true);
    s.accuracy->addData(accSteps, accs, true);
    for (const EvalSample& e : batch.eval) {
        s.testAccuracy->addData(static_cast<double>(e.step), 100.0 * static_cast<double>(e.top1));
    }
    bool historyMoved = false;
    for (const MemorySample& m : batch.memory) {
        if (m.category != MemoryCategory::WeightHistory || m.stage < 0) {
            continue;
        }
        const auto stage = static_cast<std::size_t>(m.stage);
        if (stage >= s.historyChanges.size()) {
            s.historyChanges.resize(stage + 1);
        }
        auto& changes = s.historyChanges[stage];
        if (changes.empty() || changes.back().second != m.bytes) {
            changes.emplace_back(m.tick, m.bytes);
        }
        s.lastTick = std::max(s.lastTick, m.tick);
        historyMoved = true;
    }
    if (historyMoved) {
        redrawHistory(s);
    }
    if (autoRange_) {
        rescale();
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

// The total over stages is a step function that can only change where one stage's value did:
// evaluating it at those ticks (and the newest) draws it exactly with a handful of points, and
// stays right when one stage's samples of a tick arrive a batch later than another's (drain
// hands them out stage by stage).
void CompareView::redrawHistory(Series& s) {
    std::vector<std::int64_t> ticks;
    for (auto& changes : s.historyChanges) {
        std::stable_sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) {
            return a.first < b.first;
        });
        for (const auto& c : changes) {
            ticks.push_back(c.first);
        }
    }
    ticks.push_back(s.lastTick);
    std::sort(ticks.begin(), ticks.end());
    ticks.erase(std::unique(ticks.begin(), ticks.end()), ticks.end());
    QVector<double> keys;
    QVector<double> values;
    for (const std::int64_t tick : ticks) {
        std::int64_t total = 0;
        for (const auto& changes : s.historyChanges) {
            auto it = std::upper_bound(
                changes.begin(), changes.end(), tick, [](std::int64_t t, const auto& c) {
                    return t < c.first;
                });
            if (it != changes.begin()) {
                total += std::prev(it)->second;
            }
        }
        keys << static_cast<double>(tick) / s.ticksPerMinibatch;
        values << static_cast<double>(total) / kBytesPerMiB;
    }
    s.history->setData(keys, values, true);
}

void CompareView::onRunEnded(int index, RunState state, const QString& message) {
    if (index < 0 || index >= runCount()) {
        return;
    }
    Series& s = series_[static_cast<std::size_t>(index)];
    s.loss->setName(s.label + outcomeSuffix(state));
    if (state == RunState::Failed) {
        status_->setText(QStringLiteral("%1 failed: %2").arg(s.label, message));
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CompareView::onFinished() {
    const auto& outcomes = runner_->outcomes();
    const auto finished = std::count(outcomes.begin(), outcomes.end(), RunState::Finished);
    const auto diverged = std::count(outcomes.begin(), outcomes.end(), RunState::NonFinite);
    const auto stopped = std::count(outcomes.begin(), outcomes.end(), RunState::Stopped);
    const auto failed = std::count(outcomes.begin(), outcomes.end(), RunState::Failed);
    QStringList parts;
    parts << QStringLiteral("%1 finished").arg(finished);
    if (diverged > 0) {
        parts << QStringLiteral("%1 diverged").arg(diverged);
    }
    if (stopped > 0) {
        parts << QStringLiteral("%1 stopped").arg(stopped);
    }
    if (failed > 0) {
        parts << QStringLiteral("%1 failed").arg(failed);
    }
    if (failed == 0 || !status_->text().contains(QStringLiteral("failed"))) {
        status_->setText(QStringLiteral("Done: %1.").arg(parts.join(QStringLiteral(", "))));
    }
    updateButtons();
}

void CompareView::toggleRun(int run) {
    Series& s = series_[static_cast<std::size_t>(run)];
    // The legend item of the loss curve speaks for the run's three charts.
    QCPPlottableLegendItem* item = plot_->legend->itemWithPlottable(s.loss);
    toggleLegendItem(plot_, item);
    for (QCPGraph* g : {s.accuracy, s.testAccuracy, s.history}) {
        g->setVisible(s.loss->visible());
    }
    if (autoRange_) {
        rescale();
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CompareView::rescale() {
    double maxStep = 1.0;
    double maxTime = 1.0;
    QCPRange loss;
    bool anyLoss = false;
    double maxHistory = 0.0;
    for (const Series& s : series_) {
        bool found = false;
        for (const QCPGraph* g : {s.accuracy, s.testAccuracy}) {
            const QCPRange keys = g->getKeyRange(found);
            if (found) {
                maxStep = std::max(maxStep, keys.upper);
            }
        }
        const QCPRange historyKeys = s.history->getKeyRange(found);
        if (found) {
            maxTime = std::max(maxTime, historyKeys.upper);
        }
        if (!s.loss->visible()) {
            continue;
        }
        const QCPRange values = s.loss->getValueRange(found);
        if (found) {
            loss = anyLoss ? QCPRange(std::min(loss.lower, values.lower),
                                      std::max(loss.upper, values.upper))
                           : values;
            anyLoss = true;
        }
        const QCPRange history = s.history->getValueRange(found);
        if (found) {
            maxHistory = std::max(maxHistory, history.upper);
        }
    }
    // A little room on the right, so that the last test dot is not cut in half by the frame.
    lossRect_->axis(QCPAxis::atBottom)->setRange(0.0, 1.02 * maxStep);  // and accuracy's, linked
    historyRect_->axis(QCPAxis::atBottom)->setRange(0.0, maxTime);
    if (anyLoss) {
        const double pad = std::max(0.05 * loss.size(), 1e-3);
        lossRect_->axis(QCPAxis::atLeft)
            ->setRange(std::max(0.0, loss.lower - pad), loss.upper + pad);
    }
    historyRect_->axis(QCPAxis::atLeft)->setRange(0.0, maxHistory > 0.0 ? maxHistory * 1.12 : 1.0);
}

void CompareView::updateButtons() {
    run_->setEnabled(!runner_->running());
    stop_->setEnabled(runner_->running());
    for (QComboBox* combo : slots_) {
        combo->setEnabled(!runner_->running());
    }
}

}  // namespace lp::ui
