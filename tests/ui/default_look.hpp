// A fixture for studio tests that change the global look: the chart theme, zoom and legends go
// back to the defaults (light, 1.0, shown) after each test. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ui/chart_layout.hpp"
#include "ui/palette.hpp"

#include <gtest/gtest.h>

namespace lp::ui::test {

class DefaultLook : public ::testing::Test {
protected:
    void TearDown() override {
        palette::setTheme(palette::Theme::Light);
        palette::setZoom(1.0);
        chart::setLegendsShown(true);
    }
};

}  // namespace lp::ui::test
