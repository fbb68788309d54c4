// DelayScheduleRow: the pipeline editor's compact choice of how the delays change between epochs
// (pipeline.delaySchedule; docs/pipeline.md): the same every epoch, scaled per epoch by a list of
// scales, or adaptive with its target drift τ. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <QString>
#include <QWidget>

#include <vector>

class QComboBox;
class QDoubleSpinBox;
class QLineEdit;

namespace lp::ui {

class DelayScheduleRow : public QWidget {
    Q_OBJECT

public:
    explicit DelayScheduleRow(QWidget* parent = nullptr);

    // Shows p's delaySchedule, delayScales and adaptiveDrift (emits nothing).
    void setPipeline(const core::io::PipelineConfig& p);
    // Writes the three into p; static, with no scales, when p.schedule is gpipe (no delays).
    void apply(core::io::PipelineConfig& p) const;
    // Why the scales text cannot be read, naming the entry; empty when it can or the schedule
    // is not "scaled per epoch". (Ranges are the config's rules: the forecast reports those.)
    QString problem() const;

    QComboBox* combo() const { return combo_; }

    QLineEdit* scalesEdit() const { return scales_; }

    QDoubleSpinBox* driftSpin() const { return drift_; }

signals:
    void changed();

private:
    void updateFields();
    // The scales text as numbers; *bad: the first entry that is not one.
    std::vector<double> parsedScales(QString* bad) const;

    QComboBox* combo_ = nullptr;
    QLineEdit* scales_ = nullptr;
    QDoubleSpinBox* drift_ = nullptr;
    bool loading_ = false;
};

}  // namespace lp::ui
