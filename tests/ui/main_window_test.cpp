// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/main_window.hpp"

#include <qcustomplot.h>

#include <gtest/gtest.h>

namespace lp::ui {
namespace {

TEST(MainWindow, BuildsWithLossChart) {
    MainWindow w;
    w.show();
    ASSERT_NE(w.lossPlot(), nullptr);
    EXPECT_EQ(w.lossPlot()->graphCount(), 1);
    EXPECT_TRUE(w.windowTitle().contains(QStringLiteral("LayerPipe Studio")));
}

}  // namespace
}  // namespace lp::ui
