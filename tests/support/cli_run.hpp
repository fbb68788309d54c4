// Running the layerpipe executable from a test: a shell command's exit status and output, a
// temporary folder per test, a file's bytes. Used by the cli tests; one thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "tests/support/temp_dir.hpp"
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

namespace lp::testing {

struct Result {
    int code = -1;
    std::string out;
};

// Runs a shell command line, capturing its stdout; code: the exit status (-1 if killed).
inline Result runShell(const std::string& cmd) {
    Result r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
        return r;
    }
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
        r.out.append(buf.data(), n);
    }
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

inline std::string fileBytes(const std::string& file) {
    std::string bytes;
    if (FILE* f = std::fopen(file.c_str(), "rb")) {
        std::array<char, 65536> buf{};
        std::size_t n = 0;
        while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
            bytes.append(buf.data(), n);
        }
        std::fclose(f);
    }
    return bytes;
}

}  // namespace lp::testing
