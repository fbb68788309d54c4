// MPI error codes as exceptions: the one helper of core/distributed's .cpp files (the only
// files that include <mpi.h>). The communicators here return codes (MPI_ERRORS_RETURN).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/error.hpp"

#include <mpi.h>

#include <array>
#include <stdexcept>
#include <string>

namespace lp::core::distributed {

// Throws std::runtime_error "<call> failed: <MPI's words>" unless code is MPI_SUCCESS.
inline void checkMpi(int code, const char* call) {
    if (code != MPI_SUCCESS) {
        std::array<char, MPI_MAX_ERROR_STRING> text{};
        int length = 0;
        MPI_Error_string(code, text.data(), &length);
        throw std::runtime_error(
            concat(call, " failed: ", std::string(text.data(), static_cast<std::size_t>(length))));
    }
}

}  // namespace lp::core::distributed
