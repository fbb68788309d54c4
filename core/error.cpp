// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"

namespace lp::core {

void throwContractError(const char* cond, const std::string& msg, const char* file, int line) {
    throw ContractError(concat(file, ":", line, ": contract violated (", cond, "): ", msg));
}

}  // namespace lp::core
