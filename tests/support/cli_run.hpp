// Running the layerpipe executable from a test: a shell command's exit status and output, a
// temporary folder per test, a file's bytes. Used by the cli tests; one thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

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

// A fresh folder for one test's files, removed at the end.
struct TempDir {
    std::filesystem::path path;

    explicit TempDir(const std::string& name)
        : path(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }

    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }

    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    TempDir(TempDir&&) = delete;
    TempDir& operator=(TempDir&&) = delete;

    std::string operator/(const std::string& f) const { return (path / f).string(); }
};

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
