// The layerpipe executable end to end.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct Result {
    int code = -1;
    std::string out;
};

// Runs the CLI with `args` (shell syntax), capturing stdout and stderr together.
Result runCli(const std::string& args) {
    const std::string cmd = std::string(LP_CLI_PATH) + " " + args + " 2>&1";
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

TEST(Cli, HelpExitsZero) {
    const Result r = runCli("--help");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("layerpipe"), std::string::npos) << r.out;
}

TEST(Cli, VersionMatchesProjectVersion) {
    const Result r = runCli("--version");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(LP_PROJECT_VERSION), std::string::npos) << r.out;
}

TEST(Cli, UnknownFlagIsAnError) {
    const Result r = runCli("--no-such-flag");
    EXPECT_NE(r.code, 0) << r.out;
}

}  // namespace
