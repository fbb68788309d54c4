// SPDX-License-Identifier: GPL-3.0-or-later
// Dataset readers (CIFAR-10/100 binary, IDX raw and gzip), their errors, and the choice of
// dataset. Every test writes its own small files in the real formats.
#include "core/data/batches.hpp"
#include "core/data/cifar.hpp"
#include "core/data/dataset.hpp"
#include "core/data/file_bytes.hpp"
#include "core/data/idx.hpp"
#include "core/error.hpp"

#include "tests/support/temp_dir.hpp"
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lp::core::data {
namespace {

namespace fs = std::filesystem;
using lp::testing::TempDir;
using Bytes = std::vector<std::uint8_t>;

// Deterministic filler bytes so that every pixel differs from its neighbours.
Bytes pattern(std::size_t n, std::uint32_t salt) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<std::uint8_t>((i * 131U + std::size_t{salt} * 17U + (i >> 8U)) & 0xFFU);
    }
    return b;
}

// Runs f, expects an InputError whose message contains every string in `parts`.
void expectInputError(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no InputError thrown";
    } catch (const InputError& e) {
        const std::string msg = e.what();
        for (const std::string& p : parts) {
            EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
        }
    }
}

struct CifarFixture {
    std::vector<Bytes> files;  // file contents
    std::vector<std::int32_t> fine, coarse;
    Bytes pixels;
};

// `records` records per file in CIFAR-10 (coarse = false) or CIFAR-100 layout.
CifarFixture makeCifar(const std::vector<int>& records, bool hundred, std::uint32_t salt) {
    CifarFixture f;
    for (int n : records) {
        Bytes file;
        for (int r = 0; r < n; ++r) {
            const auto k = static_cast<std::uint32_t>(f.fine.size()) + salt;
            const auto fine = static_cast<std::uint8_t>(k * 7U % (hundred ? 100U : 10U));
            const auto coarse = static_cast<std::uint8_t>(k % 20U);
            if (hundred) {
                file.push_back(coarse);
                f.coarse.push_back(coarse);
            }
            file.push_back(fine);
            f.fine.push_back(fine);
            const Bytes px = pattern(3072, k);
            file.insert(file.end(), px.begin(), px.end());
            f.pixels.insert(f.pixels.end(), px.begin(), px.end());
        }
        f.files.push_back(file);
    }
    return f;
}

void writeCifar10(const fs::path& dir, const CifarFixture& train, const CifarFixture& test) {
    for (int b = 0; b < 5; ++b) {
        writeFileBytes(dir / concat("data_batch_", b + 1, ".bin"),
                       train.files[static_cast<std::size_t>(b)]);
    }
    writeFileBytes(dir / "test_batch.bin", test.files[0]);
}

Bytes idxFile(const std::vector<std::uint32_t>& dims, const Bytes& data) {
    Bytes b{0, 0, 8, static_cast<std::uint8_t>(dims.size())};
    for (std::uint32_t d : dims) {
        for (unsigned shift : {24U, 16U, 8U, 0U}) {
            b.push_back(static_cast<std::uint8_t>((d >> shift) & 0xFFU));
        }
    }
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

struct IdxFixture {
    Bytes trainImages, trainLabels, testImages, testLabels;
};

IdxFixture makeIdx(std::uint32_t trainCount, std::uint32_t testCount, std::uint32_t side) {
    IdxFixture f;
    f.trainImages = pattern(std::size_t{trainCount} * side * side, 1);
    f.testImages = pattern(std::size_t{testCount} * side * side, 2);
    for (std::uint32_t i = 0; i < trainCount; ++i) {
        f.trainLabels.push_back(static_cast<std::uint8_t>(i * 3U % 10U));
    }
    for (std::uint32_t i = 0; i < testCount; ++i) {
        f.testLabels.push_back(static_cast<std::uint8_t>(i * 7U % 10U));
    }
    return f;
}

void writeIdx(const fs::path& dir, const IdxFixture& f, std::uint32_t side, bool gz) {
    const auto put = [&](const char* name, const Bytes& content) {
        writeFileBytes(dir / concat(name, gz ? ".gz" : ""), gz ? gzip(content) : content);
    };
    const auto n = [](const Bytes& labels) {
        return static_cast<std::uint32_t>(labels.size());
    };
    put("train-images-idx3-ubyte", idxFile({n(f.trainLabels), side, side}, f.trainImages));
    put("train-labels-idx1-ubyte", idxFile({n(f.trainLabels)}, f.trainLabels));
    put("t10k-images-idx3-ubyte", idxFile({n(f.testLabels), side, side}, f.testImages));
    put("t10k-labels-idx1-ubyte", idxFile({n(f.testLabels)}, f.testLabels));
}

std::vector<std::int32_t> asLabels(const Bytes& b) {
    return {b.begin(), b.end()};
}

TEST(Gzip, RoundTripsIncludingConcatenatedMembers) {
    const Bytes a = pattern(100'000, 3);
    const Bytes b = pattern(777, 4);
    EXPECT_EQ(gunzip(gzip(a), "x.gz"), a);
    EXPECT_EQ(gunzip(gzip(Bytes{}), "x.gz"), Bytes{});
    Bytes both = gzip(a, 1);
    const Bytes gb = gzip(b, 9);
    both.insert(both.end(), gb.begin(), gb.end());
    Bytes ab = a;
    ab.insert(ab.end(), b.begin(), b.end());
    EXPECT_EQ(gunzip(both, "x.gz"), ab);
}

TEST(Gzip, CorruptOrTruncatedDataIsAnInputErrorNamingTheFile) {
    const Bytes good = gzip(pattern(50'000, 5));
    Bytes truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
    expectInputError([&] { gunzip(truncated, "/d/t.gz"); }, {"/d/t.gz", "truncated"});
    Bytes flipped = good;
    flipped[flipped.size() - 6] ^= 0x5AU;  // inside the CRC-32 trailer
    expectInputError([&] { gunzip(flipped, "/d/c.gz"); }, {"/d/c.gz", "corrupt"});
    expectInputError([&] { gunzip(pattern(300, 1), "/d/n.gz"); }, {"/d/n.gz", "corrupt"});
    expectInputError([&] { gunzip(Bytes{}, "/d/e.gz"); }, {"/d/e.gz", "empty"});
}

// A small file that expands without bound is refused at the cap, not by running out of memory.
TEST(Gzip, OutputBeyondTheCapIsAnInputError) {
    const Bytes zeros(3U << 20U, 0);  // 3 MiB of zeros: about 3 KiB of gzip
    const Bytes bomb = gzip(zeros, 9);
    EXPECT_LT(bomb.size(), 8192U);
    expectInputError([&] { gunzip(bomb, "/d/b.gz", 1U << 20U); },
                     {"/d/b.gz", "decompresses to more than 1048576 bytes"});
    EXPECT_EQ(gunzip(bomb, "/d/b.gz", zeros.size()).size(), zeros.size());  // exactly at the cap
}

TEST(Cifar10, LoadsEveryRecordExactly) {
    const TempDir dir;
    const CifarFixture train = makeCifar({3, 1, 2, 4, 2}, false, 0);
    const CifarFixture test = makeCifar({5}, false, 100);
    writeCifar10(dir.path(), train, test);
    const DatasetPair p = loadCifar10(dir.path());
    EXPECT_EQ(p.train.name, "cifar10");
    EXPECT_EQ(p.train.count(), 12);
    EXPECT_EQ(p.test.count(), 5);
    EXPECT_EQ(p.train.channels, 3);
    EXPECT_EQ(p.train.height, 32);
    EXPECT_EQ(p.train.classes, 10);
    EXPECT_EQ(p.train.labels, train.fine);
    EXPECT_EQ(p.train.pixels, train.pixels);
    EXPECT_EQ(p.test.labels, test.fine);
    EXPECT_EQ(p.test.pixels, test.pixels);
    EXPECT_TRUE(p.train.coarseLabels.empty());
    EXPECT_NE(p.source.find("CIFAR-10 from "), std::string::npos);
    ASSERT_EQ(p.train.classNames.size(), 10U);
    p.train.validate();
}

TEST(Cifar10, FindsTheArchiveFolderAndItsClassNames) {
    const TempDir dir;
    const fs::path inner = dir.path() / "cifar-10-batches-bin";
    fs::create_directories(inner);
    writeCifar10(inner, makeCifar({1, 1, 1, 1, 1}, false, 0), makeCifar({1}, false, 9));
    const std::string names =
        "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    writeFileBytes(inner / "batches.meta.txt", Bytes(names.begin(), names.end()));
    ASSERT_EQ(findCifar10(dir.path()), inner);
    EXPECT_FALSE(findCifar100(dir.path()));
    const DatasetPair p = loadCifar10(dir.path());
    EXPECT_EQ(p.train.count(), 5);
    EXPECT_EQ(p.train.classNames[0], "airplane");
    EXPECT_EQ(p.test.classNames[9], "truck");
}

TEST(Cifar100, LoadsCoarseAndFineLabels) {
    const TempDir dir;
    const CifarFixture train = makeCifar({30}, true, 0);
    const CifarFixture test = makeCifar({7}, true, 55);
    writeFileBytes(dir.path() / "train.bin", train.files[0]);
    writeFileBytes(dir.path() / "test.bin", test.files[0]);
    const DatasetPair p = loadCifar100(dir.path());
    EXPECT_EQ(p.train.name, "cifar100");
    EXPECT_EQ(p.train.classes, 100);
    EXPECT_EQ(p.train.labels, train.fine);
    EXPECT_EQ(p.train.coarseLabels, train.coarse);
    EXPECT_EQ(p.train.pixels, train.pixels);
    EXPECT_EQ(p.test.labels, test.fine);
    EXPECT_EQ(p.test.coarseLabels, test.coarse);
    EXPECT_EQ(p.test.pixels, test.pixels);
    EXPECT_EQ(*std::max_element(p.train.labels.begin(), p.train.labels.end()), 98);
}

TEST(Cifar, BadFilesAreInputErrorsNamingTheFile) {
    const TempDir dir;
    const fs::path& d = dir.path();
    const CifarFixture train = makeCifar({2, 2, 2, 2, 2}, false, 0);
    const CifarFixture test = makeCifar({2}, false, 3);
    writeCifar10(d, train, test);
    ASSERT_NO_THROW(loadCifar10(d));

    Bytes truncated = test.files[0];
    truncated.pop_back();
    writeFileBytes(d / "test_batch.bin", truncated);
    expectInputError([&] { loadCifar10(d); }, {"test_batch.bin", "3073", "6145"});

    writeFileBytes(d / "test_batch.bin", Bytes{});
    expectInputError([&] { loadCifar10(d); }, {"test_batch.bin", "positive multiple"});

    Bytes badLabel = test.files[0];
    badLabel[3073] = 10;  // the second record's label
    writeFileBytes(d / "test_batch.bin", badLabel);
    expectInputError([&] { loadCifar10(d); }, {"test_batch.bin", "record 1", "label 10", "0..9"});

    writeFileBytes(d / "test_batch.bin", test.files[0]);
    fs::remove(d / "data_batch_3.bin");
    expectInputError([&] { loadCifar10(d); }, {"data_batch_3.bin", "not found"});

    const CifarFixture hundred = makeCifar({3}, true, 0);
    writeFileBytes(d / "train.bin", hundred.files[0]);
    expectInputError([&] { loadCifar100(d); }, {"test.bin", "not found"});
    Bytes badCoarse = hundred.files[0];
    badCoarse[std::size_t{2} * 3074] = 20;
    writeFileBytes(d / "test.bin", badCoarse);
    expectInputError([&] { loadCifar100(d); }, {"test.bin", "record 2", "coarse label 20"});
    Bytes badFine = hundred.files[0];
    badFine[1] = 100;
    writeFileBytes(d / "test.bin", badFine);
    expectInputError([&] { loadCifar100(d); }, {"test.bin", "record 0", "label 100", "0..99"});
    Bytes cifar10Sized(std::size_t{3073} * 2, 0);
    writeFileBytes(d / "test.bin", cifar10Sized);
    expectInputError([&] { loadCifar100(d); }, {"test.bin", "3074"});
}

TEST(Cifar, AppendsRecordsFromBytesInMemory) {
    const CifarFixture hundred = makeCifar({3}, true, 5);
    Dataset d;
    appendCifarRecords(hundred.files[0], kCifar100RecordBytes, "mem.bin", d);
    EXPECT_EQ(d.labels, hundred.fine);
    EXPECT_EQ(d.coarseLabels, hundred.coarse);
    EXPECT_EQ(d.pixels, hundred.pixels);

    Bytes badFine = hundred.files[0];
    badFine[3074 + 1] = 100;
    Dataset untouched;
    expectInputError([&] { appendCifarRecords(badFine, kCifar100RecordBytes, "m.bin", untouched); },
                     {"m.bin", "record 1", "label 100", "0..99"});
    EXPECT_TRUE(untouched.pixels.empty() && untouched.labels.empty());
    expectInputError(
        [&] { appendCifarRecords(hundred.files[0], kCifar10RecordBytes, "m.bin", untouched); },
        {"m.bin", "3073"});
    EXPECT_THROW(appendCifarRecords(hundred.files[0], 3072, "m.bin", untouched), ContractError);
}

TEST(Idx, ParsesBytesInMemoryLikeTheFileReader) {
    const Bytes labels{3, 1, 4, 1, 5};
    const IdxArray a = parseIdx(idxFile({5}, labels), 1, "mem");
    EXPECT_EQ(a.dims, (std::vector<std::int64_t>{5}));
    EXPECT_EQ(a.data, labels);
    const IdxArray images = parseIdx(idxFile({2, 1, 3}, pattern(6, 1)), 3, "mem");
    EXPECT_EQ(images.dims, (std::vector<std::int64_t>{2, 1, 3}));
    expectInputError([&] { parseIdx(idxFile({5}, labels), 3, "mem.idx"); },
                     {"mem.idx", "magic", "0x00000803"});
    expectInputError([&] { parseIdx(Bytes{0, 0}, 1, "mem.idx"); }, {"mem.idx", "only 2 bytes"});
    EXPECT_THROW(parseIdx(idxFile({5}, labels), 5, "mem"), ContractError);
}

TEST(Idx, LoadsRawAndGzipIdentically) {
    const TempDir raw;
    const TempDir gz;
    const IdxFixture f = makeIdx(13, 6, 5);
    writeIdx(raw.path(), f, 5, false);
    writeIdx(gz.path(), f, 5, true);
    for (const fs::path& dir : {raw.path(), gz.path()}) {
        const DatasetPair p = loadIdx(dir, "fashion-mnist");
        EXPECT_EQ(p.train.name, "fashion-mnist");
        EXPECT_EQ(p.train.channels, 1);
        EXPECT_EQ(p.train.height, 5);
        EXPECT_EQ(p.train.width, 5);
        EXPECT_EQ(p.train.classes, 10);
        EXPECT_EQ(p.train.pixels, f.trainImages);
        EXPECT_EQ(p.train.labels, asLabels(f.trainLabels));
        EXPECT_EQ(p.test.pixels, f.testImages);
        EXPECT_EQ(p.test.labels, asLabels(f.testLabels));
        EXPECT_EQ(p.train.classNames[9], "Ankle boot");
        EXPECT_EQ(p.source, "Fashion-MNIST from " + dir.string());
    }
}

TEST(Idx, AcceptsTheDottedMirrorSpelling) {
    const TempDir dir;
    const IdxFixture f = makeIdx(4, 2, 3);
    writeIdx(dir.path(), f, 3, false);
    fs::rename(dir.path() / "train-images-idx3-ubyte", dir.path() / "train-images.idx3-ubyte");
    const DatasetPair p = loadIdx(dir.path(), "mnist");
    EXPECT_EQ(p.train.pixels, f.trainImages);
    EXPECT_EQ(p.train.classNames[3], "3");
}

TEST(Idx, BadFilesAreInputErrorsNamingTheFile) {
    const TempDir dir;
    const fs::path& d = dir.path();
    const IdxFixture f = makeIdx(6, 4, 4);
    const auto reset = [&] {
        writeIdx(d, f, 4, false);
    };
    reset();
    ASSERT_NO_THROW(loadIdx(d, "mnist"));

    Bytes wrongMagic = idxFile({6}, f.trainLabels);
    wrongMagic[3] = 3;
    writeFileBytes(d / "train-labels-idx1-ubyte", wrongMagic);
    expectInputError([&] { loadIdx(d, "mnist"); },
                     {"train-labels-idx1-ubyte", "magic", "0x00000801", "0x00000803"});
    reset();

    Bytes truncated = idxFile({4, 4, 4}, f.testImages);
    truncated.resize(truncated.size() - 5);
    writeFileBytes(d / "t10k-images-idx3-ubyte", truncated);
    expectInputError([&] { loadIdx(d, "mnist"); },
                     {"t10k-images-idx3-ubyte", "4 x 4 x 4", "found 59"});
    reset();

    Bytes trailing = idxFile({4}, f.testLabels);
    trailing.push_back(0);
    writeFileBytes(d / "t10k-labels-idx1-ubyte", trailing);
    expectInputError([&] { loadIdx(d, "mnist"); }, {"t10k-labels-idx1-ubyte", "trailing"});
    reset();

    Bytes huge = idxFile({0xFFFFFFFFU, 0xFFFFFFFFU, 0xFFFFFFFFU}, Bytes(16, 0));
    writeFileBytes(d / "train-images-idx3-ubyte", huge);
    expectInputError([&] { loadIdx(d, "mnist"); }, {"train-images-idx3-ubyte", "header promises"});
    reset();

    writeFileBytes(d / "train-labels-idx1-ubyte", idxFile({5}, Bytes(5, 1)));
    expectInputError([&] { loadIdx(d, "mnist"); },
                     {"train-labels-idx1-ubyte", "5 labels", "expected 6"});
    reset();

    Bytes badLabel = f.trainLabels;
    badLabel[2] = 10;
    writeFileBytes(d / "train-labels-idx1-ubyte", idxFile({6}, badLabel));
    expectInputError([&] { loadIdx(d, "mnist"); },
                     {"train-labels-idx1-ubyte", "label 2 is 10", "0..9"});
    reset();

    fs::remove(d / "t10k-labels-idx1-ubyte");
    expectInputError([&] { loadIdx(d, "mnist"); }, {"t10k-labels-idx1-ubyte", "not found"});
    reset();

    Bytes gz = gzip(idxFile({6}, f.trainLabels));
    gz[gz.size() - 7] ^= 0xFFU;  // the CRC no longer matches
    fs::remove(d / "train-labels-idx1-ubyte");
    writeFileBytes(d / "train-labels-idx1-ubyte.gz", gz);
    expectInputError([&] { loadIdx(d, "mnist"); }, {"train-labels-idx1-ubyte.gz", "gzip"});
}

TEST(DatasetKind, ParsesAndPrints) {
    for (DatasetKind k : {DatasetKind::Auto,
                          DatasetKind::Cifar100,
                          DatasetKind::Cifar10,
                          DatasetKind::FashionMnist,
                          DatasetKind::Mnist,
                          DatasetKind::Synthetic}) {
        EXPECT_EQ(parseDatasetKind(toString(k)), k);
    }
    EXPECT_EQ(parseDatasetKind("CIFAR-100"), DatasetKind::Cifar100);
    EXPECT_EQ(parseDatasetKind("fashion_mnist"), DatasetKind::FashionMnist);
    EXPECT_EQ(parseDatasetKind("FashionMNIST"), DatasetKind::FashionMnist);
    EXPECT_EQ(parseDatasetKind("imagenet"), std::nullopt);
    EXPECT_EQ(parseDatasetKind(""), std::nullopt);
    EXPECT_EQ(displayName(DatasetKind::FashionMnist), "Fashion-MNIST");
}

TEST(LoadDataset, AutoPrefersCifar100ThenCifar10ThenIdx) {
    const TempDir dir;
    const fs::path& d = dir.path();
    DataSource src;
    src.path = d;
    expectInputError([&] { loadDataset(src); }, {d.string(), "no dataset found"});

    writeIdx(d, makeIdx(3, 2, 4), 4, true);
    EXPECT_EQ(loadDataset(src).train.name, "mnist");
    writeCifar10(d, makeCifar({1, 1, 1, 1, 1}, false, 0), makeCifar({1}, false, 0));
    EXPECT_EQ(loadDataset(src).train.name, "cifar10");
    const CifarFixture hundred = makeCifar({2}, true, 0);
    writeFileBytes(d / "train.bin", hundred.files[0]);
    writeFileBytes(d / "test.bin", hundred.files[0]);
    const DatasetPair p = loadDataset(src);
    EXPECT_EQ(p.train.name, "cifar100");
    EXPECT_EQ(p.source, "CIFAR-100 from " + d.string());

    // A dataset that is there but broken is an error, not a fallback to the next one.
    writeFileBytes(d / "test.bin", Bytes(10, 0));
    expectInputError([&] { loadDataset(src); }, {"test.bin"});
    src.kind = DatasetKind::Cifar10;
    EXPECT_EQ(loadDataset(src).train.name, "cifar10");
    src.kind = DatasetKind::Mnist;
    EXPECT_EQ(loadDataset(src).train.count(), 3);
}

// Issue 12: the OS's reason, not "no dataset found" or "file not found".
TEST(LoadDataset, UnusableFoldersAndFilesSayWhy) {
    const TempDir dir;
    const fs::path& d = dir.path();
    DataSource src;
    src.path = d / "missing";
    expectInputError([&] { loadDataset(src); },
                     {"data folder", "missing", "No such file or directory"});
    writeFileBytes(d / "plain", Bytes(4, 0));
    src.path = d / "plain";
    expectInputError([&] { loadDataset(src); }, {"plain", "not a folder"});
    fs::create_symlink(d / "loop-b", d / "loop-a");
    fs::create_symlink(d / "loop-a", d / "loop-b");
    src.path = d / "loop-a";
    expectInputError([&] { loadDataset(src); }, {"loop-a", "Too many levels of symbolic links"});
    src.kind = DatasetKind::Cifar10;
    expectInputError([&] { loadDataset(src); }, {"loop-a", "Too many levels of symbolic links"});
    expectInputError([&] { readFileBytes(d / "loop-a"); },
                     {"loop-a", "Too many levels of symbolic links"});
}

TEST(LoadDataset, AutoNamesIdxInAFashionFolderFashionMnist) {
    const TempDir dir;
    const fs::path d = dir.path() / "Fashion";
    fs::create_directories(d);
    writeIdx(d, makeIdx(3, 2, 4), 4, false);
    DataSource src;
    src.path = d;
    EXPECT_EQ(loadDataset(src).train.name, "fashion-mnist");
}

TEST(LoadDataset, FallsBackToSystemFashionMnistThenSynthetic) {
    const TempDir dir;
    DataSource src;
    src.useEnvironment = false;
    src.systemFashionMnistDir = dir.path();
    src.synthetic = SyntheticSpec{1, 8, 8, 3, 30, 9, 7};
    const DatasetPair s = loadDataset(src);
    EXPECT_EQ(s.train.name, "synthetic");
    EXPECT_EQ(s.train.count(), 30);
    EXPECT_NE(s.source.find("synthetic (1x8x8, 3 classes, seed 7)"), std::string::npos) << s.source;
    EXPECT_NE(s.source.find(dir.path().string()), std::string::npos) << s.source;

    writeIdx(dir.path(), makeIdx(5, 2, 4), 4, true);
    const DatasetPair f = loadDataset(src);
    EXPECT_EQ(f.train.name, "fashion-mnist");
    EXPECT_EQ(f.source, "Fashion-MNIST from " + dir.path().string());

    src.kind = DatasetKind::Cifar10;
    expectInputError([&] { loadDataset(src); }, {"CIFAR-10", "needs a data folder"});
    src.kind = DatasetKind::FashionMnist;
    EXPECT_EQ(loadDataset(src).train.count(), 5);
}

// Debian's dataset-fashion-mnist, when installed: the real files, in full.
TEST(FashionMnist, SystemCopyLoadsWithPublishedStatistics) {
    const fs::path dir{kSystemFashionMnistDir};
    if (!findIdx(dir)) {
        GTEST_SKIP() << "no Fashion-MNIST in " << dir;
    }
    DataSource src;
    src.kind = DatasetKind::FashionMnist;
    src.useEnvironment = false;
    const DatasetPair p = loadDataset(src);
    EXPECT_EQ(p.train.count(), 60000);
    EXPECT_EQ(p.test.count(), 10000);
    EXPECT_EQ(p.train.height, 28);
    EXPECT_EQ(p.train.width, 28);
    EXPECT_EQ(p.train.channels, 1);
    EXPECT_EQ(p.train.classes, 10);
    std::vector<int> perClass(10, 0);
    for (std::int32_t l : p.test.labels) {
        ++perClass[static_cast<std::size_t>(l)];
    }
    EXPECT_EQ(perClass, std::vector<int>(10, 1000));
    const Normalization computed = computeNormalization(p.train);
    const Normalization published = standardNormalization(p.train);
    EXPECT_NEAR(computed.mean[0], published.mean[0], 1e-3);
    EXPECT_NEAR(computed.stddev[0], published.stddev[0], 1e-3);
}

}  // namespace
}  // namespace lp::core::data
