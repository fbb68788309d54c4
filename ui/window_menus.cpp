// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/window_menus.hpp"

#include "core/error.hpp"
#include "core/session/machine.hpp"
#include "ui/chart_export.hpp"
#include "ui/chart_panel.hpp"
#include "ui/main_window.hpp"
#include "ui/presentation.hpp"
#include "ui/shortcuts_dialog.hpp"
#include "ui/studio_settings.hpp"
#include "ui/training_bridge.hpp"

#include <QAction>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

#include <filesystem>

namespace lp::ui {

namespace {

std::filesystem::path toPath(const QString& s) {
    return {s.toStdString()};
}

}  // namespace

WindowMenus::WindowMenus(MainWindow* window) : QObject(window), window_(window) {
    buildFile();
    window_->menuBar()->addMenu(buildExport());
    buildView();
    buildHelp();
}

void WindowMenus::buildFile() {
    QMenu* file = window_->menuBar()->addMenu(QStringLiteral("&File"));
    file->addAction(QStringLiteral("&Open experiment…"),
                    QKeySequence::Open,
                    this,
                    &WindowMenus::openExperiment);
    recent_ = file->addMenu(QStringLiteral("&Recent experiments"));
    connect(recent_, &QMenu::aboutToShow, this, &WindowMenus::refreshRecent);
    refreshRecent();
    file->addAction(QStringLiteral("Open r&un…"), this, [this] {
        openFolder(QStringLiteral("Open run"),
                   [this](const QString& dir) { window_->openRunFolder(dir); });
    });
    file->addAction(QStringLiteral("Open stud&y…"), this, [this] {
        openFolder(QStringLiteral("Open study"),
                   [this](const QString& dir) { window_->openStudyFolder(dir); });
    });
    file->addSeparator();
    file->addAction(QStringLiteral("&Save experiment…"),
                    QKeySequence::Save,
                    this,
                    &WindowMenus::saveExperiment);
    file->addAction(QStringLiteral("Save &checkpoint…"), this, &WindowMenus::saveCheckpoint);
    file->addSeparator();
    file->addAction(QStringLiteral("&Quit"), QKeySequence::Quit, window_, &QWidget::close);
}

void WindowMenus::refreshRecent() {
    recent_->clear();
    const QStringList files = settings::recentFiles();
    for (int i = 0; i < files.size(); ++i) {
        const QString& path = files[i];
        // &1 … &8: a key for each; the folder in the tooltip.
        QAction* a =
            recent_->addAction(QStringLiteral("&%1  %2").arg(i + 1).arg(QFileInfo(path).fileName()),
                               this,
                               [this, path] { openRecent(path); });
        a->setToolTip(path);
        a->setStatusTip(path);
    }
    if (files.isEmpty()) {
        recent_->addAction(QStringLiteral("(none yet)"))->setEnabled(false);
        return;
    }
    recent_->addSeparator();
    // The menu is rebuilt each time it opens (never from inside one of its own actions).
    recent_->addAction(
        QStringLiteral("Clear the list"), this, [] { settings::clearRecentFiles(); });
}

void WindowMenus::openRecent(const QString& path) {
    if (!QFileInfo::exists(path)) {
        settings::removeRecentFile(path);
        window_->showError(QStringLiteral("Open experiment"),
                           QStringLiteral("%1 no longer exists; it was removed from the recent "
                                          "experiments.")
                               .arg(path));
        return;
    }
    window_->runGuarded(QStringLiteral("Open experiment"),
                        [this, path] { window_->openExperimentFile(path); });
}

QMenu* WindowMenus::buildExport() {
    auto* menu = new QMenu(QStringLiteral("E&xport"), window_);
    for (const ChartPanel::Chart& chart : window_->charts()->charts()) {
        QMenu* sub = ui::buildExportMenu(chart.plot, window_);
        sub->setTitle(chart.name);
        menu->addMenu(sub);
    }
    menu->addSeparator();
    TrainingBridge* bridge = window_->bridge();
    addExportAction(
        menu, QStringLiteral("All series to &CSV…"), QString(), [bridge](const QString& dir) {
            bridge->writeCsvs(toPath(dir));
        });
    addExportAction(menu,
                    QStringLiteral("Timeline to Chrome &trace…"),
                    QStringLiteral("trace.json"),
                    [bridge](const QString& file) { bridge->writeChromeTrace(toPath(file)); });
    addExportAction(menu,
                    QStringLiteral("&Run record (JSON)…"),
                    QStringLiteral("run.json"),
                    [bridge](const QString& file) { bridge->writeRunRecord(toPath(file)); });
    menu->addSeparator();
    addExportAction(
        menu, QStringLiteral("Export &report (all of it)…"), QString(), [this](const QString& dir) {
            window_->exportReport(dir);
        });
    return menu;
}

void WindowMenus::addExportAction(QMenu* menu,
                                  const QString& text,
                                  const QString& file,
                                  const std::function<void(const QString&)>& write) {
    // Dialog and error titles without the menu's mnemonic "&".
    const QString title = QString(text).remove(QLatin1Char('&'));
    menu->addAction(text, this, [this, title, file, write] {
        window_->runGuarded(title, [&] {
            // An empty default file name asks for a folder (CSV files, the report).
            const QString path = file.isEmpty()
                                     ? QFileDialog::getExistingDirectory(window_, title)
                                     : QFileDialog::getSaveFileName(
                                           window_, title, file, QStringLiteral("JSON (*.json)"));
            if (!path.isEmpty()) {
                write(path);
                window_->statusBar()->showMessage(QStringLiteral("Written: %1").arg(path), 8000);
            }
        });
    });
}

void WindowMenus::buildView() {
    QMenu* view = window_->menuBar()->addMenu(QStringLiteral("&View"));
    dashboard_ = view->addAction(QStringLiteral("&Dashboard (all charts at once)"),
                                 QKeySequence(Qt::CTRL | Qt::Key_D));
    dashboard_->setCheckable(true);
    connect(dashboard_, &QAction::toggled, window_->charts(), &ChartPanel::setDashboard);
    connect(window_->charts(), &ChartPanel::dashboardChanged, dashboard_, &QAction::setChecked);
    view->addSeparator();
    window_->presentation()->addToMenu(view);
    view->addSeparator();
    for (QDockWidget* dock : window_->findChildren<QDockWidget*>()) {
        view->addAction(dock->toggleViewAction());
    }
}

void WindowMenus::buildHelp() {
    QMenu* help = window_->menuBar()->addMenu(QStringLiteral("&Help"));
    shortcuts_ = help->addAction(QStringLiteral("&Shortcuts"), this, [this] {
        ShortcutsDialog* dialog = shortcutsDialog();
        dialog->show();  // not modal: the keys can be tried with the page open
        dialog->raise();
    });
    shortcuts_->setShortcut(QKeySequence(Qt::Key_F1));
    help->addAction(QStringLiteral("&About"), this, [this] {
        QMessageBox::about(
            window_,
            QStringLiteral("About LayerPipe Studio"),
            QStringLiteral("<b>LayerPipe Studio %1</b><p>Pipelined backpropagation for ResNet-18, "
                           "live.</p><p>Keys: Space play/pause · → one tick · R reset · "
                           "Ctrl+D dashboard · F11 full screen · F1 all shortcuts.</p><p>%2</p>"
                           "<p>GPL-3.0-or-later.</p>")
                .arg(QStringLiteral(LP_VERSION),
                     QString::fromStdString(core::session::machineReport()).toHtmlEscaped()));
    });
}

ShortcutsDialog* WindowMenus::shortcutsDialog() {
    if (shortcutsDialog_ == nullptr) {
        shortcutsDialog_ = new ShortcutsDialog(window_);
    }
    return shortcutsDialog_;
}

void WindowMenus::openExperiment() {
    window_->runGuarded(QStringLiteral("Open experiment"), [this] {
        const QString path = QFileDialog::getOpenFileName(
            window_, QStringLiteral("Open experiment"), QString(), QStringLiteral("JSON (*.json)"));
        if (!path.isEmpty()) {
            window_->openExperimentFile(path);
        }
    });
}

void WindowMenus::openFolder(const QString& title,
                             const std::function<void(const QString&)>& open) {
    window_->runGuarded(title, [this, &title, &open] {
        const QString dir = QFileDialog::getExistingDirectory(window_, title);
        if (!dir.isEmpty()) {
            open(dir);
        }
    });
}

void WindowMenus::saveExperiment() {
    window_->runGuarded(QStringLiteral("Save experiment"), [this] {
        const core::io::ExperimentConfig config = window_->currentExperiment();
        const QString path = QFileDialog::getSaveFileName(
            window_,
            QStringLiteral("Save experiment"),
            QString::fromStdString(config.name) + QStringLiteral(".json"),
            QStringLiteral("JSON (*.json)"));
        if (!path.isEmpty()) {
            core::io::saveConfig(toPath(path), config);
            settings::addRecentFile(path);
        }
    });
}

void WindowMenus::saveCheckpoint() {
    window_->runGuarded(QStringLiteral("Save checkpoint"), [this] {
        if (!window_->bridge()->hasSession()) {
            throw core::InputError("no run to save: start an experiment first");
        }
        const QString path =
            QFileDialog::getSaveFileName(window_,
                                         QStringLiteral("Save checkpoint"),
                                         QStringLiteral("checkpoint.safetensors"),
                                         QStringLiteral("safetensors (*.safetensors)"));
        if (!path.isEmpty()) {
            window_->bridge()->saveCheckpoint(toPath(path));
        }
    });
}

}  // namespace lp::ui
