// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/close_question.hpp"

#include "ui/main_window.hpp"
#include "ui/training_bridge.hpp"

#include <QFileDialog>
#include <QMessageBox>
#include <QPushButton>

#include <algorithm>

namespace lp::ui {

namespace {

using core::session::RunState;

CloseChoice ask(MainWindow& window, const CloseQuestions& questions, const QString& text) {
    if (questions.ask) {
        return questions.ask(text);
    }
    QMessageBox box(QMessageBox::Question,
                    QStringLiteral("Quit LayerPipe Studio"),
                    text,
                    QMessageBox::NoButton,
                    &window);
    QPushButton* save = box.addButton(QStringLiteral("Export and quit"), QMessageBox::AcceptRole);
    QPushButton* quit =
        box.addButton(QStringLiteral("Quit without exporting"), QMessageBox::DestructiveRole);
    box.addButton(QMessageBox::Cancel);
    box.setDefaultButton(save);
    box.exec();
    return box.clickedButton() == save   ? CloseChoice::ExportAndQuit
           : box.clickedButton() == quit ? CloseChoice::Quit
                                         : CloseChoice::Cancel;
}

// Exports the report into the folder the user picks; false if none was picked or it failed.
bool exportBeforeQuitting(MainWindow& window, const CloseQuestions& questions) {
    const QString dir = questions.folder
                            ? questions.folder()
                            : QFileDialog::getExistingDirectory(
                                  &window, QStringLiteral("Export the report into a folder"));
    bool written = false;
    if (!dir.isEmpty()) {
        window.runGuarded(QStringLiteral("Export report"), [&] {
            window.bridge()->poll();  // everything the last step produced
            window.exportReport(dir);
            written = true;
        });
    }
    return written;
}

}  // namespace

bool mayClose(MainWindow& window, const CloseQuestions& questions, std::size_t exportedSamples) {
    TrainingBridge* bridge = window.bridge();
    bridge->poll();
    const std::size_t trained = bridge->hasSession() ? bridge->log().train().size() : 0;
    if (trained <= exportedSamples) {
        return true;
    }
    const bool wasRunning = bridge->status().state == RunState::Running;
    bridge->pause();  // the session stops after the step in progress
    const core::session::SessionStatus& st = bridge->status();
    const QString text = QStringLiteral(
                             "The run of \u201c%1\u201d has trained %2 steps (epoch %3 of %4) that "
                             "are not exported. Export its report (charts, CSV, trace, run record) "
                             "before quitting?")
                             .arg(QString::fromStdString(bridge->config().name))
                             .arg(static_cast<qlonglong>(trained))
                             .arg(static_cast<qlonglong>(std::min(st.epoch + 1, st.epochs)))
                             .arg(static_cast<qlonglong>(st.epochs));
    CloseChoice choice = ask(window, questions, text);
    if (choice == CloseChoice::ExportAndQuit) {
        choice = exportBeforeQuitting(window, questions) ? CloseChoice::Quit : CloseChoice::Cancel;
    }
    if (choice == CloseChoice::Quit) {
        return true;
    }
    if (wasRunning) {
        bridge->play();
    }
    return false;
}

}  // namespace lp::ui
