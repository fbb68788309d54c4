// Closing the studio with a run whose results were not exported since its last step (issue 12,
// "never lose a run"): the run is paused (it stops after the current step), then the user
// chooses to export the report and quit, quit without it, or cancel (the run resumes if it was
// playing). GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <cstddef>
#include <functional>

namespace lp::ui {

class MainWindow;

enum class CloseChoice { ExportAndQuit, Quit, Cancel };

struct CloseQuestions {
    // Empty: a message box with the three choices, and a folder dialog (an empty folder cancels).
    std::function<CloseChoice(const QString& text)> ask;
    std::function<QString()> folder;
};

// Whether the window may close. exportedSamples: training samples already exported; nothing to
// lose below it.
bool mayClose(MainWindow& window, const CloseQuestions& questions, std::size_t exportedSamples);

}  // namespace lp::ui
