// AtomicFileWriter's housekeeping and the up-front write checks (issue 12). The core behaviour
// (replace, abandon, failures) is tested next to safetensors, its first user.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/atomic_file.hpp"

#include "core/error.hpp"

#include "tests/support/expect_input_error.hpp"
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace lp::core::io {
namespace {

namespace fs = std::filesystem;
using lp::test::expectInputError;

struct Folder {
    fs::path path = fs::temp_directory_path() / concat("lp_atomic_", ::getpid());

    Folder() { fs::create_directories(path); }

    ~Folder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// The pid of a process that has exited (and been reaped): certainly not running.
pid_t deadPid() {
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}

TEST(AtomicFile, RemovesTemporaryFilesOfKilledSavesToTheSameTarget) {
    const Folder dir;
    const fs::path target = dir.path / "model.safetensors";
    const fs::path stale = dir.path / concat(".model.safetensors.tmp.", deadPid(), ".0.0");
    const fs::path mine = dir.path / concat(".model.safetensors.tmp.", ::getpid(), ".999.0");
    const fs::path otherTarget = dir.path / concat(".other.safetensors.tmp.", deadPid(), ".0.0");
    for (const fs::path& p : {stale, mine, otherTarget}) {
        std::ofstream(p) << "partial checkpoint";
    }
    writeFileAtomically(target, "new");
    EXPECT_FALSE(fs::exists(stale));       // a dead process's leftover of this target
    EXPECT_TRUE(fs::exists(mine));         // this process's own (a writer may still use it)
    EXPECT_TRUE(fs::exists(otherTarget));  // another target's: not this save's business
    EXPECT_TRUE(fs::exists(target));
}

TEST(AtomicFile, ProbeWritableChecksFolderAndSpaceWithoutTouchingTheTarget) {
    const Folder dir;
    const fs::path target = dir.path / "c.safetensors";
    probeWritable(target, 1024);
    EXPECT_FALSE(fs::exists(target));
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 0);

    expectInputError([&] { probeWritable(dir.path / "missing" / "c.safetensors"); },
                     {"does not exist"});
    expectInputError([&] { probeWritable(dir.path); }, {"it is a folder"});
    try {
        probeWritable(target, std::numeric_limits<std::uintmax_t>::max() / 2);
        ADD_FAILURE() << "expected ResourceError";
    } catch (const ResourceError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("needs about"), std::string::npos) << what;
        EXPECT_NE(what.find("bytes available"), std::string::npos) << what;
    }
}

}  // namespace
}  // namespace lp::core::io
