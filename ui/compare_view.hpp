// CompareView: the Compare tab. Up to five variants of the current experiment (e.g. sequential,
// latest, stash, EMA, momentum) run one after another through a CompareRunner with the same seed
// and data order, overlaid in three aligned charts with one legend entry per run: smoothed training
// loss, accuracy (smoothed train top-1 per step, test top-1 per epoch as dots), and the weight
// history held (all stages). Clicking a legend entry hides or shows all three curves of that run.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/session.hpp"
#include "core/telemetry/events.hpp"
#include "ui/compare_runner.hpp"

#include <QColor>
#include <QString>
#include <QWidget>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

class QComboBox;
class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QCPTextElement;
class QLabel;
class QPushButton;

namespace lp::ui {

class CompareView : public QWidget {
    Q_OBJECT

public:
    explicit CompareView(QWidget* parent = nullptr);

    // The variants picked in the five slots (nullopt: the slot is off), in slot order.
    void setVariants(const std::vector<std::optional<CompareVariant>>& picks);
    std::vector<std::optional<CompareVariant>> variants() const;

    // Clears the charts and runs the picked variants of base (variantConfig). Throws InputError
    // (nothing picked, or a variant that does not validate), having changed nothing.
    void start(const core::io::ExperimentConfig& base);
    void stop();

    CompareRunner* runner() const { return runner_; }

    QCustomPlot* plot() const { return plot_; }

    QCPAxisRect* lossRect() const { return lossRect_; }

    QCPAxisRect* accuracyRect() const { return accuracyRect_; }

    int runCount() const { return static_cast<int>(series_.size()); }

    // Per run (index as in runner()->runs()): EMA-smoothed loss over steps (non-finite losses
    // skipped), smoothed train top-1 (%), test top-1 (%) per epoch, weight history (MiB) over
    // schedule time in minibatches (ticks / ticks per minibatch: 1 for LayerPipe, 2(M+K−1) for
    // GPipe), as a step line.
    QCPGraph* lossGraph(int run) const;
    QCPGraph* accuracyGraph(int run) const;
    QCPGraph* testAccuracyGraph(int run) const;
    QCPGraph* historyGraph(int run) const;

    // Weight-history bytes of run, summed over stages, at its newest tick.
    std::int64_t historyBytes(int run) const;

    QLabel* statusLabel() const { return status_; }

    // Every point of every run as CSV: "run,label,series,x,y" with series loss_smoothed |
    // train_top1_smoothed | test_top1 | weight_history_mib, '.' decimals, '\n' line ends. Written
    // atomically; throws InputError on failure.
    void writeCsv(const QString& path) const;

    static constexpr double kSmoothing = 0.9;

signals:
    // The Run button: the owner calls start() with the current experiment.
    void startRequested();

private:
    struct Series {
        QString label;
        QCPGraph* loss = nullptr;
        QCPGraph* accuracy = nullptr;
        QCPGraph* testAccuracy = nullptr;
        QCPGraph* history = nullptr;
        double lossEma = 0.0;
        double lossPower = 1.0;  // β^t over the finite losses so far (TensorBoard's debias)
        double accEma = 0.0;
        double accPower = 1.0;
        // Per stage, the ticks where its weight-history bytes changed, with the new value.
        std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> historyChanges;
        std::int64_t lastTick = -1;
        double ticksPerMinibatch = 1.0;
        bool diverged = false;
    };

    void clearRuns();
    void onRunStarted(int index, const core::telemetry::PipelineLayout& layout);
    void onTelemetry(int index, const core::telemetry::TelemetryBatch& batch);
    void onRunEnded(int index, core::session::RunState state, const QString& message);
    void onFinished();
    void redrawHistory(Series& s);
    void toggleRun(int run);
    void rescale();
    void updateButtons();

    CompareRunner* runner_ = nullptr;
    std::array<QComboBox*, CompareRunner::kMaxRuns> slots_{};
    QPushButton* run_ = nullptr;
    QPushButton* stop_ = nullptr;
    QLabel* status_ = nullptr;
    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPAxisRect* lossRect_ = nullptr;
    QCPAxisRect* accuracyRect_ = nullptr;
    QCPAxisRect* historyRect_ = nullptr;
    std::vector<Series> series_;
    bool autoRange_ = true;
};

}  // namespace lp::ui
