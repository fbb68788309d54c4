// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/pipeline_editor.hpp"

#include "ui/choice_combo.hpp"
#include "ui/cluster_panel.hpp"
#include "ui/decimal_field.hpp"
#include "ui/delay_schedule_row.hpp"
#include "ui/palette.hpp"
#include "ui/unit_strip.hpp"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QToolButton>
#include <QUndoCommand>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>

namespace lp::ui {

namespace {

constexpr int kDelaysPerRow = 5;

using core::EmaBetaMode;
using core::ScheduleKind;
using core::WeightPolicy;

// The fields the editor edits (telemetry is not one of them).
bool sameEdit(const core::io::PipelineConfig& a, const core::io::PipelineConfig& b) {
    return a.cuts == b.cuts && a.delays == b.delays && a.policy == b.policy &&
           a.emaBeta == b.emaBeta && a.emaBetaValue == b.emaBetaValue &&
           a.diagnosticStash == b.diagnosticStash && a.schedule == b.schedule &&
           a.microBatches == b.microBatches && a.delaySchedule == b.delaySchedule &&
           a.delayScales == b.delayScales && a.adaptiveDrift == b.adaptiveDrift;
}

QString joined(const std::vector<std::int64_t>& v) {
    QStringList parts;
    for (const std::int64_t x : v) {
        parts << QString::number(x);
    }
    return parts.join(QLatin1Char(','));
}

// What an edit changed, for the Undo/Redo buttons' tooltips ("Undo cuts 3,5,7"). `field` says
// which control, so that steps of one spin box merge into one history entry.
QString describeEdit(const core::io::PipelineConfig& before,
                     const core::io::PipelineConfig& after,
                     int* field) {
    *field = 0;
    if (before.cuts != after.cuts) {
        return after.cuts.empty() ? QStringLiteral("one stage")
                                  : QStringLiteral("cuts %1").arg(joined(after.cuts));
    }
    if (before.delays != after.delays) {
        if (after.delays.empty()) {
            return QStringLiteral("default delays");
        }
        *field = before.delays.size() == after.delays.size() ? 1 : 0;
        return QStringLiteral("delays %1").arg(joined(after.delays));
    }
    if (before.policy != after.policy) {
        return QStringLiteral("weights: %1").arg(choiceKey(after.policy));
    }
    if (before.schedule != after.schedule) {
        return QStringLiteral("schedule: %1").arg(choiceKey(after.schedule));
    }
    if (before.microBatches != after.microBatches) {
        *field = 2;
        return QStringLiteral("M = %1").arg(after.microBatches);
    }
    if (before.emaBetaValue != after.emaBetaValue) {
        *field = 3;
        return QStringLiteral("β = %1").arg(after.emaBetaValue);
    }
    if (before.delaySchedule != after.delaySchedule) {
        return QStringLiteral("delays by epoch: %1").arg(choiceKey(after.delaySchedule));
    }
    if (before.delayScales != after.delayScales) {
        *field = 4;
        QStringList parts;
        for (const double c : after.delayScales) {
            parts << QString::number(c);
        }
        return QStringLiteral("delay scales %1").arg(parts.join(QLatin1Char(',')));
    }
    if (before.adaptiveDrift != after.adaptiveDrift) {
        *field = 5;
        return QStringLiteral("τ = %1").arg(after.adaptiveDrift);
    }
    if (before.emaBeta != after.emaBeta) {
        return QStringLiteral("β mode: %1").arg(choiceKey(after.emaBeta));
    }
    return after.diagnosticStash ? QStringLiteral("diagnostic stash on")
                                 : QStringLiteral("diagnostic stash off");
}

// One edit of the pipeline: undo and redo restore the whole section. The first redo (when the
// command is pushed) does nothing: the edit is already on screen.
class PipelineEdit : public QUndoCommand {
public:
    PipelineEdit(PipelineEditor* editor,
                 core::io::PipelineConfig before,
                 core::io::PipelineConfig after)
        : editor_(editor), before_(std::move(before)), after_(std::move(after)) {
        setText(describeEdit(before_, after_, &field_));
    }

    void undo() override { editor_->applyPipeline(before_); }

    void redo() override {
        if (first_) {
            first_ = false;
            return;
        }
        editor_->applyPipeline(after_);
    }

    // Steps of one spin box (delays, M, β) become one entry.
    int id() const override { return field_ == 0 ? -1 : field_; }

    bool mergeWith(const QUndoCommand* other) override {
        const auto* next = static_cast<const PipelineEdit*>(other);
        if (next->field_ != field_ || next->after_.delays.size() != after_.delays.size()) {
            return false;
        }
        after_ = next->after_;
        setText(next->text());
        return true;
    }

private:
    PipelineEditor* editor_;
    core::io::PipelineConfig before_;
    core::io::PipelineConfig after_;
    int field_ = 0;
    bool first_ = true;
};

}  // namespace

PipelineEditor::PipelineEditor(QWidget* parent) : QWidget(parent) {
    auto* column = new QVBoxLayout(this);
    column->setContentsMargins(0, 0, 0, 0);
    strip_ = new UnitStrip(this);
    column->addWidget(strip_);
    undo_ = new QUndoStack(this);
    auto* hintRow = new QHBoxLayout;
    auto* hint = new QLabel(QStringLiteral("Click between two units to cut the model into stages "
                                           "(or ←/→ and Space)."),
                            this);
    hint->setWordWrap(true);
    hint->setStyleSheet(QStringLiteral("color: #666;"));
    hintRow->addWidget(hint, 1);
    // Own actions rather than QUndoStack's: these stay disabled while a run uses the pipeline.
    undoAction_ = new QAction(QStringLiteral("Undo"), this);
    undoAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Z));
    redoAction_ = new QAction(QStringLiteral("Redo"), this);
    redoAction_->setShortcuts(
        {QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), QKeySequence(Qt::CTRL | Qt::Key_Y)});
    for (QAction* action : {undoAction_, redoAction_}) {
        action->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        addAction(action);
        auto* button = new QToolButton(this);
        button->setDefaultAction(action);
        button->setToolButtonStyle(Qt::ToolButtonTextOnly);
        hintRow->addWidget(button);
    }
    connect(undoAction_, &QAction::triggered, undo_, &QUndoStack::undo);
    connect(redoAction_, &QAction::triggered, undo_, &QUndoStack::redo);
    connect(undo_, &QUndoStack::indexChanged, this, [this] { updateEnabled(); });
    column->addLayout(hintRow);

    auto* delayHeader = new QHBoxLayout;
    delayHeader->addWidget(new QLabel(QStringLiteral("<b>Delays D<sub>s</sub></b>"), this));
    delayHeader->addStretch(1);
    defaultDelays_ = new QCheckBox(QStringLiteral("default 2·S(s)"), this);
    defaultDelays_->setChecked(true);
    defaultDelays_->setToolTip(
        QStringLiteral("LayerPipe2's delays: 2 × the number of stages after s. Untick to choose "
                       "your own (non-increasing from input to output)."));
    delayHeader->addWidget(defaultDelays_);
    column->addLayout(delayHeader);
    delayGrid_ = new QGridLayout;
    delayGrid_->setHorizontalSpacing(4);
    column->addLayout(delayGrid_);
    problem_ = new QLabel(this);
    problem_->setWordWrap(true);
    problem_->setStyleSheet(QStringLiteral("color: #C0392B;"));
    problem_->setVisible(false);
    column->addWidget(problem_);
    pausedNote_ = new QLabel(QStringLiteral("Paused: the paused run keeps its pipeline. Changes "
                                            "made here apply after Reset."),
                             this);
    pausedNote_->setWordWrap(true);
    pausedNote_->setStyleSheet(QStringLiteral("color: #8A6D3B;"));
    pausedNote_->setVisible(false);
    column->addWidget(pausedNote_);

    auto* grid = new QGridLayout;
    buildPolicyRows(grid, 0);
    column->addLayout(grid);

    forecastText_ = new QLabel(this);
    forecastText_->setWordWrap(true);
    forecastText_->setTextFormat(Qt::RichText);
    forecastText_->setStyleSheet(
        QStringLiteral("background: palette(alternate-base); border: 1px solid palette(mid); "
                       "padding: 4px;"));  // the theme's colours (light, dark, high contrast)
    column->addWidget(forecastText_);
    cluster_ = new ClusterPanel(this);
    column->addWidget(cluster_);
    column->addStretch(1);

    connect(strip_, &UnitStrip::cutsChanged, this, [this] {
        rebuildDelayRow();
        refresh();
    });
    connect(defaultDelays_, &QCheckBox::toggled, this, [this](bool on) {
        if (on) {
            resetDelaysToDefault();
        }
        refresh();
    });
    loading_ = true;
    setContext(core::io::ExperimentConfig{});
    loading_ = false;
    recorded_ = pipelineConfig();
    updateEnabled();
}

// The undo stack is a child: it is cleared (and says so) after this object's members are gone.
PipelineEditor::~PipelineEditor() {
    disconnect(undo_, nullptr, this, nullptr);
}

void PipelineEditor::buildPolicyRows(QGridLayout* grid, int row) {
    policy_ = makeChoiceCombo<WeightPolicy>(this);
    betaMode_ = makeChoiceCombo<EmaBetaMode>(this);
    betaValue_ = makeDecimalField(this, {0.0, 0.999, 3, 0.01, QString()});
    diagnostic_ = new QCheckBox(QStringLiteral("diagnostic: measure ‖Ŵ − W‖/‖W‖"), this);
    diagnostic_->setToolTip(QStringLiteral(
        "Runs a shadow stash beside the EMA or momentum reconstruction to measure its error "
        "(reconstruction error chart). Its memory is reported separately."));
    schedule_ = makeChoiceCombo<ScheduleKind>(this);
    microBatches_ = new QSpinBox(this);
    microBatches_->setRange(1, 1024);
    microBatches_->setPrefix(QStringLiteral("M = "));

    grid->addWidget(new QLabel(QStringLiteral("Weights"), this), row, 0);
    grid->addWidget(policy_, row, 1, 1, 2);
    grid->addWidget(new QLabel(QStringLiteral("EMA"), this), row + 1, 0);
    grid->addWidget(betaMode_, row + 1, 1);
    grid->addWidget(betaValue_, row + 1, 2);
    grid->addWidget(diagnostic_, row + 2, 1, 1, 2);
    grid->addWidget(new QLabel(QStringLiteral("Schedule"), this), row + 3, 0);
    grid->addWidget(schedule_, row + 3, 1);
    grid->addWidget(microBatches_, row + 3, 2);
    delaySchedule_ = new DelayScheduleRow(this);
    auto* byEpoch = new QLabel(QStringLiteral("By epoch"), this);
    byEpoch->setToolTip(QStringLiteral("Delay schedule: how the delays change between epochs"));
    grid->addWidget(byEpoch, row + 4, 0);
    grid->addWidget(delaySchedule_, row + 4, 1, 1, 2);
    grid->setColumnStretch(1, 1);

    const auto onChange = [this] {
        refresh();
    };
    connect(policy_, &QComboBox::currentIndexChanged, this, onChange);
    connect(betaMode_, &QComboBox::currentIndexChanged, this, onChange);
    connect(betaValue_, &QDoubleSpinBox::valueChanged, this, onChange);
    connect(diagnostic_, &QCheckBox::toggled, this, onChange);
    connect(schedule_, &QComboBox::currentIndexChanged, this, onChange);
    connect(microBatches_, &QSpinBox::valueChanged, this, onChange);
    connect(delaySchedule_, &DelayScheduleRow::changed, this, onChange);
}

void PipelineEditor::setContext(const core::io::ExperimentConfig& config) {
    context_ = config;
    const std::vector<UnitInfo> units = forecastPipeline(config).units;
    QStringList names;
    std::vector<std::int64_t> params;
    for (const UnitInfo& u : units) {
        names << QString::fromStdString(u.name);
        params.push_back(u.params);
    }
    // No units: the data or the model cannot be resolved (the problem label says why); the strip
    // keeps the last model's units and cuts rather than dropping the cuts.
    if (!units.empty()) {
        strip_->setUnits(names, params);  // drops cuts beyond the model (cutsChanged rebuilds)
    }
    if (static_cast<int>(delaySpins_.size()) != strip_->stageCount()) {
        rebuildDelayRow();
    }
    refresh();
}

void PipelineEditor::setConfig(const core::io::ExperimentConfig& config) {
    loading_ = true;
    setContext(config);
    applyPipeline(config.pipeline);
    undo_->clear();  // a new experiment: a fresh history
}

void PipelineEditor::applyPipeline(const core::io::PipelineConfig& pipeline) {
    loading_ = true;
    loaded_ = pipeline;
    strip_->setCuts(pipeline.cuts);
    rebuildDelayRow();  // the delays at 2·S(s), kept where the pipeline has none
    {
        const QSignalBlocker block(defaultDelays_);
        defaultDelays_->setChecked(pipeline.delays.empty());
    }
    for (std::size_t s = 0; s < delaySpins_.size() && s < pipeline.delays.size(); ++s) {
        const QSignalBlocker block(delaySpins_[s]);
        delaySpins_[s]->setValue(static_cast<int>(pipeline.delays[s]));
    }
    selectChoice(policy_, pipeline.policy);
    selectChoice(betaMode_, pipeline.emaBeta);
    betaValue_->setValue(pipeline.emaBetaValue);
    diagnostic_->setChecked(pipeline.diagnosticStash);
    selectChoice(schedule_, pipeline.schedule);
    microBatches_->setValue(static_cast<int>(pipeline.microBatches));
    delaySchedule_->setPipeline(pipeline);
    loading_ = false;
    recorded_ = pipelineConfig();  // the state shown is the history's: refresh records nothing
    refresh();
}

void PipelineEditor::recordEdit() {
    if (loading_) {
        return;
    }
    const core::io::PipelineConfig now = pipelineConfig();
    if (sameEdit(now, recorded_)) {
        return;
    }
    core::io::PipelineConfig before = recorded_;
    recorded_ = now;
    undo_->push(new PipelineEdit(this, std::move(before), now));
}

core::io::PipelineConfig PipelineEditor::pipelineConfig() const {
    core::io::PipelineConfig p = loaded_;
    p.cuts = strip_->cuts();
    p.delays = defaultDelays_->isChecked() ? std::vector<std::int64_t>{} : spinDelays();
    p.policy = choiceOf<WeightPolicy>(policy_);
    p.emaBeta = choiceOf<EmaBetaMode>(betaMode_);
    p.emaBetaValue = betaValue_->value();
    p.diagnosticStash = diagnostic_->isChecked();
    p.schedule = choiceOf<ScheduleKind>(schedule_);
    p.microBatches = microBatches_->value();
    delaySchedule_->apply(p);
    return p;
}

QString PipelineEditor::problem() const {
    const QString scales = choiceOf<ScheduleKind>(schedule_) == ScheduleKind::GPipe
                               ? QString()
                               : delaySchedule_->problem();
    return scales.isEmpty() ? QString::fromStdString(forecast_.problem) : scales;
}

QSpinBox* PipelineEditor::delaySpin(int stage) const {
    if (stage < 0 || stage >= static_cast<int>(delaySpins_.size())) {
        return nullptr;
    }
    return delaySpins_[static_cast<std::size_t>(stage)];
}

std::vector<std::int64_t> PipelineEditor::spinDelays() const {
    std::vector<std::int64_t> d;
    d.reserve(delaySpins_.size());
    for (const QSpinBox* spin : delaySpins_) {
        d.push_back(spin->value());
    }
    return d;
}

void PipelineEditor::rebuildDelayRow() {
    for (QSpinBox* spin : delaySpins_) {
        delete spin;  // NOLINT(cppcoreguidelines-owning-memory): Qt child, removed from layout
    }
    for (QLabel* label : delayLabels_) {
        delete label;  // NOLINT(cppcoreguidelines-owning-memory)
    }
    delaySpins_.clear();
    delayLabels_.clear();
    const int k = strip_->stageCount();
    const std::vector<std::int64_t> defaults = core::session::defaultDelays(k);
    for (int s = 0; s < k; ++s) {
        auto* label = new QLabel(QStringLiteral("D%1").arg(s), this);
        label->setStyleSheet(QStringLiteral("color: %1; font-weight: bold;")
                                 .arg(palette::stageColor(s).darker(115).name()));
        auto* spin = new QSpinBox(this);
        spin->setRange(0, 256);
        spin->setToolTip(QStringLiteral("Delay of stage %1: its forward of minibatch j uses weight "
                                        "version j − D. Default 2·S(s) = %2.")
                             .arg(s)
                             .arg(defaults[static_cast<std::size_t>(s)]));
        connect(spin, &QSpinBox::valueChanged, this, [this] { refresh(); });
        const int row = s / kDelaysPerRow;
        const int col = (s % kDelaysPerRow) * 2;
        delayGrid_->addWidget(label, row, col, Qt::AlignRight);
        delayGrid_->addWidget(spin, row, col + 1);
        delaySpins_.push_back(spin);
        delayLabels_.push_back(label);
    }
    resetDelaysToDefault();
}

void PipelineEditor::resetDelaysToDefault() {
    const auto k = static_cast<std::int64_t>(delaySpins_.size());
    if (k == 0) {
        return;
    }
    const std::vector<std::int64_t> d = core::session::defaultDelays(k);
    for (std::size_t s = 0; s < delaySpins_.size(); ++s) {
        const QSignalBlocker block(delaySpins_[s]);
        delaySpins_[s]->setValue(static_cast<int>(d[s]));
    }
}

void PipelineEditor::setEditable(bool on) {
    editable_ = on;
    updateEnabled();
}

void PipelineEditor::setPausedRun(bool paused) {
    pausedNote_->setVisible(paused);
    if (paused) {
        setEditable(true);
    }
}

void PipelineEditor::updateEnabled() {
    const WeightPolicy policy = choiceOf<WeightPolicy>(policy_);
    const bool ema = policy == WeightPolicy::Ema;
    const bool reconstructs = ema || policy == WeightPolicy::Momentum;
    const bool gpipe = choiceOf<ScheduleKind>(schedule_) == ScheduleKind::GPipe;
    const bool e = editable_;
    undoAction_->setEnabled(e && undo_->canUndo());
    redoAction_->setEnabled(e && undo_->canRedo());
    undoAction_->setToolTip(undo_->canUndo()
                                ? QStringLiteral("Undo %1 (Ctrl+Z)").arg(undo_->undoText())
                                : QStringLiteral("Nothing to undo (Ctrl+Z)"));
    redoAction_->setToolTip(undo_->canRedo()
                                ? QStringLiteral("Redo %1 (Ctrl+Shift+Z)").arg(undo_->redoText())
                                : QStringLiteral("Nothing to redo (Ctrl+Shift+Z)"));
    strip_->setEnabled(e);
    cluster_->setMeasurable(e);
    policy_->setEnabled(e);
    schedule_->setEnabled(e);
    betaMode_->setEnabled(e && ema);
    betaValue_->setEnabled(e && ema && choiceOf<EmaBetaMode>(betaMode_) == EmaBetaMode::Fixed);
    diagnostic_->setEnabled(e && reconstructs);
    microBatches_->setEnabled(e && gpipe);
    delaySchedule_->setEnabled(e && !gpipe);
    defaultDelays_->setEnabled(e && !gpipe);
    for (QSpinBox* spin : delaySpins_) {
        spin->setEnabled(e && !gpipe && !defaultDelays_->isChecked());
    }
}

void PipelineEditor::refresh() {
    core::io::ExperimentConfig config = context_;
    config.pipeline = pipelineConfig();
    forecast_ = forecastPipeline(config);
    updateEnabled();
    const QString why = problem();
    problem_->setText(why);
    problem_->setVisible(!why.isEmpty());
    forecastText_->setText(forecastHtml(forecast_, why));
    forecastText_->setToolTip(forecastToolTip(forecast_));
    cluster_->setPipeline(config, forecast_);
    recordEdit();
    if (!loading_) {
        emit changed();
    }
}

}  // namespace lp::ui
