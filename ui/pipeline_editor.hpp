// PipelineEditor: where to cut the model into stages (a strip of units, click a gap to cut, or
// the keyboard: see unit_strip.hpp), the delay D_s of each stage with illegal choices explained
// inline, the weight policy and the schedule, and a live forecast (ticks, utilisation, stash vs
// EMA memory; on N machines: cluster_panel.hpp). Every edit is undoable (Ctrl+Z, Ctrl+Shift+Z or
// Ctrl+Y to redo, while the focus is in the editor; the Undo/Redo buttons too); loading an
// experiment starts a fresh history. While a run is paused the pipeline stays editable, with a note
// that the paused run keeps its own pipeline and the edits apply after Reset (a run's stages cannot
// change under it). GUI thread only. SPDX-License-Identifier: GPL-3.0-or-later
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
class QAction;
class QSpinBox;
class QUndoStack;

namespace lp::ui {

class ClusterPanel;
class DelayScheduleRow;
class UnitStrip;

class PipelineEditor : public QWidget {
    Q_OBJECT

public:
    explicit PipelineEditor(QWidget* parent = nullptr);
    ~PipelineEditor() override;
    PipelineEditor(const PipelineEditor&) = delete;
    PipelineEditor& operator=(const PipelineEditor&) = delete;

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
    // A paused run: editable, with the note that edits apply after Reset. false: no note.
    void setPausedRun(bool paused);

    // The pipeline section as a whole, as an undoable edit would restore it (emits changed()).
    void applyPipeline(const core::io::PipelineConfig& pipeline);

    // The edit history (cuts, delays, policy, schedule, β, M); cleared by setConfig.
    QUndoStack* undoStack() const { return undo_; }

    QLabel* pausedNote() const { return pausedNote_; }

    QAction* undoAction() const { return undoAction_; }

    QAction* redoAction() const { return redoAction_; }

    // Why the edited pipeline cannot run (core::delaysProblem, bad GPipe M); empty when it can.
    QString problem() const;

    const PipelineForecast& forecast() const { return forecast_; }

    UnitStrip* strip() const { return strip_; }

    QCheckBox* defaultDelaysBox() const { return defaultDelays_; }

    // The delay spin box of stage s, or nullptr.
    QSpinBox* delaySpin(int stage) const;

    QLabel* problemLabel() const { return problem_; }

    QLabel* forecastLabel() const { return forecastText_; }

    // The forecast for N machines (fields, Measure, bars and the bottleneck).
    ClusterPanel* clusterPanel() const { return cluster_; }

    QComboBox* policyCombo() const { return policy_; }

    QComboBox* scheduleCombo() const { return schedule_; }

    // How the delays change between epochs (static, scaled per epoch, adaptive).
    DelayScheduleRow* delayScheduleRow() const { return delaySchedule_; }

signals:
    // Any pipeline choice changed (after the forecast and the problem text were updated).
    void changed();

private:
    void buildPolicyRows(QGridLayout* grid, int row);
    void rebuildDelayRow();
    void resetDelaysToDefault();
    void refresh();
    void updateEnabled();
    void recordEdit();
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
    DelayScheduleRow* delaySchedule_ = nullptr;
    QLabel* forecastText_ = nullptr;
    ClusterPanel* cluster_ = nullptr;
    QLabel* pausedNote_ = nullptr;
    QUndoStack* undo_ = nullptr;
    QAction* undoAction_ = nullptr;
    QAction* redoAction_ = nullptr;
    core::io::PipelineConfig recorded_;  // the state the last history entry ends in
    core::io::ExperimentConfig context_;
    core::io::PipelineConfig loaded_;  // fields not edited here (telemetry) come from it
    PipelineForecast forecast_;
    bool loading_ = false;  // suppresses changed() while widgets are filled from a config
    bool editable_ = true;
};

}  // namespace lp::ui
