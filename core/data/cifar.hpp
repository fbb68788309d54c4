// Readers for the CIFAR-10 and CIFAR-100 binary versions
// (https://www.cs.toronto.edu/~kriz/cifar.html). Stateless; safe to call from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/data/dataset.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

namespace lp::core::data {

// CIFAR-10 record: 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows of 32).
inline constexpr std::int64_t kCifar10RecordBytes = 3073;
// CIFAR-100 record: coarse label, fine label, then the same 3072 pixel bytes.
inline constexpr std::int64_t kCifar100RecordBytes = 3074;

// The folder with the files: `dir` itself or the folder the official archive unpacks to
// (cifar-10-batches-bin, cifar-100-binary) inside it; nullopt if neither has any of them.
std::optional<std::filesystem::path> findCifar10(const std::filesystem::path& dir);
std::optional<std::filesystem::path> findCifar100(const std::filesystem::path& dir);

// data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin (test), found via findCifar10.
// Class names come from batches.meta.txt when present. Throws InputError naming the file for a
// missing file, a size that is not a positive multiple of 3073 bytes, or a label above 9.
DatasetPair loadCifar10(const std::filesystem::path& dir);

// train.bin and test.bin, found via findCifar100. Class names come from fine_label_names.txt
// when present. Throws InputError naming the file for a missing file, a size that is not a
// positive multiple of 3074 bytes, a coarse label above 19 or a fine label above 99.
DatasetPair loadCifar100(const std::filesystem::path& dir);

// One file's bytes already in memory: checks them as the loaders do (recordBytes is
// kCifar10RecordBytes or kCifar100RecordBytes; `file` names them in messages), then appends every
// record's labels (and CIFAR-100's coarse labels) and pixels to `out`, which a bad file leaves
// unchanged.
void appendCifarRecords(std::span<const std::uint8_t> bytes,
                        std::int64_t recordBytes,
                        const std::filesystem::path& file,
                        Dataset& out);

}  // namespace lp::core::data
