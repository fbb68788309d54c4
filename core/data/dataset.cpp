// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/dataset.hpp"

#include "core/data/cifar.hpp"
#include "core/data/idx.hpp"
#include "core/data/synthetic.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <utility>

namespace lp::core::data {

namespace {

namespace fs = std::filesystem;

// Each kind's shape and split sizes of its standard files (outlineDataset), in DatasetKind's
// order; the names are core/choices.hpp's.
struct KindShape {
    DatasetKind kind;
    std::int64_t channels = 0;
    std::int64_t size = 0;
    std::int64_t classes = 0;
    std::int64_t trainCount = 0;
    std::int64_t testCount = 0;
};

constexpr std::array<KindShape, 6> kKinds{{
    {DatasetKind::Auto},
    {DatasetKind::Cifar100, 3, 32, 100, 50'000, 10'000},
    {DatasetKind::Cifar10, 3, 32, 10, 50'000, 10'000},
    {DatasetKind::FashionMnist, 1, 28, 10, 60'000, 10'000},
    {DatasetKind::Mnist, 1, 28, 10, 60'000, 10'000},
    {DatasetKind::Synthetic},
}};

// The folder named by the source, else by LAYERPIPE_DATA; empty if neither. `origin` says which,
// for messages.
fs::path dataFolder(const DataSource& source, std::string& origin) {
    if (!source.path.empty()) {
        origin = "data folder";
        return source.path;
    }
    if (source.useEnvironment) {
        // getenv is not thread-safe against setenv; nothing in core calls setenv.
        // NOLINTNEXTLINE(concurrency-mt-unsafe)
        const char* env = std::getenv(std::string(kDataEnvVar).c_str());
        if (env != nullptr && *env != '\0') {
            origin = concat(kDataEnvVar, " folder");
            return env;
        }
    }
    return {};
}

// A data folder that cannot be listed is reported with the OS's reason (missing, a file, a
// symlink loop, no permission) instead of "no dataset found" later.
void checkFolder(const fs::path& dir, const std::string& origin) {
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (ec || !fs::exists(st)) {
        throw InputError(concat(
            origin, " ", dir.string(), ": ", ec ? ec.message() : std::string("no such folder")));
    }
    if (!fs::is_directory(st)) {
        throw InputError(concat(origin, " ", dir.string(), ": not a folder"));
    }
    fs::directory_iterator it(dir, ec);
    if (ec) {
        throw InputError(concat(origin, " ", dir.string(), ": cannot be read: ", ec.message()));
    }
}

fs::path requireFolder(const DataSource& source, DatasetKind kind) {
    std::string origin;
    fs::path dir = dataFolder(source, origin);
    if (dir.empty()) {
        throw InputError(concat(
            displayName(kind), " needs a data folder (set the data path or ", kDataEnvVar, ")"));
    }
    checkFolder(dir, origin);
    return dir;
}

// Only the folder's own name counts, not its parents' ("/home/fashionista/mnist" is MNIST).
bool isFashionFolder(const fs::path& dir) {
    fs::path p = dir.lexically_normal();
    if (p.filename().empty()) {
        p = p.parent_path();  // "a/fashion/" normalises with an empty last component
    }
    std::string s = p.filename().string();
    std::transform(s.begin(), s.end(), s.begin(), [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    return s.find("fashion") != std::string::npos;
}

bool hasAllIdxFiles(const fs::path& dir) {
    const std::optional<IdxFiles> files = findIdx(dir);
    if (!files) {
        return false;
    }
    std::error_code ec;
    return fs::is_regular_file(files->trainLabels, ec) &&
           fs::is_regular_file(files->testImages, ec) && fs::is_regular_file(files->testLabels, ec);
}

// What Auto resolves to (DataSource's rules); nothing is read.
DatasetKind resolveAuto(const DataSource& source) {
    std::string origin;
    const fs::path dir = dataFolder(source, origin);
    if (!dir.empty()) {
        checkFolder(dir, origin);
        if (findCifar100(dir)) {
            return DatasetKind::Cifar100;
        }
        if (findCifar10(dir)) {
            return DatasetKind::Cifar10;
        }
        if (findIdx(dir)) {
            return isFashionFolder(dir) ? DatasetKind::FashionMnist : DatasetKind::Mnist;
        }
        throw InputError(concat(origin,
                                " ",
                                dir.string(),
                                ": no dataset found, expected CIFAR-100 (train.bin, test.bin), "
                                "CIFAR-10 (data_batch_1.bin ... test_batch.bin) or IDX files "
                                "(train-images-idx3-ubyte[.gz] ...)"));
    }
    if (hasAllIdxFiles(source.systemFashionMnistDir)) {
        return DatasetKind::FashionMnist;
    }
    return DatasetKind::Synthetic;
}

DatasetPair loadAuto(const DataSource& source) {
    DataSource resolved = source;
    resolved.kind = resolveAuto(source);
    if (resolved.kind != DatasetKind::Synthetic) {
        return loadDataset(resolved);
    }
    DatasetPair pair = makeSynthetic(source.synthetic);
    pair.source += concat(": no data folder given and no Fashion-MNIST in ",
                          source.systemFashionMnistDir.string());
    return pair;
}

}  // namespace

void Dataset::validate() const {
    LP_EXPECTS(channels > 0 && height > 0 && width > 0 && classes > 0,
               "dataset dimensions must be positive");
    LP_EXPECTS(pixels.size() == labels.size() * static_cast<std::size_t>(pixelsPerSample()),
               "dataset pixel count must be count x channels x height x width");
    LP_EXPECTS(coarseLabels.empty() || coarseLabels.size() == labels.size(),
               "coarse labels must be absent or one per sample");
    LP_EXPECTS(
        std::all_of(
            labels.begin(), labels.end(), [this](std::int32_t l) { return l >= 0 && l < classes; }),
        "labels must be in [0, classes)");
}

std::optional<DatasetKind> parseDatasetKind(std::string_view text) {
    std::string key;
    for (char c : text) {
        if (c != '-' && c != '_') {
            key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        }
    }
    for (const Choice<DatasetKind>& k : choices<DatasetKind>()) {
        std::string canonical;
        std::copy_if(k.name.begin(), k.name.end(), std::back_inserter(canonical), [](char c) {
            return c != '-';
        });
        if (key == canonical) {
            return k.value;
        }
    }
    return std::nullopt;
}

DatasetKind resolveKind(const DataSource& source) {
    return source.kind == DatasetKind::Auto ? resolveAuto(source) : source.kind;
}

DatasetOutline outlineDataset(const DataSource& source) {
    const DatasetKind kind = resolveKind(source);
    if (kind == DatasetKind::Synthetic) {
        const SyntheticSpec& s = source.synthetic;
        LP_EXPECTS(s.height == s.width, "outlineDataset: synthetic images must be square");
        return {.kind = kind,
                .channels = s.channels,
                .size = s.height,
                .classes = s.classes,
                .trainCount = s.trainCount,
                .testCount = s.testCount,
                .exactCounts = true};
    }
    const KindShape& k = kKinds[static_cast<std::size_t>(kind)];
    return {.kind = kind,
            .channels = k.channels,
            .size = k.size,
            .classes = k.classes,
            .trainCount = k.trainCount,
            .testCount = k.testCount};
}

DatasetOutline outlineOf(const DatasetPair& data) {
    const Dataset& train = data.train;
    return {.kind = parseDatasetKind(train.name).value_or(DatasetKind::Synthetic),
            .channels = train.channels,
            .size = train.height,
            .classes = train.classes,
            .trainCount = train.count(),
            .testCount = data.test.count(),
            .exactCounts = true};
}

DatasetPair loadDataset(const DataSource& source) {
    switch (source.kind) {
        case DatasetKind::Auto:
            return loadAuto(source);
        case DatasetKind::Cifar100:
            return loadCifar100(requireFolder(source, source.kind));
        case DatasetKind::Cifar10:
            return loadCifar10(requireFolder(source, source.kind));
        case DatasetKind::Mnist:
            return loadIdx(requireFolder(source, source.kind), "mnist");
        case DatasetKind::FashionMnist: {
            std::string origin;
            const fs::path dir = dataFolder(source, origin);
            return loadIdx(dir.empty() ? source.systemFashionMnistDir : dir, "fashion-mnist");
        }
        case DatasetKind::Synthetic:
            return makeSynthetic(source.synthetic);
    }
    throw ContractError("loadDataset: unknown DatasetKind");
}

}  // namespace lp::core::data
