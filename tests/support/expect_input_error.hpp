// Checks that a call throws lp::core::InputError with a message naming what is wrong and what is
// allowed (the project's rule for bad input).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace lp::test {

// Runs f, expects an InputError whose message holds every fragment; returns the message.
template <typename F>
std::string expectInputError(F&& f, std::initializer_list<std::string> fragments) {
    try {
        f();
    } catch (const core::InputError& e) {
        std::string what = e.what();
        for (const std::string& fragment : fragments) {
            EXPECT_NE(what.find(fragment), std::string::npos)
                << "message: " << what << "\nmissing: " << fragment;
        }
        return what;
    }
    ADD_FAILURE() << "no InputError thrown";
    return {};
}

}  // namespace lp::test
