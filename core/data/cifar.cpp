// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/cifar.hpp"

#include "core/data/file_bytes.hpp"
#include "core/error.hpp"

#include <array>
#include <fstream>
#include <string>

namespace lp::core::data {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSide = 32;
constexpr std::int64_t kPixels = 3 * kSide * kSide;

struct CifarFormat {
    std::int64_t recordBytes;
    std::int64_t labelBytes;  // 1 (fine) or 2 (coarse, fine)
    std::int64_t classes;
    std::int64_t coarseClasses;
};

constexpr CifarFormat kCifar10{kCifar10RecordBytes, 1, 10, 0};
constexpr CifarFormat kCifar100{kCifar100RecordBytes, 2, 100, 20};

Dataset emptySplit(const char* name, std::int64_t classes) {
    Dataset d;
    d.name = name;
    d.channels = 3;
    d.height = kSide;
    d.width = kSide;
    d.classes = classes;
    return d;
}

// Appends every record of one file's bytes to `out`. They are checked before anything is
// appended, so a bad file never leaves partial data behind.
void appendBytes(std::span<const std::uint8_t> bytes,
                 const fs::path& file,
                 const CifarFormat& f,
                 Dataset& out) {
    const auto size = static_cast<std::int64_t>(bytes.size());
    if (size == 0 || size % f.recordBytes != 0) {
        throw InputError(concat(file.string(),
                                ": size must be a positive multiple of the ",
                                f.recordBytes,
                                "-byte record, found ",
                                size,
                                " bytes (",
                                size / f.recordBytes,
                                " records and ",
                                size % f.recordBytes,
                                " bytes left over)"));
    }
    const std::int64_t records = size / f.recordBytes;
    for (std::int64_t r = 0; r < records; ++r) {
        const std::uint8_t* rec = bytes.data() + r * f.recordBytes;
        const std::int64_t fine = rec[f.labelBytes - 1];
        if (fine >= f.classes) {
            throw InputError(concat(file.string(),
                                    ": record ",
                                    r,
                                    " has label ",
                                    fine,
                                    ", expected 0..",
                                    f.classes - 1));
        }
        if (f.labelBytes == 2 && rec[0] >= f.coarseClasses) {
            throw InputError(concat(file.string(),
                                    ": record ",
                                    r,
                                    " has coarse label ",
                                    int{rec[0]},
                                    ", expected 0..",
                                    f.coarseClasses - 1));
        }
    }
    out.pixels.reserve(out.pixels.size() + static_cast<std::size_t>(records * kPixels));
    for (std::int64_t r = 0; r < records; ++r) {
        const std::uint8_t* rec = bytes.data() + r * f.recordBytes;
        out.labels.push_back(rec[f.labelBytes - 1]);
        if (f.labelBytes == 2) {
            out.coarseLabels.push_back(rec[0]);
        }
        // The record's pixel order (channel planes of row-major 32x32) is already NCHW.
        out.pixels.insert(out.pixels.end(), rec + f.labelBytes, rec + f.recordBytes);
    }
}

// The whole file read first, so a bad file never leaves partial data behind.
void appendRecords(const fs::path& file, const CifarFormat& f, Dataset& out) {
    appendBytes(readFileBytes(file), file, f, out);
}

// One name per line; used only when the file has exactly `classes` non-empty lines.
std::vector<std::string> readClassNames(const fs::path& file, std::int64_t classes) {
    std::vector<std::string> names;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
            line.pop_back();
        }
        if (!line.empty()) {
            names.push_back(line);
        }
    }
    if (static_cast<std::int64_t>(names.size()) != classes) {
        names.clear();
        for (std::int64_t c = 0; c < classes; ++c) {
            names.push_back(std::to_string(c));
        }
    }
    return names;
}

std::optional<fs::path> findWith(const fs::path& dir,
                                 const char* subdir,
                                 std::initializer_list<const char*> markers) {
    for (const fs::path& candidate : {dir, dir / subdir}) {
        for (const char* marker : markers) {
            std::error_code ec;
            if (fs::is_regular_file(candidate / marker, ec)) {
                return candidate;
            }
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<fs::path> findCifar10(const fs::path& dir) {
    return findWith(dir, "cifar-10-batches-bin", {"data_batch_1.bin", "test_batch.bin"});
}

std::optional<fs::path> findCifar100(const fs::path& dir) {
    return findWith(dir, "cifar-100-binary", {"train.bin", "test.bin"});
}

DatasetPair loadCifar10(const fs::path& dir) {
    const fs::path root = findCifar10(dir).value_or(dir);
    DatasetPair pair{emptySplit("cifar10", 10), emptySplit("cifar10", 10), ""};
    for (int b = 1; b <= 5; ++b) {
        appendRecords(root / concat("data_batch_", b, ".bin"), kCifar10, pair.train);
    }
    appendRecords(root / "test_batch.bin", kCifar10, pair.test);
    pair.train.classNames = readClassNames(root / "batches.meta.txt", 10);
    pair.test.classNames = pair.train.classNames;
    pair.source = concat("CIFAR-10 from ", root.string());
    return pair;
}

DatasetPair loadCifar100(const fs::path& dir) {
    const fs::path root = findCifar100(dir).value_or(dir);
    DatasetPair pair{emptySplit("cifar100", 100), emptySplit("cifar100", 100), ""};
    appendRecords(root / "train.bin", kCifar100, pair.train);
    appendRecords(root / "test.bin", kCifar100, pair.test);
    pair.train.classNames = readClassNames(root / "fine_label_names.txt", 100);
    pair.test.classNames = pair.train.classNames;
    pair.source = concat("CIFAR-100 from ", root.string());
    return pair;
}

void appendCifarRecords(std::span<const std::uint8_t> bytes,
                        std::int64_t recordBytes,
                        const fs::path& file,
                        Dataset& out) {
    LP_EXPECTS(recordBytes == kCifar10RecordBytes || recordBytes == kCifar100RecordBytes,
               "appendCifarRecords: recordBytes must be kCifar10RecordBytes or "
               "kCifar100RecordBytes");
    appendBytes(bytes, file, recordBytes == kCifar10RecordBytes ? kCifar10 : kCifar100, out);
}

}  // namespace lp::core::data
