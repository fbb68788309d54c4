// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/delay_schedule_row.hpp"

#include "ui/choice_combo.hpp"
#include "ui/decimal_field.hpp"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSignalBlocker>

#include <algorithm>

namespace lp::ui {

using core::DelayScheduleKind;

DelayScheduleRow::DelayScheduleRow(QWidget* parent) : QWidget(parent) {
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    combo_ = makeChoiceCombo<DelayScheduleKind>(this);
    // Compact: the row must not widen the pipeline panel.
    combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    combo_->setMinimumContentsLength(8);
    combo_->setToolTip(
        QStringLiteral("How the delays change between epochs (each epoch drains first): epoch e "
                       "runs with floor(c_e × D_s). Scaled per epoch: the scales c_0, c_1, … "
                       "(the last one is kept). Adaptive: epoch 1 at full delay, then the scale "
                       "that keeps the weights' drift over a delay window near τ, from the "
                       "update size ‖ΔW‖/‖W‖ the stages measured in the epoch before."));
    scales_ = new QLineEdit(this);
    scales_->setPlaceholderText(QStringLiteral("1, 0.5, 0.25"));
    scales_->setToolTip(
        QStringLiteral("One scale per epoch, each in [0, 4]; epochs past the "
                       "list keep the last (pipeline.delayScales)"));
    drift_ = makeDecimalField(this, {0.001, 1.0, 3, 0.005, QStringLiteral("τ = ")});
    drift_->setToolTip(
        QStringLiteral("Target relative drift of a stage's weights over its delay "
                       "window (pipeline.adaptiveDrift)"));
    row->addWidget(combo_);
    row->addWidget(scales_, 1);
    row->addWidget(drift_, 1);
    const auto onChange = [this] {
        updateFields();
        if (!loading_) {
            emit changed();
        }
    };
    connect(combo_, &QComboBox::currentIndexChanged, this, onChange);
    connect(scales_, &QLineEdit::textChanged, this, onChange);
    connect(drift_, &QDoubleSpinBox::valueChanged, this, onChange);
    setPipeline(core::io::PipelineConfig{});
}

void DelayScheduleRow::setPipeline(const core::io::PipelineConfig& p) {
    loading_ = true;
    selectChoice(combo_, p.delaySchedule);
    QStringList parts;
    for (const double c : p.delayScales) {
        parts << QString::number(c, 'g', 12);
    }
    // An empty list keeps what was typed: switching to "scaled" again brings it back.
    if (!parts.isEmpty() || p.delaySchedule == DelayScheduleKind::Epochs) {
        scales_->setText(parts.join(QStringLiteral(", ")));
    }
    drift_->setValue(p.adaptiveDrift);
    loading_ = false;
    updateFields();
}

std::vector<double> DelayScheduleRow::parsedScales(QString* bad) const {
    std::vector<double> out;
    static const QRegularExpression separators(QStringLiteral("[,;\\s]+"));
    for (const QString& part : scales_->text().split(separators, Qt::SkipEmptyParts)) {
        bool ok = false;
        const double v = part.toDouble(&ok);
        if (!ok) {
            *bad = part;
            return out;
        }
        out.push_back(v);
    }
    return out;
}

void DelayScheduleRow::apply(core::io::PipelineConfig& p) const {
    const bool gpipe = p.schedule == core::ScheduleKind::GPipe;
    p.delaySchedule = gpipe ? DelayScheduleKind::Static : choiceOf<DelayScheduleKind>(combo_);
    QString bad;
    p.delayScales =
        p.delaySchedule == DelayScheduleKind::Epochs ? parsedScales(&bad) : std::vector<double>{};
    p.adaptiveDrift = drift_->value();
}

QString DelayScheduleRow::problem() const {
    if (choiceOf<DelayScheduleKind>(combo_) != DelayScheduleKind::Epochs) {
        return {};
    }
    QString bad;
    const std::vector<double> scales = parsedScales(&bad);
    if (!bad.isEmpty()) {
        return QStringLiteral(
                   "Delay scales: '%1' is not a number; give one scale per epoch, "
                   "e.g. 1, 0.5, 0.25")
            .arg(bad);
    }
    if (scales.empty()) {
        return QStringLiteral(
            "Delay scales: give one scale per epoch, e.g. 1, 0.5, 0.25 (each "
            "in [0, 4])");
    }
    return {};
}

void DelayScheduleRow::updateFields() {
    const DelayScheduleKind kind = choiceOf<DelayScheduleKind>(combo_);
    scales_->setVisible(kind == DelayScheduleKind::Epochs);
    drift_->setVisible(kind == DelayScheduleKind::Adaptive);
}

}  // namespace lp::ui
