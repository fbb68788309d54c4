// Lessons: classroom presets embedded from resources/presets/*.json (the experiment JSON the CLI
// reads; "description" is the explanation), and the panel that lists them with an Explain pane.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <QString>
#include <QWidget>

#include <vector>

class QListWidget;
class QPushButton;
class QTextBrowser;

namespace lp::ui {

struct Lesson {
    QString resource;  // ":/presets/01-why-delay.json"
    core::io::ExperimentConfig config;
};

// Registers the resources embedded in lp_ui (presets, icon): a static library's resources must
// be initialised explicitly. Idempotent.
void initResources();

// Every preset under :/presets, sorted by file name. Throws InputError naming the resource when
// one does not parse (a build defect: the tests parse every preset).
std::vector<Lesson> loadLessons();

// Parses one preset document (core::io::parseConfig); InputError with `origin` in the message.
core::io::ExperimentConfig parseLesson(const QByteArray& json, const QString& origin);

class LessonsPanel : public QWidget {
    Q_OBJECT

public:
    explicit LessonsPanel(QWidget* parent = nullptr);

    const std::vector<Lesson>& lessons() const { return lessons_; }

    QListWidget* list() const { return list_; }

    QTextBrowser* explainPane() const { return explain_; }

    // Selects lesson i (shows its explanation) without running it.
    void select(int i);

signals:
    // "Run lesson" or a double click: load and start this lesson.
    void lessonActivated(const lp::core::io::ExperimentConfig& config);

private:
    void showExplanation(int row);
    void activate(int row);

    std::vector<Lesson> lessons_;
    QListWidget* list_ = nullptr;
    QTextBrowser* explain_ = nullptr;
    QPushButton* run_ = nullptr;
};

}  // namespace lp::ui
