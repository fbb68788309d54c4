// The studio's main window: lessons, experiment and pipeline docks on the left, the five live
// charts and the Compare tab in the centre, the transport bar on top; wires them to one
// TrainingBridge (the Compare tab runs its own sessions).
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "core/session/session.hpp"

#include <QMainWindow>
#include <QString>

#include <cstddef>
#include <functional>

class QCloseEvent;
class QLabel;
class QMenu;

namespace lp::ui {

class ChartPanel;
class ExperimentPanel;
class LessonsPanel;
class PipelineEditor;
class TrainingBridge;
class TransportBar;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);

    // Shows config in the experiment panel and the pipeline editor (nothing runs).
    void loadExperiment(const core::io::ExperimentConfig& config);
    // The experiment as edited in the panels.
    core::io::ExperimentConfig currentExperiment() const;

    // Resets any run and shows the experiment in file (core::io::loadConfig; InputError).
    void openExperimentFile(const QString& path);
    // Resets any run, loads lesson `index` (0-based) and plays it; false if there is none.
    bool runLesson(int index);
    // Resets any run and loads lesson `index` into the panels without running it.
    bool showLesson(int index);
    // Brings chart tab `file` ("timeline", ..., "compare"; ChartPanel::Chart::file) to the
    // front, leaving the dashboard; false if there is no such chart.
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
    // charts, compare.csv and the experiment as edited). Throws InputError naming what failed.
    void exportReport(const QString& dir);

    // Closing the window with a run whose results were not exported since its last step
    // (issue 12, "never lose a run"): the run is paused (it stops after the current step), then
    // the user chooses to export the report and quit, quit without it, or cancel (the run
    // resumes if it was playing). Tests replace the two questions; by default they are a
    // message box and a folder dialog (an empty folder cancels the close).
    enum class CloseChoice { ExportAndQuit, Quit, Cancel };
    void setCloseQuestions(std::function<CloseChoice(const QString& text)> ask,
                           std::function<QString()> folder);

    TrainingBridge* bridge() const { return bridge_; }

    ExperimentPanel* experimentPanel() const { return experiment_; }

    PipelineEditor* pipelineEditor() const { return editor_; }

    LessonsPanel* lessons() const { return lessons_; }

    TransportBar* transport() const { return transport_; }

    ChartPanel* charts() const { return charts_; }

    QLabel* nonFiniteBanner() const { return banner_; }

    // Errors go to a window-modal message box that does not block the caller (open(), not
    // exec()); the last text shown is kept for tests.
    QString lastError() const { return lastError_; }

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildDocks();
    void buildMenus();
    QMenu* buildExportMenu();
    // An Export menu action asking for a file name (file: the default) or, with an empty file,
    // a folder, then running write(path).
    void addExportAction(QMenu* menu,
                         const QString& text,
                         const QString& file,
                         const std::function<void(const QString&)>& write);
    bool ensureSession();
    void runExperiment(const core::io::ExperimentConfig& config);
    void onStatus(const core::session::SessionStatus& status);
    void onState(core::session::RunState state, const QString& message);
    void showError(const QString& title, const QString& text);
    void openExperiment();
    void saveExperiment();
    void saveCheckpoint();
    // Runs action (a file export); shows any exception in an error dialog.
    template <typename F>
    void guarded(const QString& what, F&& action);

    TrainingBridge* bridge_ = nullptr;
    ExperimentPanel* experiment_ = nullptr;
    PipelineEditor* editor_ = nullptr;
    LessonsPanel* lessons_ = nullptr;
    TransportBar* transport_ = nullptr;
    ChartPanel* charts_ = nullptr;
    QLabel* banner_ = nullptr;
    QAction* dashboardAction_ = nullptr;
    QLabel* source_ = nullptr;
    QString lastError_;
    std::function<CloseChoice(const QString&)> askOnClose_;
    std::function<QString()> folderOnClose_;
    // Training samples drained when the report was last exported (nothing to lose below it).
    std::size_t exportedSamples_ = 0;
};

}  // namespace lp::ui
