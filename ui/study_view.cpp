// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/study_view.hpp"

#include "core/error.hpp"
#include "core/io/study_results.hpp"
#include "ui/study_charts.hpp"
#include "ui/study_table.hpp"

#include <QDir>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStyle>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>

namespace lp::ui {

namespace {

QString resultsFile(const QString& dir) {
    return QDir(dir).filePath(QStringLiteral("results.csv"));
}

QString code(const QString& text) {
    return QStringLiteral("<code>%1</code>").arg(text.toHtmlEscaped());
}

}  // namespace

StudyView::StudyView(QWidget* parent)
    : QWidget(parent)
    , model_(new StudyTableModel(this))
    , proxy_(new QSortFilterProxyModel(this))
    , watcher_(new QFileSystemWatcher(this))
    , reloadTimer_(new QTimer(this)) {
    auto* column = new QVBoxLayout(this);
    column->setContentsMargins(4, 4, 4, 0);
    header_ = new QLabel(this);
    header_->setWordWrap(true);
    header_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    column->addWidget(header_);
    message_ = new QLabel(this);
    message_->setWordWrap(true);
    message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    column->addWidget(message_);
    split_ = new QSplitter(Qt::Vertical, this);
    QSplitter* split = split_;
    table_ = new QTableView(split);
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(StudyTableModel::kSortRole);
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // the study's own order until a click
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->setVisible(false);
    table_->setToolTip(QString());
    charts_ = new StudyCharts(split);
    split->addWidget(table_);
    split->addWidget(charts_);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    column->addWidget(split, 1);
    connect(split, &QSplitter::splitterMoved, this, [this] { userSplit_ = true; });

    reloadTimer_->setSingleShot(true);
    reloadTimer_->setInterval(kReloadDelayMs);
    connect(reloadTimer_, &QTimer::timeout, this, &StudyView::reload);
    connect(
        watcher_, &QFileSystemWatcher::directoryChanged, reloadTimer_, qOverload<>(&QTimer::start));
    connect(watcher_, &QFileSystemWatcher::fileChanged, reloadTimer_, qOverload<>(&QTimer::start));
    connect(table_, &QTableView::activated, this, [this](const QModelIndex& index) {
        activateRow(index.row());
    });
    showInstructions();
}

void StudyView::openStudy(const QString& dir) {
    if (!QFileInfo(dir).isDir()) {
        throw core::InputError(dir.toStdString() + " is not a folder");
    }
    // Check the results before anything on screen changes.
    if (QFileInfo::exists(resultsFile(dir))) {
        core::io::readStudyResults(resultsFile(dir).toStdString());
    }
    dir_ = QDir(dir).absolutePath();
    load(true);
    watch();
    emit loaded();
}

void StudyView::reload() {
    if (dir_.isEmpty()) {
        return;
    }
    load(false);
    watch();
    emit loaded();
}

void StudyView::load(bool strict) {
    const QString results = resultsFile(dir_);
    QString header = QStringLiteral("<b>Study</b> %1").arg(dir_.toHtmlEscaped());
    QStringList notes;
    std::size_t planned = 0;
    const QString studyJson = QDir(dir_).filePath(QStringLiteral("study.json"));
    if (QFileInfo::exists(studyJson)) {
        try {
            const core::io::StudyInfo info = core::io::readStudyInfo(studyJson.toStdString());
            planned = info.runIds.size();
            if (!info.preset.empty()) {
                header += QStringLiteral(" · preset %1").arg(QString::fromStdString(info.preset));
            }
            if (!info.command.empty()) {
                header += QStringLiteral("<br>made by %1")
                              .arg(code(QString::fromStdString(info.command)));
            }
        } catch (const std::exception& e) {
            notes << QString::fromUtf8(e.what());
        }
    }
    header_->setText(header);
    if (!QFileInfo::exists(results)) {
        model_->setRows({});
        charts_->clear();
        showInstructions();
        return;
    }
    try {
        std::vector<core::io::StudyRow> rows = core::io::readStudyResults(results.toStdString());
        notes = charts_->show(rows, dir_) + notes;
        model_->setRows(std::move(rows));
    } catch (const std::exception& e) {
        if (strict) {
            throw;
        }
        notes.prepend(QStringLiteral("results.csv could not be read now (%1); the table shows the "
                                     "last version read.")
                          .arg(QString::fromUtf8(e.what())));
    }
    table_->resizeColumnsToContents();
    fitSplit();
    const int n = model_->rowCount();
    QString status = planned > 0 ? QStringLiteral("%1 of %2 runs finished").arg(n).arg(planned)
                                 : QStringLiteral("%1 runs").arg(n);
    status += QStringLiteral(" · double click a row to open that run in the charts");
    for (const QString& note : notes) {
        status += QStringLiteral("<br>⚠ %1").arg(note.toHtmlEscaped());
    }
    message_->setText(status);
}

void StudyView::fitSplit() {
    const int total = split_->height();
    if (userSplit_ || total <= 0) {
        return;
    }
    // The table as tall as its rows (a quick study has five), up to 45 % of the tab: the charts
    // get the rest. Once the user drags the splitter, it stays where they put it.
    const int rows = table_->horizontalHeader()->height() + table_->verticalHeader()->length() +
                     2 * table_->frameWidth() +
                     table_->style()->pixelMetric(QStyle::PM_ScrollBarExtent) + 4;
    const int h = std::clamp(rows, total / 5, total * 45 / 100);
    split_->setSizes({h, total - h});
}

void StudyView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    fitSplit();
}

void StudyView::watch() {
    const QStringList watched = watcher_->files() + watcher_->directories();
    if (!watched.isEmpty()) {
        watcher_->removePaths(watched);
    }
    watcher_->addPath(dir_);
    // A study replaces results.csv by a rename: the file's watch ends with it, the folder's
    // event brings us back here to watch the new file.
    if (QFileInfo::exists(resultsFile(dir_))) {
        watcher_->addPath(resultsFile(dir_));
    }
}

void StudyView::showInstructions() {
    const QString make = code(QStringLiteral("layerpipe study --preset quick --out DIR"));
    if (dir_.isEmpty()) {
        header_->setText(QStringLiteral("<b>No study open.</b>"));
        message_->setText(
            QStringLiteral("A study runs a grid of experiments that differ only in the pipeline "
                           "(same model, seed and data order): make one with %1, then open it "
                           "with File &gt; Open study… or %2.")
                .arg(make, code(QStringLiteral("layerpipe-studio --study DIR"))));
        return;
    }
    message_->setText(QStringLiteral("No results.csv in this folder yet: a study writes one row "
                                     "per finished run. Make one with %1; this tab updates "
                                     "itself as its runs finish.")
                          .arg(make));
}

QString StudyView::runFolder(int row) const {
    if (row < 0 || row >= proxy_->rowCount()) {
        return {};
    }
    const QModelIndex source = proxy_->mapToSource(proxy_->index(row, 0));
    const core::io::StudyRow& r = model_->rows()[static_cast<std::size_t>(source.row())];
    return QDir(dir_).absoluteFilePath(QString::fromStdString(r.at("folder").text));
}

bool StudyView::activateRow(int row) {
    const QString folder = runFolder(row);
    if (folder.isEmpty()) {
        return false;
    }
    emit runActivated(folder);
    return true;
}

}  // namespace lp::ui
