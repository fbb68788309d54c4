// Lessons: classroom presets read from <share>/presets/*.json (ui/share_dir.hpp; the files of
// resources/presets, the experiment JSON the CLI reads; "description" is the explanation; an
// optional "studio" object makes a comparison lesson), and the panel that lists them with an
// Explain pane. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"
#include "ui/compare_runner.hpp"

#include <QString>
#include <QWidget>

#include <vector>

class QListWidget;
class QPushButton;
class QTextBrowser;

namespace lp::ui {

struct Lesson {
    QString resource;  // the file it was read from: <share>/presets/01-why-delay.json
    core::io::ExperimentConfig config;
    // A comparison lesson ("studio": {"compare": ["sequential", "stash", ...]} in the preset,
    // variantKey names): running it runs these variants of config in the Compare tab instead
    // of config itself. Empty for a lesson that runs its experiment.
    std::vector<CompareVariant> compare;
};

// Registers the resources embedded in lp_ui (the window icon): a static library's resources must
// be initialised explicitly. Idempotent.
void initResources();

// Every preset in shareDir()/presets, sorted by file name. Throws InputError naming the folder
// when it is missing or has no *.json, or the file when one does not parse.
std::vector<Lesson> loadLessons();

// The same for the presets in `folder`.
std::vector<Lesson> loadLessons(const QString& folder);

// Parses one preset document: its experiment (core::io::parseConfig) and its "studio" object
// (only "compare" is allowed: 1 to CompareRunner::kMaxRuns variant keys). InputError with
// `origin` in the message; resource is left empty.
Lesson parseLesson(const QByteArray& json, const QString& origin);

class LessonsPanel : public QWidget {
    Q_OBJECT

public:
    explicit LessonsPanel(QWidget* parent = nullptr);

    const std::vector<Lesson>& lessons() const { return lessons_; }

    QListWidget* list() const { return list_; }

    // Selects lesson i (shows its explanation) without running it.
    void select(int i);

signals:
    // "Run lesson" or a double click: load and start this lesson.
    void lessonActivated(const lp::core::io::ExperimentConfig& config);
    // The same for a comparison lesson (Lesson::compare): lesson `index` is to be run in the
    // Compare tab.
    void compareLessonActivated(int index);

private:
    void showExplanation(int row);
    void activate(int row);

    std::vector<Lesson> lessons_;
    QListWidget* list_ = nullptr;
    QTextBrowser* explain_ = nullptr;
    QPushButton* run_ = nullptr;
};

}  // namespace lp::ui
