// Checks that a call throws lp::core::InputError with a message naming what is wrong and what is
// allowed (the project's rule for bad input).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace lp::test {

// Runs f, expects an InputError whose message holds every fragment; returns the message.
template <typename F>
std::string expectInputError(F&& f, const std::vector<std::string>& fragments) {
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

template <typename F>
std::string expectInputError(F&& f, std::initializer_list<std::string> fragments) {
    return expectInputError(std::forward<F>(f), std::vector<std::string>(fragments));
}

// A config that validation must refuse, and the field its message must name.
template <typename Config>
struct BadConfig {
    Config cfg;
    std::string field;
};

// For each case, validate(cfg) throws an InputError whose message names the case's field.
template <typename Config, typename Validate>
void expectEachRefused(const std::vector<BadConfig<Config>>& cases, Validate&& validate) {
    for (const BadConfig<Config>& c : cases) {
        SCOPED_TRACE(c.field);
        expectInputError([&] { validate(c.cfg); }, {c.field});
    }
}

}  // namespace lp::test
