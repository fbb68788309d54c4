// layerpipe-studio: builds the QApplication and the main window. Wiring only.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <QApplication>
#include <cstdlib>
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
    lp::ui::MainWindow window;
    window.show();
    return QApplication::exec();
}
