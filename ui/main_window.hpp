// The studio's main window: lessons, experiment and pipeline docks on the left, the five live
// charts and the Compare tab in the centre, the transport bar on top; wires them to one
// TrainingBridge (the Compare tab runs its own sessions). Menus: ui/window_menus.hpp;
// presentation mode (full screen, enlarged chart, zoom, themes): ui/presentation.hpp.
// Finished runs and studies opened from disk (issue 14): ui/main_window_runs.cpp.
// Issue 13's rules live here: the window opens at a size that fits the screen and remembers its
// layout (ui/studio_settings.hpp); switching lesson or experiment resets every view, the LR
// scale and the status; the title and the status always name what is running.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/session.hpp"
#include "ui/close_question.hpp"
#include "ui/report_index.hpp"

#include <QMainWindow>
#include <QString>

#include <cstddef>
#include <functional>

class QCloseEvent;
class QLabel;

namespace lp::ui {

class ChartPanel;
class ExperimentPanel;
class LessonsPanel;
class PipelineEditor;
class Presentation;
class TrainingBridge;
class TransportBar;
class WindowMenus;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);

    // Shows config in the experiment panel and the pipeline editor (nothing runs). Without a run,
    // the charts start afresh with config's layout (its stages, delays, forecasts); the LR scale
    // goes back to 1×.
    void loadExperiment(const core::io::ExperimentConfig& config);
    // The experiment as edited in the panels.
    core::io::ExperimentConfig currentExperiment() const;

    // Resets any run and shows the experiment in file (core::io::loadConfig; InputError); adds it
    // to File > Recent experiments.
    void openExperimentFile(const QString& path);
    // Shows the finished run in folder dir (what `layerpipe run --out` writes, or a study's
    // runs/<id>: core/telemetry/run_reader.hpp) in the live charts, read-only: the run controls
    // are disabled and the title says so until a lesson or an experiment is picked again. Its
    // experiment is shown in the (disabled) panels. Throws InputError, having changed nothing,
    // for a folder that is not a run folder.
    void openRunFolder(const QString& dir);

    // The folder of the finished run on show (openRunFolder), or empty.
    QString openedRun() const { return openedRun_; }

    // Opens the study in folder dir in the Study tab and brings that tab to the front
    // (StudyView::openStudy; InputError).
    void openStudyFolder(const QString& dir);
    // Resets any run, loads lesson `index` (0-based) and plays it (a comparison lesson: runs
    // its variants in the Compare tab instead); false if there is none.
    bool runLesson(int index);
    // Resets any run and loads lesson `index` into the panels (and a comparison lesson's
    // variants into the Compare tab) without running it. Selecting a lesson in the list does the
    // same while no run is in progress.
    bool showLesson(int index);
    // Brings chart tab `file` ("timeline", ..., "compare"; ChartPanel::Chart::file; or "study")
    // to the front, leaving the dashboard; false if there is no such chart.
    bool showChart(const QString& file);
    // All five live charts at once (View > Dashboard, Ctrl+D), or the tabs; keeps the menu's
    // check mark in step.
    void setDashboard(bool on);

    // Builds a session from the panels (if none) and plays / steps it. On a bad config these
    // show an error dialog and return false; they never throw.
    bool play();
    bool stepTick();
    bool stepEpoch();
    void pause();
    void reset();
    // Pauses the main run and starts the Compare tab's variants of the current experiment; on a
    // bad config shows an error dialog and returns false. Never throws.
    bool startCompare();

    // Writes every chart (PNG, PDF, SVG), every series (csv/), the Chrome trace, the run record
    // and the experiment into dir, and compare.csv after a comparison (with no main run: the
    // charts, compare.csv and the experiment as edited), and index.html showing all of it
    // (ui/report_index.hpp). Throws InputError naming what failed.
    void exportReport(const QString& dir);

    // Closing the window with a run whose results were not exported since its last step
    // (issue 12, "never lose a run"; ui/close_question.hpp): the run is paused, then the user
    // chooses to export the report and quit, quit without it, or cancel. Tests replace the two
    // questions; by default they are a message box and a folder dialog.
    using CloseChoice = ui::CloseChoice;
    void setCloseQuestions(std::function<CloseChoice(const QString& text)> ask,
                           std::function<QString()> folder);

    // Errors go to a window-modal message box that does not block the caller (open(), not
    // exec(): also safe under --screenshot and in tests); the last text shown is kept for tests.
    void showError(const QString& title, const QString& text);
    // A problem with what the command line asked for (a bad experiment file, no such lesson):
    // the same dialog, and the status bar says it too.
    void showStartupError(const QString& text);
    // Runs action (a menu command); shows any exception in an error dialog. Never throws.
    void runGuarded(const QString& what, const std::function<void()>& action);

    QString lastError() const { return lastError_; }

    // Window geometry, docks, dashboard, theme, zoom and legends from / to the studio settings
    // (nothing when they are disabled). The constructor restores; closing saves.
    void restoreSettings();
    void saveSettings() const;

    TrainingBridge* bridge() const { return bridge_; }

    ExperimentPanel* experimentPanel() const { return experiment_; }

    LessonsPanel* lessons() const { return lessons_; }

    TransportBar* transport() const { return transport_; }

    ChartPanel* charts() const { return charts_; }

    Presentation* presentation() const { return presentation_; }

    WindowMenus* menus() const { return menus_; }

    QLabel* nonFiniteBanner() const { return banner_; }

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildCentre();
    void buildDocks();
    void connectSignals();
    bool ensureSession();
    void runExperiment(const core::io::ExperimentConfig& config);
    // The charts of no run: empty, with the layout config will have.
    void previewCharts(const core::io::ExperimentConfig& config);
    void onLessonSelected(int row);
    // Back from a finished run on show to the studio's own runs (ui/main_window_runs.cpp).
    void leaveOpenedRun();
    void onStatus(const core::session::SessionStatus& status);
    void onState(core::session::RunState state, const QString& message);
    // Window title and transport status from the main run and the comparison.
    void refreshTitle();
    void refreshStatus();
    // Whether a main run is in progress (started and not over): switching lessons leaves it be.
    bool runInProgress() const;
    // The report folder's index page: the charts with their captions, the data files in dir.
    ReportPage reportPage(const QString& dir, const core::io::ExperimentConfig& config);

    TrainingBridge* bridge_ = nullptr;
    ExperimentPanel* experiment_ = nullptr;
    PipelineEditor* editor_ = nullptr;
    LessonsPanel* lessons_ = nullptr;
    TransportBar* transport_ = nullptr;
    ChartPanel* charts_ = nullptr;
    Presentation* presentation_ = nullptr;
    WindowMenus* menus_ = nullptr;
    QLabel* banner_ = nullptr;
    QLabel* source_ = nullptr;
    QString lastError_;
    QString openedRun_;
    CloseQuestions closeQuestions_;
    // Training samples drained when the report was last exported (nothing to lose below it).
    std::size_t exportedSamples_ = 0;
    bool switchingLesson_ = false;
};

}  // namespace lp::ui
