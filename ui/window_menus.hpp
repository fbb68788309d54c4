// The main window's menu bar: File (open an experiment, a finished run or a study, save, recent
// experiments, checkpoint, quit), Export (each chart, CSV, trace, run record, report), View
// (dashboard, presentation mode, docks) and Help (shortcuts, about). The actions call MainWindow's
// public API; the file dialogs live here. GUI thread only. SPDX-License-Identifier:
// GPL-3.0-or-later
#pragma once

#include <QObject>
#include <QString>

#include <functional>

class QAction;
class QMenu;

namespace lp::ui {

class MainWindow;
class ShortcutsDialog;

class WindowMenus : public QObject {
    Q_OBJECT

public:
    // Builds the menus into window's menu bar (the window's panels and charts must exist).
    explicit WindowMenus(MainWindow* window);

    QMenu* recentMenu() const { return recent_; }

    QAction* shortcutsAction() const { return shortcuts_; }

    ShortcutsDialog* shortcutsDialog();

    // Rebuilds File > Recent experiments from the settings (also done each time it opens).
    void refreshRecent();

private:
    void buildFile();
    QMenu* buildExport();
    void buildView();
    void buildHelp();
    // An Export menu action asking for a file name (file: the default) or, with an empty file,
    // a folder, then running write(path).
    void addExportAction(QMenu* menu,
                         const QString& text,
                         const QString& file,
                         const std::function<void(const QString&)>& write);
    void openExperiment();
    void openRecent(const QString& path);
    // Asks for a folder (File > Open run…, Open study…) and opens it; errors in a dialog.
    void openFolder(const QString& title, const std::function<void(const QString&)>& open);
    void saveExperiment();
    void saveCheckpoint();

    MainWindow* window_ = nullptr;
    QAction* dashboard_ = nullptr;
    QAction* shortcuts_ = nullptr;
    QMenu* recent_ = nullptr;
    ShortcutsDialog* shortcutsDialog_ = nullptr;
};

}  // namespace lp::ui
