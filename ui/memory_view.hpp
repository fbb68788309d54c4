// Memory over time: weight-history bytes of stash vs EMA vs momentum on one chart (the policies
// that are not running drawn as forecasts from the layout), and a stacked view of what is held.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/telemetry/events.hpp"
#include "ui/telemetry_view.hpp"

#include <QString>
#include <QWidget>

#include <array>
#include <cstdint>
#include <vector>

class QCustomPlot;
class QCPGraph;
class QCPItemText;

namespace lp::ui {

class MemoryView : public TelemetryView {
    Q_OBJECT

public:
    explicit MemoryView(QWidget* parent = nullptr);

    // Steady-state weight history of exact stashing (DESIGN.md section 5): Σ_s D_s·P_s·4 bytes.
    static std::int64_t stashHistoryBytes(const core::telemetry::PipelineLayout& layout);
    // Weight history of the EMA reconstruction: Σ_{s: D_s>0} P_s·4 bytes for the EMA buffer d,
    // plus, when countScratch, the same again for the scratch Ŵ that each delayed stage builds its
    // backward weights into (DESIGN.md section 4). Counted by default, because the engine reports
    // "EMA buffer + scratch" as WeightHistory, so the forecast compares like with like with a live
    // EMA run.
    static std::int64_t emaHistoryBytes(const core::telemetry::PipelineLayout& layout,
                                        bool countScratch);

    // Count the EMA's scratch buffer as history in the forecast (off: DESIGN.md section 5's
    // Σ P_s·4, which is what the engine reports as WeightHistory).
    void setEmaScratchCounted(bool on);

    // Measured weight history of the running policy, summed over stages (MiB over seconds).
    QCPGraph* measuredGraph() const { return measured_; }

    // Forecast curve of policy "stash", "ema" or "momentum"; nullptr while that policy is the
    // running one (or for another name).
    QCPGraph* forecastGraph(const QString& policy) const;
    // Forecast in bytes of a policy for the current layout: stash and ema as above; momentum and
    // latest keep no weight history, 0.
    std::int64_t forecastBytes(const QString& policy) const;

    // The EMA diagnostic's shadow stash (dotted); hidden until a non-zero sample arrives.
    QCPGraph* shadowGraph() const { return shadow_; }

    // Stacked totals, in stacking order: weights, history, activations, optimizer state. Each
    // graph holds the running sum up to and including its category.
    QCPGraph* stackGraph(core::telemetry::MemoryCategory category) const;

    static constexpr double kBytesPerMiB = 1024.0 * 1024.0;

private:
    // The running policy (layout.policy) and the D_s, P_s for the forecast.
    void applyLayout(const core::telemetry::PipelineLayout& layout) override;
    // Adds the batch's memory samples.
    bool addBatch(const core::telemetry::TelemetryBatch& batch) override;
    void clearData() override;

    struct Forecast {  // the dashed line of a policy that is not running, and its label
        QString policy;
        QCPGraph* graph = nullptr;
        QCPItemText* label = nullptr;
    };

    void flushPoint(double timeUs);
    void commitPending();
    void updateForecasts();
    void placeForecastLabels();
    void rescale();

    QCPGraph* measured_ = nullptr;
    std::array<Forecast, 3> forecasts_;  // stash, ema, momentum
    QCPGraph* shadow_ = nullptr;
    std::array<QCPGraph*, 4> stack_{};
    bool emaScratch_ = false;  // the engine reports the EMA scratch under Weights
    bool autoRange_ = true;
    // Latest bytes per category and stage; the totals are what one point shows.
    std::array<std::vector<std::int64_t>, 5> latest_{};
    std::array<std::int64_t, 5> totals_{};
    double firstSeconds_ = 0.0;
    double lastSeconds_ = 0.0;
    bool anyPoint_ = false;
    // Points of the batch being appended, flushed to the graphs in one addData each.
    std::array<QVector<double>, 6> pendingValues_{};  // 4 stacked, history, shadow
    QVector<double> pendingKeys_;
};

}  // namespace lp::ui
