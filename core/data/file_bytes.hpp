// Whole-file byte I/O and gzip (RFC 1952) in memory, for the dataset readers and for tests that
// write gzip fixtures. Stateless free functions; safe to call from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace lp::core::data {

// The whole file. Throws InputError naming the file if it is missing, not a regular file or
// unreadable.
std::vector<std::uint8_t> readFileBytes(const std::filesystem::path& file);

// Writes (replaces) the file. Throws InputError naming the file on failure.
void writeFileBytes(const std::filesystem::path& file, std::span<const std::uint8_t> bytes);

// The most gunzip() produces by default: a few MB of gzip can expand to many GB (a "gzip
// bomb", or the wrong file); the largest IDX data set in use (EMNIST) is about 0.7 GB.
inline constexpr std::size_t kMaxGunzipBytes = std::size_t{2} << 30U;  // 2 GiB

// Decompresses gzip data (concatenated members allowed). Throws InputError naming `file` (used
// only in the message) if the data is not gzip, corrupt (zlib's reason, e.g. a CRC mismatch),
// truncated, or would decompress to more than maxBytes.
std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> compressed,
                                 const std::filesystem::path& file,
                                 std::size_t maxBytes = kMaxGunzipBytes);

// Compresses to a single gzip member; level 0..9 (zlib's levels, 6 is its default).
std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes, int level = 6);

// The file's bytes, gunzipped when its name ends in ".gz".
std::vector<std::uint8_t> readMaybeGzipped(const std::filesystem::path& file);

}  // namespace lp::core::data
