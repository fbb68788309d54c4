// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/lessons.hpp"

#include "core/error.hpp"
#include "ui/share_dir.hpp"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QListWidget>
#include <QPushButton>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

// Q_INIT_RESOURCE must be used outside any namespace.
static void initLayerPipeResources() {
    Q_INIT_RESOURCE(layerpipe);
}

namespace lp::ui {

void initResources() {
    static const bool done = [] {
        initLayerPipeResources();
        return true;
    }();
    static_cast<void>(done);
}

namespace {

// The preset's "studio" object: {"compare": [variant keys]}; nothing else.
std::vector<CompareVariant> lessonCompare(const nlohmann::json& doc, const std::string& origin) {
    const auto studio = doc.find(core::io::kStudioKey);
    if (studio == doc.end()) {
        return {};
    }
    std::vector<CompareVariant> out;
    for (const auto& [key, value] : studio->items()) {
        if (key != "compare") {
            throw core::InputError(origin + ": unknown key 'studio." + key +
                                   "' (allowed: compare)");
        }
        if (!value.is_array() || value.empty() ||
            value.size() > static_cast<std::size_t>(CompareRunner::kMaxRuns)) {
            throw core::InputError(origin + ": 'studio.compare' must be a list of 1 to " +
                                   std::to_string(CompareRunner::kMaxRuns) + " variants");
        }
        for (const nlohmann::json& name : value) {
            const auto v = name.is_string()
                               ? variantFromKey(QString::fromStdString(name.get<std::string>()))
                               : std::nullopt;
            if (!v) {
                throw core::InputError(origin + ": 'studio.compare' has " + name.dump() +
                                       "; allowed: sequential, latest, stash, ema, momentum, "
                                       "gpipe, as-edited");
            }
            out.push_back(*v);
        }
    }
    return out;
}

}  // namespace

Lesson parseLesson(const QByteArray& json, const QString& origin) {
    const auto* begin = reinterpret_cast<const std::uint8_t*>(json.constData());
    const nlohmann::json doc =
        nlohmann::json::parse(begin, begin + json.size(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        throw core::InputError(origin.toStdString() + ": not valid JSON");
    }
    Lesson lesson;
    try {
        lesson.config = core::io::parseConfig(doc);
    } catch (const core::InputError& e) {
        throw core::InputError(origin.toStdString() + ": " + e.what());
    }
    lesson.compare = lessonCompare(doc, origin.toStdString());
    return lesson;
}

std::vector<Lesson> loadLessons() {
    return loadLessons(
        requireShareSubdir(QStringLiteral("presets"), QStringLiteral("the lesson presets")));
}

std::vector<Lesson> loadLessons(const QString& folder) {
    const QDir dir(folder);
    const QStringList files = dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name);
    if (files.isEmpty()) {
        throw core::InputError("no lesson presets (*.json) in " + folder.toStdString());
    }
    std::vector<Lesson> lessons;
    for (const QString& name : files) {
        const QString path = dir.filePath(name);
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly)) {
            throw core::InputError(path.toStdString() + ": cannot be read");
        }
        Lesson lesson = parseLesson(file.readAll(), path);
        lesson.resource = path;
        lessons.push_back(std::move(lesson));
    }
    return lessons;
}

LessonsPanel::LessonsPanel(QWidget* parent) : QWidget(parent) {
    auto* column = new QVBoxLayout(this);
    column->setContentsMargins(0, 0, 0, 0);
    list_ = new QListWidget(this);
    column->addWidget(list_);
    run_ = new QPushButton(QStringLiteral("▶ Run lesson"), this);
    run_->setToolTip(
        QStringLiteral("Load the lesson's experiment and start it (double click "
                       "does the same)"));
    column->addWidget(run_);
    explain_ = new QTextBrowser(this);
    explain_->setOpenExternalLinks(true);
    explain_->setPlaceholderText(QStringLiteral("Select a lesson to read what it shows."));
    column->addWidget(explain_, 1);

    try {
        lessons_ = loadLessons();
    } catch (const std::exception& e) {
        // A broken install or build tree: keep the window usable (File > Open still works) and
        // say what is missing where, here and on the terminal.
        const QString message = QStringLiteral("The lesson presets could not be loaded: %1")
                                    .arg(QString::fromUtf8(e.what()));
        explain_->setPlainText(message);
        qWarning("layerpipe-studio: %s", qUtf8Printable(message));
    }
    for (const Lesson& l : lessons_) {
        list_->addItem(QString::fromStdString(l.config.name));
    }
    // As tall as the lessons, so the Explain pane gets the rest.
    const int rows = std::max(list_->count(), 3);
    list_->setFixedHeight(rows * std::max(list_->sizeHintForRow(0), 16) + 2 * list_->frameWidth() +
                          4);
    connect(list_, &QListWidget::currentRowChanged, this, &LessonsPanel::showExplanation);
    connect(list_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        activate(list_->row(item));
    });
    connect(run_, &QPushButton::clicked, this, [this] { activate(list_->currentRow()); });
    run_->setEnabled(false);
}

void LessonsPanel::select(int i) {
    list_->setCurrentRow(i);
}

void LessonsPanel::showExplanation(int row) {
    run_->setEnabled(row >= 0 && row < static_cast<int>(lessons_.size()));
    if (!run_->isEnabled()) {
        explain_->clear();
        return;
    }
    const core::io::ExperimentConfig& c = lessons_[static_cast<std::size_t>(row)].config;
    explain_->setMarkdown(
        QStringLiteral("### %1\n\n%2")
            .arg(QString::fromStdString(c.name), QString::fromStdString(c.description)));
}

void LessonsPanel::activate(int row) {
    if (row < 0 || row >= static_cast<int>(lessons_.size())) {
        return;
    }
    const Lesson& lesson = lessons_[static_cast<std::size_t>(row)];
    if (!lesson.compare.empty()) {
        emit compareLessonActivated(row);
        return;
    }
    emit lessonActivated(lesson.config);
}

}  // namespace lp::ui
