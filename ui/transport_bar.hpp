// TransportBar: the run controls (play, pause, step tick, step epoch, reset), the speed in ticks
// per second (with a one-click "as fast as possible" and the lessons' teaching speed), the live
// learning-rate scale and the run's status line. Emits requests only; the
// main window routes them to the TrainingBridge. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/session/session.hpp"

#include <QToolBar>

class QAction;
class QLabel;
class QSlider;

namespace lp::ui {

class TransportBar : public QToolBar {
    Q_OBJECT

public:
    explicit TransportBar(QWidget* parent = nullptr);

    QAction* playAction() const { return play_; }

    QAction* stepTickAction() const { return stepTick_; }  // shortcut →

    QAction* stepEpochAction() const { return stepEpoch_; }

    QAction* resetAction() const { return reset_; }  // shortcut R

    // Space: play when paused, pause when running. Not on the bar; add it to the window.
    QAction* playPauseAction() const { return playPause_; }

    QSlider* speedSlider() const { return speed_; }

    // Sets the speed to "as fast as possible" (the slider's right end).
    QAction* fastestAction() const { return fastest_; }

    // Sets the speed a lesson starts at: 5 ticks per second, slow enough to talk over (at the
    // default ~32 ticks/s lessons 1-5 finish in 4-20 s).
    void setTeachingSpeed();

    QSlider* lrSlider() const { return lr_; }

    // Back to 1× (a new lesson or experiment runs at its own learning rate).
    void resetLrScale();

    QLabel* statusLabel() const { return status_; }

    // Ticks per second of slider position pos; 0 (= as fast as possible) at the right end.
    static double ticksPerSecondAt(int pos);
    // LR multiplier of slider position pos: 0.1× .. 10×, 1× in the middle, log scale.
    static float lrScaleAt(int pos);

    double ticksPerSecond() const;
    float lrScale() const;

    // Whether a run is going: Play/Pause enable accordingly and Space pauses instead of playing.
    void setRunning(bool running);

    bool running() const { return running_; }

    // A finished run shown from its folder (File > Open run): every run control is disabled
    // (their keys too) until it is switched off again.
    void setReadOnly(bool on);

    bool readOnly() const { return readOnly_; }

    void setStatusText(const QString& text);
    // "running · epoch 2/3 · tick 37/52 · test top-1 61.2 %", or a hint when there is no run.
    void showStatus(const core::session::SessionStatus& status, bool live);

protected:
    // Where the bar is narrower than it needs with text beside the icons (a 1024-pixel window),
    // the run buttons show icons only (their tooltips keep the words), so the status stays in
    // sight.
    void resizeEvent(QResizeEvent* event) override;

signals:
    void playRequested();
    void pauseRequested();
    void speedChanged(double ticksPerSecond);
    void lrScaleChanged(float scale);

private:
    void updateLabels();

    QAction* play_ = nullptr;
    QAction* pause_ = nullptr;
    QAction* stepTick_ = nullptr;
    QAction* stepEpoch_ = nullptr;
    QAction* reset_ = nullptr;
    QAction* playPause_ = nullptr;
    QSlider* speed_ = nullptr;
    QAction* fastest_ = nullptr;
    QLabel* speedText_ = nullptr;
    QSlider* lr_ = nullptr;
    QLabel* lrText_ = nullptr;
    QLabel* status_ = nullptr;
    bool running_ = false;
    bool readOnly_ = false;
    int fullWidth_ = 0;  // size hint with text beside the icons
};

}  // namespace lp::ui
