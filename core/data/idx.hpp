// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), raw
// or gzip-compressed. Stateless; safe to call from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/data/dataset.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lp::core::data {

// An IDX file of unsigned bytes: big-endian magic 0x0000'08'<rank>, `rank` big-endian uint32
// dimensions, then the row-major data.
struct IdxArray {
    std::vector<std::int64_t> dims;
    std::vector<std::uint8_t> data;
};

// Reads one IDX file (gunzipped when the name ends in ".gz") that must have the given rank.
// Throws InputError naming the file for a wrong magic number, a zero dimension, or a size that
// differs from what the header promises (truncated or trailing bytes).
IdxArray readIdx(const std::filesystem::path& file, int rank);

// The same checks on bytes already in memory (already gunzipped); `file` names them in messages.
IdxArray parseIdx(std::span<const std::uint8_t> bytes, int rank, const std::filesystem::path& file);

// The four files' paths in `dir`, each the first that exists of "train-images-idx3-ubyte",
// "train-images.idx3-ubyte" and the same with ".gz" (likewise train-labels-idx1-ubyte, t10k-*);
// nullopt if the training images are not there.
struct IdxFiles {
    std::filesystem::path trainImages, trainLabels, testImages, testLabels;
};

std::optional<IdxFiles> findIdx(const std::filesystem::path& dir);

// MNIST-style split pair: 1 x H x W images (28 x 28 for MNIST and Fashion-MNIST), 10 classes.
// `name` is "mnist" or "fashion-mnist" (it picks the class names). Throws InputError naming the
// file for a missing file, any readIdx error, an image/label count mismatch or a label above 9.
DatasetPair loadIdx(const std::filesystem::path& dir, const std::string& name);

}  // namespace lp::core::data
