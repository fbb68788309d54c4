// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/transport_bar.hpp"

#include <QAction>
#include <QHBoxLayout>
#include <QLabel>
#include <QResizeEvent>
#include <QSlider>
#include <QStyle>
#include <QToolButton>

#include <algorithm>
#include <cmath>

namespace lp::ui {

namespace {

// Speed slider: positions 0..kSpeedMax−1 are 10^(pos/10) ticks/s (1 .. ~800), kSpeedMax is "max".
constexpr int kSpeedMax = 30;
constexpr int kSpeedDefault = 15;  // ~32 ticks/s: fast, yet the timeline can be followed
constexpr int kSpeedTeaching = 7;  // 10^0.7 = 5.0 ticks/s: lessons start here
// LR slider: 0..40, scale 10^((pos − 20)/20).
constexpr int kLrSteps = 40;
constexpr int kLrMiddle = 20;

// A slider over 0..max at value, width px wide, with a label after it (at least textWidth px)
// that shows its value.
struct SliderSpec {
    int max = 0;
    int value = 0;
    int width = 0;
    int textWidth = 0;
};

struct Slider {
    QSlider* slider = nullptr;
    QLabel* text = nullptr;  // shows the value; empty until set
};

// Adds caption, the slider and its value label to row, as children of box.
Slider addSlider(QWidget* box, QHBoxLayout* row, const QString& caption, const SliderSpec& spec) {
    row->addWidget(new QLabel(caption, box));
    auto* slider = new QSlider(Qt::Horizontal, box);
    slider->setRange(0, spec.max);
    slider->setValue(spec.value);
    slider->setFixedWidth(spec.width);
    row->addWidget(slider);
    auto* text = new QLabel(box);
    text->setMinimumWidth(spec.textWidth);
    row->addWidget(text);
    return {slider, text};
}

}  // namespace

TransportBar::TransportBar(QWidget* parent) : QToolBar(QStringLiteral("Transport"), parent) {
    setObjectName(QStringLiteral("transport"));
    setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    const QStyle* s = style();
    play_ = addAction(s->standardIcon(QStyle::SP_MediaPlay), QStringLiteral("Play"));
    pause_ = addAction(s->standardIcon(QStyle::SP_MediaPause), QStringLiteral("Pause"));
    stepTick_ = addAction(s->standardIcon(QStyle::SP_MediaSeekForward), QStringLiteral("Tick"));
    stepTick_->setShortcut(QKeySequence(Qt::Key_Right));
    stepTick_->setToolTip(QStringLiteral("Run one more tick, then pause (→)"));
    stepEpoch_ = addAction(s->standardIcon(QStyle::SP_MediaSkipForward), QStringLiteral("Epoch"));
    stepEpoch_->setToolTip(QStringLiteral("Run to the end of the epoch, then pause"));
    reset_ = addAction(s->standardIcon(QStyle::SP_BrowserReload), QStringLiteral("Reset"));
    reset_->setShortcut(QKeySequence(Qt::Key_R));
    reset_->setToolTip(QStringLiteral("Stop the run and clear the charts (R)"));
    play_->setToolTip(QStringLiteral("Run continuously (Space)"));
    pause_->setToolTip(QStringLiteral("Pause at the next tick (Space)"));
    playPause_ = new QAction(QStringLiteral("Play/Pause"), this);
    playPause_->setShortcut(QKeySequence(Qt::Key_Space));

    addSeparator();
    auto* speedBox = new QWidget(this);
    auto* speedRow = new QHBoxLayout(speedBox);
    speedRow->setContentsMargins(6, 0, 6, 0);
    const Slider speed =
        addSlider(speedBox, speedRow, QStringLiteral("Speed"), {kSpeedMax, kSpeedDefault, 110, 70});
    speed_ = speed.slider;
    speed_->setToolTip(QStringLiteral("Ticks per second; right end = as fast as possible"));
    speedText_ = speed.text;
    // One click to the right end (the lessons start slow, at a teaching speed).
    fastest_ = new QAction(QStringLiteral("Max"), this);
    fastest_->setToolTip(QStringLiteral("Run as fast as possible (the Speed slider's right end)"));
    auto* fastestButton = new QToolButton(speedBox);
    fastestButton->setDefaultAction(fastest_);
    fastestButton->setAutoRaise(true);
    speedRow->addWidget(fastestButton);
    const Slider lr =
        addSlider(speedBox, speedRow, QStringLiteral("  LR"), {kLrSteps, kLrMiddle, 90, 48});
    lr_ = lr.slider;
    lr_->setToolTip(QStringLiteral("Live learning-rate multiplier (0.1× to 10×)"));
    lrText_ = lr.text;
    speedBox->setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Preferred);
    addWidget(speedBox);
    addSeparator();
    status_ = new QLabel(this);
    status_->setTextFormat(Qt::RichText);
    status_->setContentsMargins(6, 0, 6, 0);
    addWidget(status_);

    connect(play_, &QAction::triggered, this, &TransportBar::playRequested);
    connect(pause_, &QAction::triggered, this, &TransportBar::pauseRequested);
    connect(playPause_, &QAction::triggered, this, [this] {
        if (running_) {
            emit pauseRequested();
        } else {
            emit playRequested();
        }
    });
    connect(fastest_, &QAction::triggered, this, [this] { speed_->setValue(kSpeedMax); });
    connect(speed_, &QSlider::valueChanged, this, [this](int pos) {
        updateLabels();
        emit speedChanged(ticksPerSecondAt(pos));
    });
    connect(lr_, &QSlider::valueChanged, this, [this](int pos) {
        updateLabels();
        emit lrScaleChanged(lrScaleAt(pos));
    });
    setRunning(false);
    updateLabels();
}

double TransportBar::ticksPerSecondAt(int pos) {
    if (pos >= kSpeedMax) {
        return 0.0;
    }
    return std::pow(10.0, pos / 10.0);
}

void TransportBar::setTeachingSpeed() {
    speed_->setValue(kSpeedTeaching);
}

void TransportBar::resetLrScale() {
    lr_->setValue(kLrMiddle);
}

float TransportBar::lrScaleAt(int pos) {
    return static_cast<float>(std::pow(10.0, static_cast<double>(pos - kLrMiddle) / 20.0));
}

double TransportBar::ticksPerSecond() const {
    return ticksPerSecondAt(speed_->value());
}

float TransportBar::lrScale() const {
    return lrScaleAt(lr_->value());
}

void TransportBar::setRunning(bool running) {
    running_ = running;
    play_->setEnabled(!running && !readOnly_);
    pause_->setEnabled(running && !readOnly_);
}

void TransportBar::setReadOnly(bool on) {
    readOnly_ = on;
    for (QAction* a : {stepTick_, stepEpoch_, reset_, playPause_}) {
        a->setEnabled(!on);
    }
    setRunning(running_ && !on);
}

void TransportBar::setStatusText(const QString& text) {
    status_->setText(text);
}

void TransportBar::showStatus(const core::session::SessionStatus& status, bool live) {
    if (!live) {
        setStatusText(QStringLiteral("<b>no run</b> · press Play (Space) or pick a lesson"));
        return;
    }
    using core::session::RunState;
    const std::int64_t shownEpoch =
        std::min(status.epoch + (status.state == RunState::Finished ? 0 : 1), status.epochs);
    QString text = QStringLiteral("<b>%1</b> · epoch %2/%3")
                       .arg(QString::fromUtf8(core::session::toString(status.state)))
                       .arg(shownEpoch)
                       .arg(status.epochs);
    if (status.tick >= 0) {
        text += QStringLiteral(" · tick %1/%2").arg(status.tick).arg(status.lastTick);
    }
    if (!status.history.empty()) {
        text += QStringLiteral(" · test top-1 %1 %")
                    .arg(100.0 * status.history.back().testTop1, 0, 'f', 1);
    }
    setStatusText(text);
}

void TransportBar::resizeEvent(QResizeEvent* event) {
    if (toolButtonStyle() == Qt::ToolButtonTextBesideIcon) {
        fullWidth_ = sizeHint().width();
    }
    const bool compact = width() < fullWidth_;
    setToolButtonStyle(compact ? Qt::ToolButtonIconOnly : Qt::ToolButtonTextBesideIcon);
    QToolBar::resizeEvent(event);
}

void TransportBar::updateLabels() {
    const double tps = ticksPerSecond();
    speedText_->setText(tps <= 0.0
                            ? QStringLiteral("max")
                            : QStringLiteral("%1 ticks/s").arg(tps, 0, 'f', tps < 10 ? 1 : 0));
    lrText_->setText(QStringLiteral("×%1").arg(static_cast<double>(lrScale()), 0, 'f', 2));
}

}  // namespace lp::ui
