// layerpipe-studio: builds the QApplication and the main window. Wiring only.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/tensor/isa.hpp"
#include "ui/main_window.hpp"
#include "ui/palette.hpp"
#include "ui/presentation.hpp"
#include "ui/studio_settings.hpp"
#include "ui/study_charts.hpp"

#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string_view>

namespace {

// `--study DIR --write-charts`: the study report's charts, headless, no window (issue 14).
int writeStudyCharts(const QString& dir) {
    QStringList warnings;
    try {
        const QStringList files = lp::ui::writeStudyCharts(dir, &warnings);
        for (const QString& w : warnings) {
            std::cerr << "layerpipe-studio: note: " << w.toStdString() << "\n";
        }
        for (const QString& f : files) {
            std::cout << "wrote " << f.toStdString() << "\n";
        }
        return 0;
    } catch (const lp::core::InputError& e) {
        std::cerr << "layerpipe-studio: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Writing a study's charts needs no display: the offscreen platform draws them, unless the
    // caller chose a platform.
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--write-charts" &&
            std::getenv("QT_QPA_PLATFORM") == nullptr) {
            setenv("QT_QPA_PLATFORM", "offscreen", 1);
        }
    }
    const bool hasDisplay = std::getenv("DISPLAY") != nullptr ||
                            std::getenv("WAYLAND_DISPLAY") != nullptr ||
                            std::getenv("QT_QPA_PLATFORM") != nullptr;
    if (!hasDisplay) {
        std::cerr << "layerpipe-studio: no display found (DISPLAY and WAYLAND_DISPLAY are unset).\n"
                     "  Run the same experiments headless with the CLI, e.g.\n"
                     "    build/release/app/layerpipe --help\n"
                     "  or start the studio in a virtual display:\n"
                     "    xvfb-run -a build/release/app/layerpipe-studio\n";
        return 1;
    }
    try {
        lp::core::activeIsa();  // a bad LP_ISA is reported before any window opens
    } catch (const lp::core::InputError& e) {
        std::cerr << "layerpipe-studio: " << e.what() << '\n';
        return 2;
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("LayerPipe Studio"));
    QApplication::setApplicationVersion(QStringLiteral(LP_VERSION));
    // Ties the windows to the installed desktop entry (its icon and name on Wayland and in task
    // bars); LP_APP_ID comes from packaging/CMakeLists.txt.
    QApplication::setDesktopFileName(QStringLiteral(LP_APP_ID));
    QCommandLineParser args;
    args.setApplicationDescription(
        QStringLiteral("Pipelined backpropagation for ResNet-18, live."));
    args.addHelpOption();
    args.addVersionOption();
    args.addPositionalArgument(QStringLiteral("experiment"),
                               QStringLiteral("Experiment JSON to open (as the CLI reads)."),
                               QStringLiteral("[experiment.json]"));
    const QCommandLineOption lesson(QStringLiteral("lesson"),
                                    QStringLiteral("Start lesson <n> (1 = the first)."),
                                    QStringLiteral("n"));
    const QCommandLineOption play(QStringLiteral("play"),
                                  QStringLiteral("Start the opened experiment at once."));
    const QCommandLineOption compare(
        QStringLiteral("compare"),
        QStringLiteral("Start the Compare tab's variants of the opened experiment at once."));
    const QCommandLineOption tab(
        QStringLiteral("tab"),
        QStringLiteral("Show chart tab <name>: timeline, staleness, memory, training, ema_error, "
                       "compare, study."),
        QStringLiteral("name"));
    const QCommandLineOption dashboard(
        QStringLiteral("dashboard"), QStringLiteral("Show the five live charts at once."));
    const QCommandLineOption screenshot(
        QStringLiteral("screenshot"),
        QStringLiteral("After --after seconds, save the window as PNG <file> and quit."),
        QStringLiteral("file"));
    const QCommandLineOption after(QStringLiteral("after"),
                                   QStringLiteral("Seconds before --screenshot (default 10)."),
                                   QStringLiteral("s"),
                                   QStringLiteral("10"));
    const QCommandLineOption theme(
        QStringLiteral("theme"),
        QStringLiteral("Chart and window theme: light, dark or high-contrast (View > Theme)."),
        QStringLiteral("name"));
    const QCommandLineOption run(
        QStringLiteral("run"),
        QStringLiteral("Show the finished run in folder <dir> (the output of `layerpipe run`) in "
                       "the charts, read-only."),
        QStringLiteral("dir"));
    const QCommandLineOption study(
        QStringLiteral("study"),
        QStringLiteral("Open the study in folder <dir> (the output of `layerpipe study`) in the "
                       "Study tab."),
        QStringLiteral("dir"));
    const QCommandLineOption writeCharts(
        QStringLiteral("write-charts"),
        QStringLiteral("With --study: write the study's charts to <dir>/charts/*.png and exit "
                       "(no window; 2 on a bad folder)."));
    for (const QCommandLineOption& option : {lesson,
                                             play,
                                             compare,
                                             tab,
                                             dashboard,
                                             theme,
                                             screenshot,
                                             after,
                                             run,
                                             study,
                                             writeCharts}) {
        args.addOption(option);
    }
    args.process(app);
    if (args.isSet(writeCharts)) {
        lp::ui::settings::disable();  // reads and writes no settings
        if (!args.isSet(study)) {
            std::cerr << "layerpipe-studio: --write-charts needs --study DIR\n";
            return 2;
        }
        return writeStudyCharts(args.value(study));
    }

    // A scripted screenshot is reproducible: it neither reads nor changes the remembered window
    // layout, theme and zoom (ui/studio_settings.hpp).
    const bool scripted = args.isSet(screenshot);
    if (scripted) {
        lp::ui::settings::disable();
    }
    lp::ui::MainWindow window;
    window.show();
    // What the command line asked for and could not be done: on the terminal, and in a dialog
    // for a studio started from a desktop menu (issue 13). open(), never exec(): nothing blocks.
    const auto startupError = [&window](const QString& text) {
        std::cerr << "layerpipe-studio: " << text.toStdString() << "\n";
        window.showStartupError(text);
    };
    if (args.isSet(theme)) {
        const auto t = lp::ui::palette::themeFromName(args.value(theme));
        if (t) {
            window.presentation()->setTheme(*t);
        } else {
            startupError(QStringLiteral("no theme '%1' (light, dark or high-contrast)")
                             .arg(args.value(theme)));
        }
    }
    try {
        if (!args.positionalArguments().isEmpty()) {
            window.openExperimentFile(args.positionalArguments().constFirst());
        }
    } catch (const std::exception& e) {
        if (scripted) {
            std::cerr << "layerpipe-studio: " << e.what() << "\n";
            return 2;
        }
        startupError(QString::fromUtf8(e.what()));
    }
    try {
        if (args.isSet(study)) {
            window.openStudyFolder(args.value(study));
        }
        if (args.isSet(run)) {
            window.openRunFolder(args.value(run));
        }
    } catch (const std::exception& e) {
        if (scripted) {
            std::cerr << "layerpipe-studio: " << e.what() << "\n";
            return 2;
        }
        startupError(QString::fromUtf8(e.what()));
    }
    if (args.isSet(lesson)) {
        const int n = args.value(lesson).toInt();
        // With --compare the comparison runs the lesson; the main run stays idle.
        const bool found = args.isSet(compare) ? window.showLesson(n - 1) : window.runLesson(n - 1);
        if (!found) {
            startupError(QStringLiteral("there is no lesson %1").arg(args.value(lesson)));
        }
    } else if (args.isSet(play)) {
        window.play();
    }
    if (args.isSet(compare)) {
        window.startCompare();
    }
    if (args.isSet(dashboard)) {
        window.setDashboard(true);
    }
    if (args.isSet(tab) && !window.showChart(args.value(tab))) {
        startupError(QStringLiteral("no chart tab '%1'").arg(args.value(tab)));
    }
    if (args.isSet(screenshot)) {
        // The window's own rendering (QWidget::grab), not a screen capture: README screenshots.
        const QString file = args.value(screenshot);
        QTimer::singleShot(static_cast<int>(1000.0 * args.value(after).toDouble()), &window, [&] {
            if (!window.grab().save(file)) {
                std::cerr << "layerpipe-studio: cannot write " << file.toStdString() << "\n";
                QApplication::exit(3);
                return;
            }
            // exit(), not quit(): Qt 6's quit() closes the windows first, and the main window
            // asks before closing on a run that was not exported; a scripted screenshot has
            // nothing to keep.
            QApplication::exit(0);
        });
    }
    return QApplication::exec();
}
