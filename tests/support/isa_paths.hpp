// Runs kernel tests once per instruction-set path this CPU supports (DESIGN.md section 9): a
// fixture that switches the dispatcher to the test's path and back, and the name of each
// instance ("baseline", "avx2", "avx512"). Tests run serially, so switching is safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/tensor/isa.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace lp::core {

// GoogleTest prints a path by its name ("GetParam() = avx2").
inline void PrintTo(Isa isa, std::ostream* os) {
    *os << isaName(isa);
}

}  // namespace lp::core

namespace lp::testing {

class OnEachPath : public ::testing::TestWithParam<core::Isa> {
protected:
    void SetUp() override {
        previous_ = core::activeIsa();
        core::setActiveIsa(GetParam());
    }

    void TearDown() override { core::setActiveIsa(previous_); }

private:
    core::Isa previous_ = core::Isa::Baseline;
};

inline std::string pathName(const ::testing::TestParamInfo<core::Isa>& info) {
    return std::string(core::isaName(info.param));
}

}  // namespace lp::testing

// Instantiates the TEST_P tests of fixture `Suite` (derived from OnEachPath) for every path.
#define LP_TEST_ON_EACH_PATH(Suite) \
    INSTANTIATE_TEST_SUITE_P(       \
        Path, Suite, ::testing::ValuesIn(::lp::core::supportedIsas()), ::lp::testing::pathName)
