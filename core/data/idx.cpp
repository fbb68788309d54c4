// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/idx.hpp"

#include "core/data/file_bytes.hpp"
#include "core/error.hpp"

#include <array>
#include <ios>
#include <sstream>

namespace lp::core::data {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kClasses = 10;

std::uint32_t bigEndian32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24U) | (std::uint32_t{p[1]} << 16U) |
           (std::uint32_t{p[2]} << 8U) | std::uint32_t{p[3]};
}

std::string hex32(std::uint32_t v) {
    std::ostringstream os;
    os << "0x" << std::hex;
    os.width(8);
    os.fill('0');
    os << v;
    return os.str();
}

// Picks the first existing spelling of one IDX file; the dash form is LeCun's, the dot form is
// what several mirrors ship.
std::optional<fs::path> findOne(const fs::path& dir,
                                const std::string& dash,
                                const std::string& dot) {
    for (const std::string& stem : {dash, dot}) {
        for (const char* ext : {"", ".gz"}) {
            const fs::path p = dir / (stem + ext);
            std::error_code ec;
            if (fs::is_regular_file(p, ec)) {
                return p;
            }
        }
    }
    return std::nullopt;
}

fs::path findOrDefault(const fs::path& dir, const char* split, const char* kind, int rank) {
    const std::string dash = concat(split, "-", kind, "-idx", rank, "-ubyte");
    const std::string dot = concat(split, "-", kind, ".idx", rank, "-ubyte");
    // A missing file keeps the canonical name, so readIdx reports it as "file not found".
    return findOne(dir, dash, dot).value_or(dir / (dash + ".gz"));
}

IdxFiles allFiles(const fs::path& dir) {
    return {findOrDefault(dir, "train", "images", 3),
            findOrDefault(dir, "train", "labels", 1),
            findOrDefault(dir, "t10k", "images", 3),
            findOrDefault(dir, "t10k", "labels", 1)};
}

std::vector<std::string> classNamesFor(const std::string& name) {
    if (name == "fashion-mnist") {
        return {"T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot"};
    }
    return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

Dataset loadSplit(const fs::path& imagesFile, const fs::path& labelsFile, const std::string& name) {
    IdxArray images = readIdx(imagesFile, 3);
    IdxArray labels = readIdx(labelsFile, 1);
    if (images.dims[0] != labels.dims[0]) {
        throw InputError(concat(labelsFile.string(),
                                ": ",
                                labels.dims[0],
                                " labels, expected ",
                                images.dims[0],
                                " to match the images in ",
                                imagesFile.string()));
    }
    Dataset d;
    d.name = name;
    d.channels = 1;
    d.height = images.dims[1];
    d.width = images.dims[2];
    d.classes = kClasses;
    d.classNames = classNamesFor(name);
    d.labels.reserve(labels.data.size());
    for (std::size_t i = 0; i < labels.data.size(); ++i) {
        if (labels.data[i] >= kClasses) {
            throw InputError(concat(labelsFile.string(),
                                    ": label ",
                                    i,
                                    " is ",
                                    int{labels.data[i]},
                                    ", expected 0..",
                                    kClasses - 1));
        }
        d.labels.push_back(labels.data[i]);
    }
    d.pixels = std::move(images.data);
    return d;
}

}  // namespace

IdxArray readIdx(const fs::path& file, int rank) {
    LP_EXPECTS(rank >= 1 && rank <= 4, "readIdx: rank must be in 1..4");
    return parseIdx(readMaybeGzipped(file), rank, file);
}

IdxArray parseIdx(std::span<const std::uint8_t> bytes, int rank, const fs::path& file) {
    LP_EXPECTS(rank >= 1 && rank <= 4, "parseIdx: rank must be in 1..4");
    const auto dims = static_cast<std::size_t>(rank);
    const std::size_t headerBytes = 4 + 4 * dims;
    const auto dimAt = [&](std::size_t i) {
        return bigEndian32(bytes.data() + 4 + 4 * i);
    };
    const std::uint32_t expectedMagic = 0x0800U | static_cast<std::uint32_t>(rank);
    if (bytes.size() < 4 || bigEndian32(bytes.data()) != expectedMagic) {
        const std::string found = bytes.size() < 4 ? concat("only ", bytes.size(), " bytes")
                                                   : hex32(bigEndian32(bytes.data()));
        throw InputError(concat(file.string(),
                                ": wrong IDX magic number, expected ",
                                hex32(expectedMagic),
                                " (unsigned bytes, ",
                                rank,
                                " dimensions), found ",
                                found));
    }
    if (bytes.size() < headerBytes) {
        throw InputError(concat(file.string(),
                                ": truncated IDX header, expected ",
                                headerBytes,
                                " bytes, found ",
                                bytes.size()));
    }
    IdxArray a;
    std::size_t expected = 1;
    for (std::size_t i = 0; i < dims; ++i) {
        const std::uint32_t d = dimAt(i);
        if (d == 0) {
            throw InputError(concat(file.string(), ": IDX dimension ", i, " is zero"));
        }
        // Dimensions come from the file: stop as soon as the product would exceed the real size,
        // so a corrupt header cannot overflow it.
        if (d > bytes.size() / expected) {
            break;
        }
        expected *= d;
        a.dims.push_back(d);
    }
    if (a.dims.size() != dims || headerBytes + expected != bytes.size()) {
        std::string shape;
        for (std::size_t i = 0; i < dims; ++i) {
            shape += concat(i == 0 ? "" : " x ", dimAt(i));
        }
        throw InputError(concat(file.string(),
                                ": header promises ",
                                shape,
                                " bytes of data, ",
                                "found ",
                                bytes.size() - headerBytes,
                                " (truncated or trailing bytes)"));
    }
    a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(headerBytes), bytes.end());
    return a;
}

std::optional<IdxFiles> findIdx(const fs::path& dir) {
    if (!findOne(dir, "train-images-idx3-ubyte", "train-images.idx3-ubyte")) {
        return std::nullopt;
    }
    return allFiles(dir);
}

DatasetPair loadIdx(const fs::path& dir, const std::string& name) {
    const IdxFiles files = allFiles(dir);
    DatasetPair pair;
    pair.train = loadSplit(files.trainImages, files.trainLabels, name);
    pair.test = loadSplit(files.testImages, files.testLabels, name);
    if (pair.test.height != pair.train.height || pair.test.width != pair.train.width) {
        throw InputError(concat(files.testImages.string(),
                                ": images are ",
                                pair.test.height,
                                " x ",
                                pair.test.width,
                                ", expected ",
                                pair.train.height,
                                " x ",
                                pair.train.width,
                                " like the training images"));
    }
    pair.source =
        concat(name == "fashion-mnist" ? "Fashion-MNIST" : "MNIST", " from ", dir.string());
    return pair;
}

}  // namespace lp::core::data
