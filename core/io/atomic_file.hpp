// Crash-safe file replacement for checkpoints and every export: readers see either the old file
// or the complete new one, never a torn write. One writer object per file; not thread-safe.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace lp::core::io {

// Streams bytes into a temporary file next to the target ("." + name + ".tmp.<pid>.<n>"); commit()
// flushes and fsyncs it, renames it over the target and fsyncs the directory. Destroying the
// writer without a successful commit() removes the temporary file and leaves the target as it
// was. A new file gets mode 0666 & ~umask; a replaced file keeps its mode. If the target is a
// symbolic link, the link itself is replaced. Every failure throws InputError naming the target
// and the OS error (after removing the temporary file); ResourceError when the disk or quota is
// full. Temporary files of the same target left by a killed process (its pid no longer runs)
// are removed when a new writer for that target starts.
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::filesystem::path target);  // creates the temporary file
    ~AtomicFileWriter();

    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    AtomicFileWriter(AtomicFileWriter&&) = delete;
    AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;

    void write(std::string_view bytes);  // appends; no effect on the target until commit()
    void commit();                       // at most once; write() after commit() is a contract error

    const std::filesystem::path& target() const { return target_; }

    const std::filesystem::path& tempPath() const { return temp_; }

private:
    [[noreturn]] void fail(std::string_view step, int err);
    void discard() noexcept;

    std::filesystem::path target_;
    std::filesystem::path temp_;
    int fd_ = -1;
    bool committed_ = false;
};

// Checks before a long run that `target` can be written: its folder exists and accepts a new
// file (a temporary file is created and removed again; the target itself is not touched), and,
// when expectedBytes > 0, the file system has that much space available. InputError naming the
// target and the cause; ResourceError when the space is short (with both figures).
void probeWritable(const std::filesystem::path& target, std::uintmax_t expectedBytes = 0);

// Writes the whole file at once through AtomicFileWriter.
void writeFileAtomically(const std::filesystem::path& target, std::string_view bytes);

}  // namespace lp::core::io
