// A fresh folder for one test's files, removed at the end (also after the test made its contents
// read-only): the one fixture every test that writes files uses.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace lp::testing {

class TempDir {
public:
    // Named after the running test: <tmp>/lp_<suite>_<test>_<pid>.
    TempDir() : TempDir(currentTestName()) {}

    // Named <tmp>/<name>-<pid>.
    explicit TempDir(const std::string& name)
        : path_(std::filesystem::temp_directory_path() /
                (name + "-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }

    ~TempDir() {
        std::error_code ec;
        std::filesystem::permissions(
            path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path_, ec);
    }

    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    TempDir(TempDir&&) = delete;
    TempDir& operator=(TempDir&&) = delete;

    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

    const std::filesystem::path& path() const { return path_; }

    // The names of the folder's entries, sorted.
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(path_)) {
            names.push_back(entry.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    }

private:
    static std::string currentTestName() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = info == nullptr
                               ? std::string("lp_test")
                               : std::string("lp_") + info->test_suite_name() + "_" + info->name();
        std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests' names
        return name;
    }

    std::filesystem::path path_;
};

}  // namespace lp::testing
