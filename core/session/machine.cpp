// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/machine.hpp"

#include "core/tensor/isa.hpp"

namespace lp::core::session {

std::string machineReport() {
    return cpuReport();
}

}  // namespace lp::core::session
