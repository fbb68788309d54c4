// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/experiment_panel.hpp"

#include "ui/choice_combo.hpp"
#include "ui/decimal_field.hpp"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>

#include <algorithm>
#include <array>
#include <limits>

namespace lp::ui {

using core::DatasetKind;

namespace {

QSpinBox* makeSpin(QWidget* parent, int lo, int hi, const QString& special = QString()) {
    auto* spin = new QSpinBox(parent);
    spin->setRange(lo, hi);
    spin->setSpecialValueText(special);
    spin->setAccelerated(true);
    return spin;
}

int clampInt(std::int64_t v) {
    return static_cast<int>(std::clamp<std::int64_t>(v, 0, std::numeric_limits<int>::max()));
}

}  // namespace

ExperimentPanel::ExperimentPanel(QWidget* parent) : QWidget(parent) {
    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

    // The installed Fashion-MNIST first after auto: the usual choice on a classroom machine.
    static constexpr std::array kDatasetOrder{DatasetKind::Auto,
                                              DatasetKind::FashionMnist,
                                              DatasetKind::Cifar100,
                                              DatasetKind::Cifar10,
                                              DatasetKind::Mnist,
                                              DatasetKind::Synthetic};
    dataset_ = makeChoiceCombo<DatasetKind>(this, kDatasetOrder);
    form->addRow(QStringLiteral("Dataset"), dataset_);

    auto* folderRow = new QHBoxLayout;
    folder_ = new QLabel(this);
    folder_->setStyleSheet(QStringLiteral("color: #666;"));
    folder_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    openFolder_ = new QPushButton(QStringLiteral("Open CIFAR folder…"), this);
    folderRow->addWidget(folder_, 1);
    folderRow->addWidget(openFolder_);
    form->addRow(QStringLiteral("Folder"), folderRow);

    syntheticTrain_ = makeSpin(this, 1, 1'000'000);
    syntheticTrain_->setToolTip(QStringLiteral("Training samples of the synthetic dataset"));
    form->addRow(QStringLiteral("Synthetic size"), syntheticTrain_);

    arch_ = makeChoiceCombo<core::Arch>(this);
    form->addRow(QStringLiteral("Model"), arch_);
    width_ = makeSpin(this, 1, 256);
    width_->setToolTip(
        QStringLiteral("Base channels: 64 is the real ResNet-18; 8–16 is "
                       "classroom-fast"));
    form->addRow(QStringLiteral("Width"), width_);
    batchSize_ = makeSpin(this, 1, 4096);
    form->addRow(QStringLiteral("Batch size"), batchSize_);

    auto* optRow = new QHBoxLayout;
    optimizer_ = makeChoiceCombo<core::OptimizerKind>(this);
    optimizer_->setToolTip(QStringLiteral(
        "LAMB: Adam's moments with decoupled weight decay, each parameter tensor's step scaled "
        "by the trust ratio ‖w‖/‖r‖ (You et al. 2019)"));
    lr_ = makeDecimalField(this, {0.0001, 10.0, 4, 0.01, QStringLiteral("lr ")});
    optRow->addWidget(optimizer_);
    optRow->addWidget(lr_, 1);
    form->addRow(QStringLiteral("Optimizer"), optRow);

    epochs_ = makeSpin(this, 1, 10'000);
    form->addRow(QStringLiteral("Epochs"), epochs_);
    maxSteps_ = makeSpin(this, 0, 1'000'000'000, QStringLiteral("whole epochs"));
    maxSteps_->setToolTip(QStringLiteral("At most this many minibatches per epoch (0 = all)"));
    form->addRow(QStringLiteral("Max steps/epoch"), maxSteps_);
    seed_ = makeSpin(this, 0, std::numeric_limits<int>::max());
    form->addRow(QStringLiteral("Seed"), seed_);
    threads_ = makeSpin(this, 0, 256, QStringLiteral("all cores"));
    form->addRow(QStringLiteral("Threads"), threads_);
    recalibrate_ = makeSpin(this, 0, 10'000, QStringLiteral("off"));
    recalibrate_->setSuffix(QStringLiteral(" batches"));
    recalibrate_->setToolTip(
        QStringLiteral("After each epoch, also evaluate with BatchNorm statistics recomputed "
                       "under the current weights over this many training batches "
                       "(eval.recalibrateBatchNorm). A pipelined epoch gathers them under stale "
                       "weights; training and checkpoints are not changed."));
    form->addRow(QStringLiteral("BN recalibration"), recalibrate_);

    connect(openFolder_, &QPushButton::clicked, this, &ExperimentPanel::chooseFolder);
    const auto changedSlot = [this] {
        emitChanged();
    };
    for (QComboBox* combo : {dataset_, arch_, optimizer_}) {
        connect(combo, &QComboBox::currentIndexChanged, this, changedSlot);
    }
    for (QSpinBox* spin :
         {width_, batchSize_, epochs_, seed_, threads_, maxSteps_, syntheticTrain_, recalibrate_}) {
        connect(spin, &QSpinBox::valueChanged, this, changedSlot);
    }
    connect(lr_, &QDoubleSpinBox::valueChanged, this, changedSlot);
    setConfig(core::io::ExperimentConfig{});
}

void ExperimentPanel::setConfig(const core::io::ExperimentConfig& config) {
    loading_ = true;
    base_ = config;
    selectChoice(dataset_, config.data.dataset);
    selectChoice(arch_, config.model.arch);
    selectChoice(optimizer_, config.optimizer.kind);
    width_->setValue(clampInt(config.model.width));
    batchSize_->setValue(clampInt(config.training.batchSize));
    lr_->setValue(config.optimizer.lr);
    epochs_->setValue(clampInt(config.training.epochs));
    seed_->setValue(clampInt(static_cast<std::int64_t>(
        std::min<std::uint64_t>(config.training.seed, std::numeric_limits<int>::max()))));
    threads_->setValue(clampInt(config.training.threads));
    maxSteps_->setValue(clampInt(config.training.maxSteps));
    syntheticTrain_->setValue(clampInt(config.data.syntheticTrain));
    recalibrate_->setValue(clampInt(config.eval.recalibrateBatchNorm));
    loading_ = false;
    updateFolderLabel();
}

core::io::ExperimentConfig ExperimentPanel::config() const {
    core::io::ExperimentConfig c = base_;
    c.data.dataset = choiceOf<DatasetKind>(dataset_);
    c.data.syntheticTrain = syntheticTrain_->value();
    c.model.arch = choiceOf<core::Arch>(arch_);
    c.model.width = width_->value();
    c.training.batchSize = batchSize_->value();
    c.optimizer.kind = choiceOf<core::OptimizerKind>(optimizer_);
    c.optimizer.lr = lr_->value();
    c.training.epochs = epochs_->value();
    // A seed beyond the spin box's range is kept as loaded unless the user changed it.
    if (base_.training.seed <= static_cast<std::uint64_t>(std::numeric_limits<int>::max()) ||
        seed_->value() != std::numeric_limits<int>::max()) {
        c.training.seed = static_cast<std::uint64_t>(seed_->value());
    }
    c.training.threads = threads_->value();
    c.training.maxSteps = maxSteps_->value();
    c.eval.recalibrateBatchNorm = recalibrate_->value();
    return c;
}

void ExperimentPanel::setDataFolder(const QString& folder) {
    base_.data.path = folder.toStdString();
    {
        const QSignalBlocker block(dataset_);
        selectChoice(dataset_, DatasetKind::Auto);
    }
    updateFolderLabel();
    emitChanged();
}

void ExperimentPanel::chooseFolder() {
    const QString dir = QFileDialog::getExistingDirectory(
        this,
        QStringLiteral("Folder with CIFAR-100 (train.bin/test.bin), CIFAR-10 "
                       "(data_batch_*.bin) or MNIST IDX files"));
    if (!dir.isEmpty()) {
        setDataFolder(dir);
    }
}

void ExperimentPanel::updateFolderLabel() {
    const QString path = QString::fromStdString(base_.data.path);
    folder_->setText(path.isEmpty() ? QStringLiteral("default location") : path);
    folder_->setToolTip(path);
    syntheticTrain_->setEnabled(choiceOf<DatasetKind>(dataset_) == DatasetKind::Synthetic);
}

void ExperimentPanel::emitChanged() {
    if (loading_) {
        return;
    }
    updateFolderLabel();
    emit changed();
}

}  // namespace lp::ui
