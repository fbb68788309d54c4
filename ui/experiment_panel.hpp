// ExperimentPanel: the form for the experiment's data, model size, optimizer and training
// settings; produces and consumes core::io::ExperimentConfig (the pipeline section is the
// PipelineEditor's). GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace lp::ui {

class ExperimentPanel : public QWidget {
    Q_OBJECT

public:
    explicit ExperimentPanel(QWidget* parent = nullptr);

    // Shows config's fields; fields without a widget (schedule, augmentation, limits, ...) are
    // kept and come back unchanged from config().
    void setConfig(const core::io::ExperimentConfig& config);
    // The last config set, with the edited fields applied.
    core::io::ExperimentConfig config() const;

    // eval.recalibrateBatchNorm: training batches for BN recalibration, 0 = off.
    QSpinBox* recalibrationSpin() const { return recalibrate_; }

    // Sets the dataset folder (as "Open CIFAR folder…" does) and picks "auto" so the folder's
    // content decides between CIFAR-100, CIFAR-10 and (Fashion-)MNIST.
    void setDataFolder(const QString& folder);

signals:
    void changed();

private:
    void chooseFolder();
    void updateFolderLabel();
    void emitChanged();

    QComboBox* dataset_ = nullptr;
    QLabel* folder_ = nullptr;
    QPushButton* openFolder_ = nullptr;
    QComboBox* arch_ = nullptr;
    QSpinBox* width_ = nullptr;
    QSpinBox* batchSize_ = nullptr;
    QComboBox* optimizer_ = nullptr;
    QDoubleSpinBox* lr_ = nullptr;
    QSpinBox* epochs_ = nullptr;
    QSpinBox* seed_ = nullptr;
    QSpinBox* threads_ = nullptr;
    QSpinBox* maxSteps_ = nullptr;
    QSpinBox* syntheticTrain_ = nullptr;
    QSpinBox* recalibrate_ = nullptr;
    core::io::ExperimentConfig base_;
    bool loading_ = false;
};

}  // namespace lp::ui
