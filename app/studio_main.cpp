// layerpipe-studio: builds the QApplication and the main window, and does what the command line
// asks of them. Wiring only.
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
#include <functional>
#include <iostream>
#include <string_view>

namespace {

using lp::ui::MainWindow;

// The command line's options, in the order --help lists them.
struct StudioOptions {
    const QCommandLineOption lesson{QStringLiteral("lesson"),
                                    QStringLiteral("Start lesson <n> (1 = the first)."),
                                    QStringLiteral("n")};
    const QCommandLineOption play{QStringLiteral("play"),
                                  QStringLiteral("Start the opened experiment at once.")};
    const QCommandLineOption compare{
        QStringLiteral("compare"),
        QStringLiteral("Start the Compare tab's variants of the opened experiment at once.")};
    const QCommandLineOption tab{
        QStringLiteral("tab"),
        QStringLiteral("Show chart tab <name>: timeline, staleness, memory, training, ema_error, "
                       "compare, study."),
        QStringLiteral("name")};
    const QCommandLineOption dashboard{QStringLiteral("dashboard"),
                                       QStringLiteral("Show the five live charts at once.")};
    const QCommandLineOption theme{
        QStringLiteral("theme"),
        QStringLiteral("Chart and window theme: light, dark or high-contrast (View > Theme)."),
        QStringLiteral("name")};
    const QCommandLineOption screenshot{
        QStringLiteral("screenshot"),
        QStringLiteral("After --after seconds, save the window as PNG <file> and quit."),
        QStringLiteral("file")};
    const QCommandLineOption after{QStringLiteral("after"),
                                   QStringLiteral("Seconds before --screenshot (default 10)."),
                                   QStringLiteral("s"),
                                   QStringLiteral("10")};
    const QCommandLineOption run{
        QStringLiteral("run"),
        QStringLiteral("Show the finished run in folder <dir> (the output of `layerpipe run`) in "
                       "the charts, read-only."),
        QStringLiteral("dir")};
    const QCommandLineOption study{
        QStringLiteral("study"),
        QStringLiteral("Open the study in folder <dir> (the output of `layerpipe study`) in the "
                       "Study tab."),
        QStringLiteral("dir")};
    const QCommandLineOption writeCharts{
        QStringLiteral("write-charts"),
        QStringLiteral("With --study: write the study's charts to <dir>/charts/*.png and exit "
                       "(no window; 2 on a bad folder).")};
};

// Reports what the command line asked for and could not be done.
using StartupError = std::function<void(const QString&)>;

// Writing a study's charts needs no display: the offscreen platform draws them, unless the
// caller chose a platform.
void preferOffscreenForCharts(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--write-charts" &&
            std::getenv("QT_QPA_PLATFORM") == nullptr) {
            setenv("QT_QPA_PLATFORM", "offscreen", 1);
        }
    }
}

// True when there is a display (or a chosen platform); else says what to do instead.
bool findDisplay() {
    const bool hasDisplay = std::getenv("DISPLAY") != nullptr ||
                            std::getenv("WAYLAND_DISPLAY") != nullptr ||
                            std::getenv("QT_QPA_PLATFORM") != nullptr;
    if (!hasDisplay) {
        std::cerr << "layerpipe-studio: no display found (DISPLAY and WAYLAND_DISPLAY are unset).\n"
                     "  Run the same experiments headless with the CLI, e.g.\n"
                     "    build/release/app/layerpipe --help\n"
                     "  or start the studio in a virtual display:\n"
                     "    xvfb-run -a build/release/app/layerpipe-studio\n";
    }
    return hasDisplay;
}

// The application's names, and the options on the parser.
void describeApplication(QCommandLineParser& args, const StudioOptions& o) {
    QApplication::setApplicationName(QStringLiteral("LayerPipe Studio"));
    QApplication::setApplicationVersion(QStringLiteral(LP_VERSION));
    // Ties the windows to the installed desktop entry (its icon and name on Wayland and in task
    // bars); LP_APP_ID comes from packaging/CMakeLists.txt.
    QApplication::setDesktopFileName(QStringLiteral(LP_APP_ID));
    args.setApplicationDescription(
        QStringLiteral("Pipelined backpropagation for ResNet-18, live."));
    args.addHelpOption();
    args.addVersionOption();
    args.addPositionalArgument(QStringLiteral("experiment"),
                               QStringLiteral("Experiment JSON to open (as the CLI reads)."),
                               QStringLiteral("[experiment.json]"));
    for (const QCommandLineOption* option : {&o.lesson,
                                             &o.play,
                                             &o.compare,
                                             &o.tab,
                                             &o.dashboard,
                                             &o.theme,
                                             &o.screenshot,
                                             &o.after,
                                             &o.run,
                                             &o.study,
                                             &o.writeCharts}) {
        args.addOption(*option);
    }
}

// `--study DIR --write-charts`: the study report's charts, headless, no window (issue 14).
int writeStudyCharts(const QCommandLineParser& args, const StudioOptions& o) {
    lp::ui::settings::disable();  // reads and writes no settings
    if (!args.isSet(o.study)) {
        std::cerr << "layerpipe-studio: --write-charts needs --study DIR\n";
        return 2;
    }
    QStringList warnings;
    try {
        const QStringList files = lp::ui::writeStudyCharts(args.value(o.study), &warnings);
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

// Runs `open`; a failure ends a scripted screenshot (false: exit with 2) and is reported to a
// person otherwise.
bool openOrReport(bool scripted,
                  const StartupError& startupError,
                  const std::function<void()>& open) {
    try {
        open();
    } catch (const std::exception& e) {
        if (scripted) {
            std::cerr << "layerpipe-studio: " << e.what() << "\n";
            return false;
        }
        startupError(QString::fromUtf8(e.what()));
    }
    return true;
}

// The theme, the experiment file, the study and the run folder; false: a scripted screenshot
// failed to open one (exit 2).
bool openFromCommandLine(const QCommandLineParser& args,
                         const StudioOptions& o,
                         MainWindow& window,
                         bool scripted,
                         const StartupError& startupError) {
    if (args.isSet(o.theme)) {
        const auto t = lp::ui::palette::themeFromName(args.value(o.theme));
        if (t) {
            window.presentation()->setTheme(*t);
        } else {
            startupError(QStringLiteral("no theme '%1' (light, dark or high-contrast)")
                             .arg(args.value(o.theme)));
        }
    }
    return openOrReport(scripted,
                        startupError,
                        [&] {
                            if (!args.positionalArguments().isEmpty()) {
                                window.openExperimentFile(args.positionalArguments().constFirst());
                            }
                        }) &&
           openOrReport(scripted, startupError, [&] {
               if (args.isSet(o.study)) {
                   window.openStudyFolder(args.value(o.study));
               }
               if (args.isSet(o.run)) {
                   window.openRunFolder(args.value(o.run));
               }
           });
}

// A lesson or the opened experiment, the comparison, the dashboard and the chart tab.
void startFromCommandLine(const QCommandLineParser& args,
                          const StudioOptions& o,
                          MainWindow& window,
                          const StartupError& startupError) {
    if (args.isSet(o.lesson)) {
        const int n = args.value(o.lesson).toInt();
        // With --compare the comparison runs the lesson; the main run stays idle.
        const bool found =
            args.isSet(o.compare) ? window.showLesson(n - 1) : window.runLesson(n - 1);
        if (!found) {
            startupError(QStringLiteral("there is no lesson %1").arg(args.value(o.lesson)));
        }
    } else if (args.isSet(o.play)) {
        window.play();
    }
    if (args.isSet(o.compare)) {
        window.startCompare();
    }
    if (args.isSet(o.dashboard)) {
        window.setDashboard(true);
    }
    if (args.isSet(o.tab) && !window.showChart(args.value(o.tab))) {
        startupError(QStringLiteral("no chart tab '%1'").arg(args.value(o.tab)));
    }
}

// The window's own rendering (QWidget::grab), not a screen capture: README screenshots.
void scheduleScreenshot(const QString& file, double seconds, MainWindow& window) {
    QTimer::singleShot(static_cast<int>(1000.0 * seconds), &window, [file, &window] {
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

}  // namespace

int main(int argc, char** argv) {
    preferOffscreenForCharts(argc, argv);
    if (!findDisplay()) {
        return 1;
    }
    try {
        lp::core::activeIsa();  // a bad LP_ISA is reported before any window opens
    } catch (const lp::core::InputError& e) {
        std::cerr << "layerpipe-studio: " << e.what() << '\n';
        return 2;
    }
    QApplication app(argc, argv);
    QCommandLineParser args;
    const StudioOptions options;
    describeApplication(args, options);
    args.process(app);
    if (args.isSet(options.writeCharts)) {
        return writeStudyCharts(args, options);
    }
    // A scripted screenshot is reproducible: it neither reads nor changes the remembered window
    // layout, theme and zoom (ui/studio_settings.hpp).
    const bool scripted = args.isSet(options.screenshot);
    if (scripted) {
        lp::ui::settings::disable();
    }
    MainWindow window;
    window.show();
    // What the command line asked for and could not be done: on the terminal, and in a dialog
    // for a studio started from a desktop menu (issue 13). open(), never exec(): nothing blocks.
    const StartupError startupError = [&window](const QString& text) {
        std::cerr << "layerpipe-studio: " << text.toStdString() << "\n";
        window.showStartupError(text);
    };
    if (!openFromCommandLine(args, options, window, scripted, startupError)) {
        return 2;
    }
    startFromCommandLine(args, options, window, startupError);
    if (scripted) {
        scheduleScreenshot(
            args.value(options.screenshot), args.value(options.after).toDouble(), window);
    }
    return QApplication::exec();
}
