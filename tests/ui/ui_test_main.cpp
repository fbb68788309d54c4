// Test main for Qt tests: offscreen platform unless the caller chose one (STYLE.md, known traps),
// and no studio settings: the tests never read or change a user's saved layout, theme or zoom
// (issue 13); a test of the settings points them at a scratch file.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/studio_settings.hpp"

#include <QApplication>

#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
    if (std::getenv("QT_QPA_PLATFORM") == nullptr) {
        setenv("QT_QPA_PLATFORM", "offscreen", 1);
    }
    lp::ui::settings::disable();
    QApplication app(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
