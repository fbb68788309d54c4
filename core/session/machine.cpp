// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/machine.hpp"

#include "core/tensor/isa.hpp"

#include <unistd.h>

#include <array>

namespace lp::core::session {

std::string machineReport() {
    return cpuReport();
}

std::string hostName() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
        return "unknown";
    }
    return name.data();
}

}  // namespace lp::core::session
