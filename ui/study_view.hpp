// StudyView: the studio's Study tab (issue 14, point 4). Opens a study folder (`layerpipe study
// --out DIR`): results.csv as a sortable table (ui/study_table.hpp) above the study's three charts
// (ui/study_charts.hpp), the study's preset and command line on top. Activating a row (double
// click, Enter) asks for that run to be opened in the live charts (runActivated). Until the
// folder has a results.csv the tab says how to make one; while a study runs, the tab reloads
// whenever results.csv changes (a QFileSystemWatcher on the folder and the file, debounced).
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QWidget>

class QFileSystemWatcher;
class QLabel;
class QResizeEvent;
class QSortFilterProxyModel;
class QSplitter;
class QTableView;
class QTimer;

namespace lp::ui {

class StudyCharts;
class StudyTableModel;

class StudyView : public QWidget {
    Q_OBJECT

public:
    explicit StudyView(QWidget* parent = nullptr);

    // Shows the study in folder dir and watches it. Throws InputError (changing nothing) when dir
    // is not a folder or its results.csv cannot be read; a folder without results.csv yet is
    // shown with the instructions and watched until one appears.
    void openStudy(const QString& dir);
    // Reads the open study's files again (what the watcher does). Never throws: a results.csv
    // that cannot be read (caught half-written, say) leaves the table as it was and says why.
    void reload();

    QString studyDir() const { return dir_; }

    // The folder of the run in (table) row `row`, as the view sorts it; empty if none.
    QString runFolder(int row) const;
    // Emits runActivated for the run in (table) row `row`; false if there is none.
    bool activateRow(int row);

    QTableView* table() const { return table_; }

    QSortFilterProxyModel* proxy() const { return proxy_; }

    StudyTableModel* model() const { return model_; }

    StudyCharts* charts() const { return charts_; }

    // The line above the table: what is open, or how to make a study; and what could not be
    // shown (a run without train.csv).
    QLabel* message() const { return message_; }

    // Milliseconds between a change on disk and the reload (a study writes results.csv
    // atomically, but a folder event can come before the rename).
    static constexpr int kReloadDelayMs = 300;

signals:
    // The absolute folder of the run the user activated (DIR/runs/<run_id>).
    void runActivated(const QString& folder);
    // The study's files were read (again): after openStudy and every reload.
    void loaded();

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void load(bool strict);
    // Table as tall as its rows (up to 45 %), the charts below the rest, until the user drags.
    void fitSplit();
    void watch();
    void showInstructions();

    QString dir_;
    QLabel* header_ = nullptr;
    QLabel* message_ = nullptr;
    QSplitter* split_ = nullptr;
    QTableView* table_ = nullptr;
    StudyTableModel* model_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    StudyCharts* charts_ = nullptr;
    QFileSystemWatcher* watcher_ = nullptr;
    QTimer* reloadTimer_ = nullptr;
    bool userSplit_ = false;
};

}  // namespace lp::ui
