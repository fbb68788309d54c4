// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/atomic_file.hpp"

#include "core/error.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace lp::core::io {
namespace {

std::string osError(int err) {
    return std::system_category().message(err);
}

// Distinct names per process and per writer, so two writers of the same target (two exports
// started from the GUI, a test running beside the app) never share a temporary file.
std::filesystem::path tempNameFor(const std::filesystem::path& target, int attempt) {
    static std::atomic<std::uint64_t> counter{0};
    const std::uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
    const std::filesystem::path dir =
        target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    return dir / concat(".", target.filename().string(), ".tmp.", ::getpid(), ".", n, ".", attempt);
}

// ".<name>.tmp.<pid>.<n>.<attempt>" files of `target` whose process is gone: a save killed
// between creating and renaming its temporary file (SIGKILL, power loss) leaves one behind, up
// to the size of a checkpoint. Files of live processes, this one included, are left alone.
void removeStaleTemps(const std::filesystem::path& target) {
    const std::filesystem::path dir =
        target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    const std::string prefix = concat(".", target.filename().string(), ".tmp.");
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
            continue;
        }
        const std::string rest = name.substr(prefix.size());
        std::size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
            ++digits;
        }
        if (digits == 0 || digits > 9 || digits >= rest.size() || rest[digits] != '.') {
            continue;
        }
        const auto pid = static_cast<pid_t>(std::stol(rest.substr(0, digits)));
        if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) {
            continue;  // alive (or not ours to judge)
        }
        std::error_code ignored;
        std::filesystem::remove(it->path(), ignored);
    }
}

bool isOutOfSpace(int err) {
    return err == ENOSPC || err == EDQUOT;
}

// fsync on the directory makes the rename itself durable (POSIX leaves it to the file system).
// A failure here is ignored: the data is already safe in the file and some file systems refuse
// to open or sync directories.
void syncDirectory(const std::filesystem::path& target) {
    const std::filesystem::path dir =
        target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd >= 0) {
        static_cast<void>(::fsync(dirFd));
        static_cast<void>(::close(dirFd));
    }
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target) : target_(std::move(target)) {
    if (target_.empty() || !target_.has_filename()) {
        throw InputError(concat("cannot write '", target_.string(), "': not a file name"));
    }
    removeStaleTemps(target_);
    // O_EXCL guards against reusing a leftover temporary file (or a planted symlink).
    constexpr int kAttempts = 16;
    int err = 0;
    for (int attempt = 0; attempt < kAttempts && fd_ < 0; ++attempt) {
        temp_ = tempNameFor(target_, attempt);
        fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (fd_ < 0 && err != EEXIST) {
            break;
        }
    }
    if (fd_ < 0) {
        temp_.clear();  // nothing of ours to remove
        fail("creating a temporary file in the same directory", err);
    }

    // Replacing a file must not silently change who may read it.
    struct stat existing {};

    if (::stat(target_.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
        static_cast<void>(::fchmod(fd_, existing.st_mode & 07777));
    }
}

AtomicFileWriter::~AtomicFileWriter() {
    if (!committed_) {
        discard();
    }
}

void AtomicFileWriter::write(std::string_view bytes) {
    LP_EXPECTS(fd_ >= 0 && !committed_, "AtomicFileWriter::write after commit or failure");
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("writing", errno);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void AtomicFileWriter::commit() {
    LP_EXPECTS(fd_ >= 0 && !committed_, "AtomicFileWriter::commit twice or after a failure");
    // Data must reach the disk before the rename publishes it; otherwise a crash can leave a
    // complete-looking but empty file (the classic ext4 delayed-allocation surprise).
    if (::fsync(fd_) != 0) {
        fail("flushing to disk", errno);
    }
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
        fail("closing", errno);
    }
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
        fail("renaming the temporary file over the target", errno);
    }
    committed_ = true;
    syncDirectory(target_);
}

void AtomicFileWriter::fail(std::string_view step, int err) {
    discard();
    if (isOutOfSpace(err)) {
        throw ResourceError(concat("cannot write '",
                                   target_.string(),
                                   "': ",
                                   osError(err),
                                   " (while ",
                                   step,
                                   "); free some space and run again"));
    }
    throw InputError(
        concat("cannot write '", target_.string(), "': ", osError(err), " (while ", step, ")"));
}

void AtomicFileWriter::discard() noexcept {
    if (fd_ >= 0) {
        static_cast<void>(::close(fd_));
        fd_ = -1;
    }
    if (!temp_.empty()) {
        static_cast<void>(::unlink(temp_.c_str()));
        temp_.clear();
    }
}

void probeWritable(const std::filesystem::path& target, std::uintmax_t expectedBytes) {
    std::error_code ec;
    if (std::filesystem::is_directory(target, ec)) {
        throw InputError(
            concat("cannot write '", target.string(), "': it is a folder; give a file name"));
    }
    const std::filesystem::path dir =
        target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    if (!std::filesystem::exists(dir, ec)) {
        throw InputError(concat("cannot write '",
                                target.string(),
                                "': the folder '",
                                dir.string(),
                                "' does not exist"));
    }
    {
        AtomicFileWriter probe(target);  // creates and, uncommitted, removes a temporary file
    }
    if (expectedBytes > 0) {
        const std::filesystem::space_info space = std::filesystem::space(dir, ec);
        if (!ec && space.available < expectedBytes) {
            throw ResourceError(concat("cannot write '",
                                       target.string(),
                                       "': it needs about ",
                                       expectedBytes,
                                       " bytes but the file system has ",
                                       space.available,
                                       " bytes available"));
        }
    }
}

void writeFileAtomically(const std::filesystem::path& target, std::string_view bytes) {
    AtomicFileWriter writer(target);
    writer.write(bytes);
    writer.commit();
}

}  // namespace lp::core::io
