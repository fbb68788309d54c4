// PipelineEditor: where to cut the model into stages (a strip of units, click a gap to cut), the
// delay D_s of each stage with illegal choices explained inline, the weight policy and the
// schedule, and a live forecast (ticks, utilisation, stash vs EMA memory). GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "ui/model_forecast.hpp"

#include <QWidget>

#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QSpinBox;

namespace lp::ui {

class UnitStrip;

class PipelineEditor : public QWidget {
    Q_OBJECT

public:
    explicit PipelineEditor(QWidget* parent = nullptr);

    // Takes the model and data sections (units, parameter counts, minibatches per epoch) from
    // config and keeps the current pipeline choices where they still fit the model.
    void setContext(const core::io::ExperimentConfig& config);
    // setContext, then shows config.pipeline.
    void setConfig(const core::io::ExperimentConfig& config);

    // The pipeline section as edited: cuts from the strip; delays empty while "default delays"
    // is ticked, else one per stage; telemetry as last loaded.
    core::io::PipelineConfig pipelineConfig() const;

    // Whether the choices can be edited (off while a run uses them); the forecast stays readable.
    void setEditable(bool on);

    // Why the edited pipeline cannot run (DelayPlan::whyIllegal, bad GPipe M); empty when it can.
    QString problem() const;

    const PipelineForecast& forecast() const { return forecast_; }

    UnitStrip* strip() const { return strip_; }

    QCheckBox* defaultDelaysBox() const { return defaultDelays_; }

    // The delay spin box of stage s, or nullptr.
    QSpinBox* delaySpin(int stage) const;

    QLabel* problemLabel() const { return problem_; }

    QLabel* forecastLabel() const { return forecastText_; }

    QComboBox* policyCombo() const { return policy_; }

    QComboBox* scheduleCombo() const { return schedule_; }

signals:
    // Any pipeline choice changed (after the forecast and the problem text were updated).
    void changed();

private:
    void buildPolicyRows(QGridLayout* grid, int row);
    void rebuildDelayRow();
    void resetDelaysToDefault();
    void refresh();
    void updateEnabled();
    std::vector<std::int64_t> spinDelays() const;

    UnitStrip* strip_ = nullptr;
    QGridLayout* delayGrid_ = nullptr;
    std::vector<QSpinBox*> delaySpins_;
    std::vector<QLabel*> delayLabels_;
    QCheckBox* defaultDelays_ = nullptr;
    QLabel* problem_ = nullptr;
    QComboBox* policy_ = nullptr;
    QComboBox* betaMode_ = nullptr;
    QDoubleSpinBox* betaValue_ = nullptr;
    QCheckBox* diagnostic_ = nullptr;
    QComboBox* schedule_ = nullptr;
    QSpinBox* microBatches_ = nullptr;
    QLabel* forecastText_ = nullptr;
    core::io::ExperimentConfig context_;
    core::io::PipelineConfig loaded_;  // fields not edited here (telemetry) come from it
    PipelineForecast forecast_;
    bool loading_ = false;  // suppresses changed() while widgets are filled from a config
    bool editable_ = true;
};

// "12.3 MiB", "640 KiB", "1.02 GiB".
QString formatBytes(std::int64_t bytes);

}  // namespace lp::ui
