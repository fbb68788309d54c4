// ClusterPanel: the pipeline editor's "N machines" forecast (issue 15): fields for the machines,
// the link bandwidth (Gbit/s) and latency (µs), a "Measure this machine" button that times every
// unit of the model off the GUI thread (core::session::UnitCostMeasurement, polled by a timer),
// and the forecast of core/session/cluster_forecast.hpp as bars — each machine's compute, each
// link's time — with the bottleneck highlighted and named in words. Unit times are cached per
// model, batch, threads and optimizer (unitCostKey), so edits of the cuts, delays or links
// re-forecast at once without measuring again. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/cluster_forecast.hpp"

#include <QWidget>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTimer;

namespace lp::ui {

class ClusterBars;

class ClusterPanel : public QWidget {
    Q_OBJECT

public:
    explicit ClusterPanel(QWidget* parent = nullptr);
    ~ClusterPanel() override;
    ClusterPanel(const ClusterPanel&) = delete;
    ClusterPanel& operator=(const ClusterPanel&) = delete;

    // The experiment as edited and its forecast (units, stages, delays); re-forecasts.
    void setPipeline(const core::io::ExperimentConfig& config,
                     const core::session::PipelineForecast& forecast);

    // Unit times for the current experiment's key (what a measurement delivers); re-forecasts.
    void setUnitCosts(const std::vector<core::session::UnitCost>& costs);

    // Starts timing the units of the current experiment on a thread of its own (the button).
    void measure();

    bool measuring() const { return measurement_ != nullptr; }

    // Whether Measure may start (off while a run uses the cores: it would time the run too).
    void setMeasurable(bool on);

    // The forecast shown; nullopt while there are no unit times or the pipeline cannot run.
    const std::optional<core::session::ClusterForecast>& clusterForecast() const {
        return forecast_;
    }

    QSpinBox* machinesSpin() const { return machines_; }

    QDoubleSpinBox* gbitSpin() const { return gbit_; }

    QDoubleSpinBox* latencySpin() const { return latency_; }

    QPushButton* measureButton() const { return measure_; }

    QLabel* statusLabel() const { return status_; }

    // Step time, images/s and "Bottleneck: ..." in words.
    QLabel* summaryLabel() const { return summary_; }

    ClusterBars* bars() const { return bars_; }

signals:
    // A measurement finished (its times are cached and shown) or failed (statusLabel says why).
    void measured();

private:
    void refresh();
    void poll();

    QSpinBox* machines_ = nullptr;
    QDoubleSpinBox* gbit_ = nullptr;
    QDoubleSpinBox* latency_ = nullptr;
    QPushButton* measure_ = nullptr;
    QLabel* status_ = nullptr;
    QLabel* summary_ = nullptr;
    ClusterBars* bars_ = nullptr;
    QTimer* poll_ = nullptr;
    core::io::ExperimentConfig config_;
    core::session::PipelineForecast pipeline_;
    std::map<std::string, std::vector<core::session::UnitCost>> cache_;  // by unitCostKey
    std::unique_ptr<core::session::UnitCostMeasurement> measurement_;
    std::string measuringKey_;
    std::string error_;  // the last measurement's failure
    bool measurable_ = true;
    std::optional<core::session::ClusterForecast> forecast_;
};

// The bars: one row per machine (its stages' compute, stacked in the stages' colours) and one
// per link between them (grey), all on the scale of the step time; the bottleneck's row is
// outlined and marked. Paints the current theme's colours. GUI thread only.
class ClusterBars : public QWidget {
    Q_OBJECT

public:
    explicit ClusterBars(QWidget* parent = nullptr);

    void setForecast(const std::optional<core::session::ClusterForecast>& forecast);

    // The rows' labels as painted, top to bottom ("machine 0 · stage 0", "link 0 → 1", ...).
    QStringList rowLabels() const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    std::optional<core::session::ClusterForecast> forecast_;
};

}  // namespace lp::ui
