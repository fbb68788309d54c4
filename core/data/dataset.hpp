// Datasets as stored on disk (uint8 pixels, NCHW) and the choice of which one to train on
// (DESIGN.md section 7). Plain values; loading is pure and safe to run from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::data {

// One split. pixels: [count, channels, height, width] as on disk (0..255); labels in
// [0, classes). A loaded Dataset always satisfies these; validate() checks them.
struct Dataset {
    std::string name;  // "cifar100", "cifar10", "fashion-mnist", "mnist", "synthetic"
    std::int64_t channels = 0;
    std::int64_t height = 0;
    std::int64_t width = 0;
    std::int64_t classes = 0;
    std::vector<std::uint8_t> pixels;
    std::vector<std::int32_t> labels;        // fine labels for CIFAR-100
    std::vector<std::int32_t> coarseLabels;  // CIFAR-100 only (20 superclasses), else empty
    std::vector<std::string> classNames;     // `classes` entries

    std::int64_t count() const { return static_cast<std::int64_t>(labels.size()); }

    std::int64_t pixelsPerSample() const { return channels * height * width; }

    // Throws ContractError unless the sizes and label ranges above hold.
    void validate() const;
};

// Train and test split of one dataset. `source` says in words which data it is and where it came
// from, e.g. "Fashion-MNIST from /usr/share/datasets/fashion-mnist"; the app shows it.
struct DatasetPair {
    Dataset train;
    Dataset test;
    std::string source;
};

using DatasetKind = core::DatasetKind;  // names and labels: core/choices.hpp

// "auto", "cifar100", "cifar10", "fashion-mnist", "mnist", "synthetic"; parse also accepts
// "cifar-100", "cifar-10", "fashion_mnist", "fashionmnist", any letter case.
std::optional<DatasetKind> parseDatasetKind(std::string_view text);

inline std::string_view toString(DatasetKind kind) {
    return choiceName(kind);
}

// "CIFAR-100", "Fashion-MNIST", ... for messages and the UI (the table's label).
inline std::string_view displayName(DatasetKind kind) {
    return choiceLabel(kind);
}

// Class-conditional, learnable images for tests and machines with no dataset (synthetic.hpp).
struct SyntheticSpec {
    std::int64_t channels = 3;
    std::int64_t height = 32;
    std::int64_t width = 32;
    std::int64_t classes = 10;
    std::int64_t trainCount = 2048;
    std::int64_t testCount = 512;
    std::uint64_t seed = 1;
};

inline constexpr std::string_view kSystemFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr std::string_view kDataEnvVar = "LAYERPIPE_DATA";

// What to load. `path` empty means: the LAYERPIPE_DATA environment variable when
// useEnvironment, else nothing.
struct DataSource {
    DatasetKind kind = DatasetKind::Auto;
    std::filesystem::path path;
    SyntheticSpec synthetic;
    bool useEnvironment = true;
    // Where Debian's dataset-fashion-mnist puts its files; tests point it elsewhere.
    std::filesystem::path systemFashionMnistDir{kSystemFashionMnistDir};
};

// The kind loadDataset(source) loads: source.kind, or for Auto the first of the rules below that
// holds, decided from which files exist (nothing is read). InputError where loadDataset reports
// a data folder that is missing, unreadable or holds no dataset.
DatasetKind resolveKind(const DataSource& source);

// A dataset described without reading its pixels: what the forecast and `layerpipe run --dry-run`
// need. Square images (height = width).
struct DatasetOutline {
    DatasetKind kind = DatasetKind::Synthetic;  // never Auto
    std::int64_t channels = 0;
    std::int64_t size = 0;  // height and width
    std::int64_t classes = 0;
    std::int64_t trainCount = 0;
    std::int64_t testCount = 0;
    // true: the counts are the data's own (synthetic, or loaded data); false: the kind's standard
    // files (CIFAR 50,000 + 10,000 images, MNIST and Fashion-MNIST 60,000 + 10,000), which a
    // folder's own files may differ from.
    bool exactCounts = false;
};

// The dataset loadDataset(source) would load (resolveKind), from its kind's standard shape —
// CIFAR 3x32x32 with 10 or 100 classes, MNIST and Fashion-MNIST 1x28x28 with 10 — or from the
// synthetic spec. InputError as resolveKind.
DatasetOutline outlineDataset(const DataSource& source);
// The outline of data already loaded (exact counts).
DatasetOutline outlineOf(const DatasetPair& data);

// Loads the requested dataset. Auto picks, in order:
//   1. with a folder (path or LAYERPIPE_DATA): CIFAR-100 if it holds train.bin/test.bin, else
//      CIFAR-10 (data_batch_1.bin ...), else IDX files ("fashion-mnist" when the folder's own name
//      contains "fashion", else "mnist"); a folder holding none of these is an InputError;
//   2. Fashion-MNIST in systemFashionMnistDir when all four files are there;
//   3. the synthetic set.
// A dataset that is present but broken is always an InputError, never a silent fallback.
// Cifar100/Cifar10/Mnist need a folder; FashionMnist defaults to systemFashionMnistDir.
DatasetPair loadDataset(const DataSource& source);

}  // namespace lp::core::data
