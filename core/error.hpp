// Error types and the contract check macro shared by all of core (STYLE.md section 5).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace lp::core {

// Bad external input (files, configs, flags, UI fields). The message names the field, the value
// and what is allowed. The CLI prints it and exits with code 2; the GUI shows a dialog.
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The machine ran out of something the run needs: memory, disk space, a quota. Still the user's
// to fix (free space, a smaller config), so it is an InputError; the CLI exits with code 4 and
// the message gives the figure (bytes needed and available).
class ResourceError : public InputError {
public:
    using InputError::InputError;
};

// A violated precondition of core's public API (a programming error, not bad input).
class ContractError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

[[noreturn]] void throwContractError(const char* cond,
                                     const std::string& msg,
                                     const char* file,
                                     int line);

// Builds a message from streamable parts: concat("got ", x, ", expected ", y).
template <typename... Args>
std::string concat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

}  // namespace lp::core

// On in every build type; throws ContractError with file and line (like GGML_ASSERT, but
// recoverable so that a bad model spec cannot kill the GUI).
#define LP_EXPECTS(cond, msg)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            ::lp::core::throwContractError(#cond, (msg), __FILE__, __LINE__); \
        }                                                                     \
    } while (false)
