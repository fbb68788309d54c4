// Staleness per unit (layer group) of the model: configured delay (bars) against measured
// staleness (mean and last), and a unit × update heatmap. With a delay schedule the bars show the
// current epoch's delay, dashes the delays of the earlier epochs, and dashed lines on the heatmap
// where the configured delays changed, labelled with the new ones. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "ui/telemetry_view.hpp"

#include <QString>
#include <QWidget>

#include <cstdint>
#include <utility>
#include <vector>

class QCustomPlot;
class QCPAbstractItem;
class QCPBars;
class QCPColorMap;
class QCPGraph;

namespace lp::ui {

class StalenessView : public TelemetryView {
    Q_OBJECT

public:
    explicit StalenessView(QWidget* parent = nullptr);

    QCPBars* delayBars() const { return delayBars_; }

    QCPGraph* meanGraph() const { return mean_; }

    QCPColorMap* heatmap() const { return heatmap_; }

    // The configured delays of earlier epochs (delay schedules): one dash per unit and delay.
    QCPGraph* earlierDelaysGraph() const { return earlier_; }

    // Where the configured delays changed (a new epoch of a delay schedule): the first update
    // with the new delays, and every stage's delay from there (from the samples' configured_delay).
    struct DelayChange {
        std::int64_t update = 0;
        std::vector<std::int64_t> delays;  // by stage
    };

    std::vector<DelayChange> delayChanges() const;

    // One row per unit; mean and last are NaN before the unit's stage reported a sample.
    struct UnitStaleness {
        QString name;
        std::int32_t stage = 0;
        double configuredDelay = 0.0;
        double meanStaleness = 0.0;
        double lastStaleness = 0.0;
        std::int64_t samples = 0;
    };

    std::vector<UnitStaleness> units() const;

    // At most this many update bins along the heatmap's x axis (each bin shows its mean).
    static constexpr int kMaxHeatmapBins = 400;

private:
    // Units and their stages (PipelineLayout.stageOfUnit) and the configured delays D_s. Without a
    // layout every stage seen in the data is one unit "stage s".
    void applyLayout(const core::telemetry::PipelineLayout& layout) override;
    // Adds the batch's staleness samples.
    bool addBatch(const core::telemetry::TelemetryBatch& batch) override;
    void clearData() override;

    struct StageSeries {
        std::vector<std::int64_t> updates;
        std::vector<std::int64_t> staleness;
        double sum = 0.0;
        std::int64_t last = 0;
        std::int64_t configuredDelay = -1;  // the newest sample's
        // (first update, configured delay) each time the configured delay changed
        std::vector<std::pair<std::int64_t, std::int64_t>> delayChanges;
    };

    struct Unit {
        QString name;
        std::int32_t stage = 0;
    };

    std::vector<Unit> unitList() const;
    void refresh();
    void refreshBars(const std::vector<Unit>& list);
    void refreshHeatmap(const std::vector<Unit>& list);
    void refreshDelayChanges();

    QCPBars* delayBars_ = nullptr;
    QCPGraph* mean_ = nullptr;
    QCPGraph* last_ = nullptr;
    QCPColorMap* heatmap_ = nullptr;
    QCPGraph* earlier_ = nullptr;
    std::vector<QCPAbstractItem*> changeItems_;  // the heatmap's delay-change lines and labels
    std::vector<StageSeries> stages_;
    bool autoRange_ = true;
};

}  // namespace lp::ui
