// layerpipe-studio: builds the QApplication and the main window. Wiring only.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <QApplication>
#include <QCommandLineParser>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "ui/main_window.hpp"

int main(int argc, char** argv) {
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
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("LayerPipe Studio"));
    QApplication::setApplicationVersion(QStringLiteral(LP_VERSION));
    QCommandLineParser args;
    args.setApplicationDescription(QStringLiteral("Pipelined backpropagation for ResNet-18, live."));
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
    args.addOption(lesson);
    args.addOption(play);
    args.process(app);

    lp::ui::MainWindow window;
    window.show();
    try {
        if (!args.positionalArguments().isEmpty()) {
            window.openExperimentFile(args.positionalArguments().constFirst());
        }
    } catch (const std::exception& e) {
        std::cerr << "layerpipe-studio: " << e.what() << "\n";
        return 2;
    }
    if (args.isSet(lesson)) {
        window.runLesson(args.value(lesson).toInt() - 1);
    } else if (args.isSet(play)) {
        window.play();
    }
    return QApplication::exec();
}
