// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/safetensors.hpp"

#include "core/error.hpp"
#include "core/io/atomic_file.hpp"

#include "tests/support/expect_input_error.hpp"
#include "tests/support/temp_dir.hpp"
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace lp::core::io {
namespace {

namespace fs = std::filesystem;
using lp::testing::TempDir;

std::string readAll(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes(fs::file_size(path), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return bytes;
}

void writeRaw(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// A file with the given header text (length prefix computed) followed by `data`.
std::string fileWith(const std::string& header, const std::string& data) {
    std::string bytes(8, '\0');
    const std::uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, 8);
    return bytes + header + data;
}

std::string floatBytes(std::initializer_list<float> values) {
    std::string s;
    for (float v : values) {
        s.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    return s;
}

using lp::test::expectInputError;

SafetensorsFile sampleFile() {
    SafetensorsFile file;
    file.tensors = {
        {.name = "fc.weight",
         .shape = {2, 3},
         .dtype = DType::F32,
         .values = {1.5F, -2.0F, 0.0F, 3.25F, 1e-30F, -7.0F}},
        {.name = "bn1.num_batches_tracked", .shape = {}, .dtype = DType::I64, .values = {12345.0F}},
        {.name = "bn1.running_var", .shape = {3}, .dtype = DType::F32, .values = {1, 2, 3}},
        {.name = "scale", .shape = {}, .dtype = DType::F32, .values = {0.5F}},
        {.name = "empty", .shape = {0, 4}, .dtype = DType::F32, .values = {}},
    };
    file.metadata = {{"format", "pt"}, {"note", "quote \" and ünïcode"}};
    return file;
}

TEST(Safetensors, RoundTripKeepsShapesValuesDtypesAndMetadata) {
    TempDir dir;
    const SafetensorsFile written = sampleFile();
    writeSafetensors(dir / "model.safetensors", written);
    const SafetensorsFile read = readSafetensors(dir / "model.safetensors");

    ASSERT_EQ(read.tensors.size(), written.tensors.size());
    for (const NamedTensor& w : written.tensors) {
        const NamedTensor* r = read.find(w.name);
        ASSERT_NE(r, nullptr) << w.name;
        EXPECT_EQ(r->shape, w.shape) << w.name;
        EXPECT_EQ(r->dtype, w.dtype) << w.name;
        EXPECT_EQ(r->values, w.values) << w.name;
    }
    EXPECT_EQ(read.metadata, written.metadata);
    EXPECT_EQ(read.find("missing"), nullptr);
    // Data order: I64 first (larger alignment), then F32 by name.
    EXPECT_EQ(read.tensors[0].name, "bn1.num_batches_tracked");
    EXPECT_EQ(read.tensors[1].name, "bn1.running_var");
    EXPECT_EQ(read.tensors[4].name, "scale");
    EXPECT_EQ(dir.listing(), std::vector<std::string>{"model.safetensors"});
}

// The three byte strings of the reference implementation's own serialization tests
// (safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement,
// test_empty).
TEST(Safetensors, MatchesReferenceImplementationBytes) {
    const std::string data = floatBytes({0, 1, 2, 3, 4, 5});
    SafetensorsFile file;
    file.tensors = {{.name = "attn.0", .shape = {1, 2, 3}, .values = {0, 1, 2, 3, 4, 5}}};
    EXPECT_EQ(
        serializeSafetensors(file),
        fileWith(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})", data));

    file.tensors = {{.name = "attn0", .shape = {1, 1, 2, 3}, .values = {0, 1, 2, 3, 4, 5}}};
    EXPECT_EQ(serializeSafetensors(file),
              fileWith(R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})"
                       "       ",
                       data));

    SafetensorsFile empty;
    EXPECT_EQ(serializeSafetensors(empty), fileWith("{}      ", ""));
    empty.metadata = {{"framework", "pt"}};
    EXPECT_EQ(serializeSafetensors(empty),
              fileWith(R"({"__metadata__":{"framework":"pt"}})"
                       "     ",
                       ""));
}

TEST(Safetensors, HeaderIsSortedAlignedAndHandWritable) {
    SafetensorsFile file;
    file.tensors = {
        {.name = "b", .shape = {2}, .values = {3, 4}},
        {.name = "n", .shape = {}, .dtype = DType::I64, .values = {-2}},
        {.name = "a", .shape = {1}, .values = {5}},
    };
    file.metadata = {{"format", "pt"}};
    const std::string header = R"({"__metadata__":{"format":"pt"},)"
                               R"("n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})"
                               "       ";  // 193 characters + 7 spaces = 200, a multiple of 8
    const std::int64_t minusTwo = -2;
    std::string data(reinterpret_cast<const char*>(&minusTwo), 8);
    data += floatBytes({5, 3, 4});
    const std::string bytes = serializeSafetensors(file);
    EXPECT_EQ(bytes, fileWith(header, data));
    EXPECT_EQ(bytes.size(), 8U + 200U + 20U);
}

TEST(Safetensors, ConvertsF64F16AndBf16ToFloat) {
    TempDir dir;
    const double f64[2] = {0.25, -1e10};
    const std::uint16_t f16[5] = {0x3C00, 0xC000, 0x0001, 0x7C00, 0x3555};
    const std::uint16_t bf16[2] = {0x3F80, 0xC0A0};
    std::string data(reinterpret_cast<const char*>(f64), sizeof f64);
    data.append(reinterpret_cast<const char*>(f16), sizeof f16);
    data.append(reinterpret_cast<const char*>(bf16), sizeof bf16);
    writeRaw(dir / "m.safetensors",
             fileWith(R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
                      R"("h":{"dtype":"F16","shape":[5],"data_offsets":[16,26]},)"
                      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[26,30]}})",
                      data));
    const SafetensorsFile read = readSafetensors(dir / "m.safetensors");
    ASSERT_EQ(read.tensors.size(), 3U);
    EXPECT_EQ(read.find("d")->values, (std::vector<float>{0.25F, -1e10F}));
    EXPECT_EQ(read.find("d")->dtype, DType::F32);
    const std::vector<float>& h = read.find("h")->values;
    EXPECT_EQ(h[0], 1.0F);
    EXPECT_EQ(h[1], -2.0F);
    EXPECT_EQ(h[2], 5.9604644775390625e-8F);  // smallest subnormal half, 2^-24
    EXPECT_TRUE(std::isinf(h[3]));
    EXPECT_EQ(h[4], 0.333251953125F);
    EXPECT_EQ(read.find("b")->values, (std::vector<float>{1.0F, -5.0F}));
}

// Issue 12: a FIFO given as a checkpoint once blocked the CLI forever in open().
TEST(Safetensors, FifosAndDevicesAreRefusedWithoutBlocking) {
    TempDir dir;
    const fs::path fifo = dir / "pipe.safetensors";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expectInputError([&] { readSafetensors(fifo); },
                     {"'" + fifo.string() + "'", "not a regular file"});
    expectInputError([] { readSafetensors("/dev/zero"); }, {"'/dev/zero'", "not a regular file"});
    expectInputError([&] { readSafetensors(dir / "."); }, {"Is a directory"});
}

TEST(Safetensors, CorruptFilesGiveInputErrorsNamingFileAndTensor) {
    TempDir dir;
    const fs::path path = dir / "bad.safetensors";
    const std::string name = path.string();
    const std::string eight = floatBytes({1, 2});
    const auto expectRejected = [&](const std::string& bytes, const std::string& what) {
        writeRaw(path, bytes);
        expectInputError([&] { readSafetensors(path); }, {"'" + name + "'", what});
    };
    const auto entry = [](const std::string& dtype, const std::string& shape, int begin, int end) {
        return concat(R"({"dtype":")",
                      dtype,
                      R"(","shape":)",
                      shape,
                      R"(,"data_offsets":[)",
                      begin,
                      ",",
                      end,
                      "]}");
    };
    const std::string valid = fileWith("{\"w\":" + entry("F32", "[2]", 0, 8) + "}", eight);
    writeRaw(path, valid);
    ASSERT_EQ(readSafetensors(path).find("w")->values, (std::vector<float>{1, 2}));

    expectRejected("abcde", "5 bytes, expected at least 8");
    expectRejected(valid.substr(0, 20), "header length 54 exceeds the 12 bytes");
    expectRejected(fileWith("{\"w\":[1,2,}", ""), "not valid JSON");
    expectRejected(fileWith("[1, 2]", ""), "must be a JSON object, got array");
    expectRejected(fileWith("{\"w\":" + entry("F32", "[2]", 0, 12) + "}", eight),
                   "tensor 'w': data_offsets [0, 12] are outside the data section [0, 8]");
    expectRejected(fileWith("{\"w\":" + entry("F32", "[3]", 0, 8) + "}", eight),
                   "tensor 'w': shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] hold 8");
    expectRejected(fileWith("{\"w\":" + entry("F17", "[2]", 0, 8) + "}", eight),
                   "tensor 'w': unknown dtype \"F17\" (supported: F32, I64");
    expectRejected(fileWith("{\"w\":" + entry("I32", "[2]", 0, 8) + "}", eight),
                   "tensor 'w': dtype I32 is not supported");
    expectRejected(fileWith("{\"w\":" + entry("F32", "[-2]", 0, 8) + "}", eight),
                   "tensor 'w': shape[0] must be a non-negative integer, got -2");
    expectRejected(fileWith(R"({"w":{"dtype":"F32","shape":[2]}})", eight),
                   "tensor 'w': missing \"data_offsets\"");
    expectRejected(fileWith("{\"a\":" + entry("F32", "[2]", 0, 8) +
                                ",\"b\":" + entry("F32", "[1]", 4, 8) + "}",
                            eight),
                   "tensor 'b' data_offsets [4, 8] overlap tensor 'a' [0, 8]");
    expectRejected(fileWith("{\"a\":" + entry("F32", "[1]", 4, 8) + "}", eight),
                   "tensor 'a' data_offsets start at 4, expected 0");
    expectRejected(fileWith("{\"a\":" + entry("F32", "[1]", 0, 4) + "}", eight),
                   "the tensors cover 4 bytes of the 8-byte data section");
    expectRejected(fileWith(R"({"__metadata__":{"k":1}})", ""),
                   "__metadata__ entry 'k' must be a string, got number");

    const fs::path missing = dir / "missing.safetensors";
    expectInputError([&] { readSafetensors(missing); },
                     {missing.string(), "No such file or directory"});
    expectInputError([&] { readSafetensors(dir.path()); }, {"Is a directory"});
}

// Issue 12, found by fuzzing (tests/fuzz/fuzz_safetensors.cpp): a header number beyond double's
// range escaped as nlohmann's out_of_range, and a header value nested a million levels deep
// overflowed the stack while the error message dumped it. Both are InputErrors with short
// messages now.
TEST(Safetensors, HugeNumbersAndDeepNestingInTheHeaderAreInputErrors) {
    const auto parse = [](const std::string& header) {
        return [header] {
            parseSafetensors(fileWith(header, ""), "<memory>");
        };
    };
    expectInputError(parse(R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,0]}})"),
                     {"'<memory>'", "header is not valid JSON", "1e400", "double's range"});

    const std::size_t depth = 1'000'000;
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    std::string message = expectInputError(
        parse(R"({"w":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,0]}})"),
        {"tensor 'w': shape[0] must be a non-negative integer, got an array of 1 entry"});
    EXPECT_LT(message.size(), 200U);
    message = expectInputError(
        parse(R"({"w":{"dtype":)" + deep + R"(,"shape":[],"data_offsets":[0,4]}})"),
        {"tensor 'w': dtype must be a string, got an array of 1 entry"});
    EXPECT_LT(message.size(), 200U);
    message = expectInputError(parse(R"({"w":{"dtype":")" + std::string(depth, 'x') +
                                     R"(","shape":[],"data_offsets":[0,4]}})"),
                               {"tensor 'w': unknown dtype a string of 1000000 bytes"});
    EXPECT_LT(message.size(), 200U);
}

// Issue 12, found by fuzz_safetensors' round trip (write back what was read): an I64 value from
// 2^63 - 2^38 up loaded as the float 2^63, which the writer refused with a ContractError, and so
// did INT64_MIN's -2^63 although int64 holds it. The reader now refuses the first with an
// InputError; the writer accepts the second.
TEST(Safetensors, I64ExtremesLoadOnlyWhenTheyCanBeWrittenBack) {
    const auto file = [](std::int64_t v) {
        std::string data(8, '\0');
        std::memcpy(data.data(), &v, 8);
        return fileWith(R"({"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", data);
    };
    const auto roundTrip = [](const SafetensorsFile& f) {
        return parseSafetensors(serializeSafetensors(f), "<memory>").tensors.at(0).values;
    };
    const SafetensorsFile low =
        parseSafetensors(file(std::numeric_limits<std::int64_t>::min()), "<memory>");
    EXPECT_EQ(low.tensors.at(0).values, (std::vector<float>{-9.2233720368547758e18F}));
    EXPECT_EQ(roundTrip(low), low.tensors.at(0).values);

    const std::int64_t highest = 9223371761976868863;  // 2^63 - 2^38 - 1, rounds to 2^63 - 2^39
    const SafetensorsFile high = parseSafetensors(file(highest), "<memory>");
    EXPECT_EQ(high.tensors.at(0).values, (std::vector<float>{9.2233714870989619e18F}));
    EXPECT_EQ(roundTrip(high), high.tensors.at(0).values);
    expectInputError([&] { parseSafetensors(file(highest + 1), "<memory>"); },
                     {"'<memory>'",
                      "tensor 'n' element 0 is 9223371761976868864, which rounds to 2^63",
                      "must be below 2^63 - 2^38"});
    expectInputError(
        [&] { parseSafetensors(file(std::numeric_limits<std::int64_t>::max()), "<memory>"); },
        {"tensor 'n' element 0 is 9223372036854775807"});
}

TEST(Safetensors, ContractViolationsWriteNothing) {
    TempDir dir;
    SafetensorsFile file;
    file.tensors = {{.name = "w", .shape = {2, 2}, .values = {1, 2, 3}}};
    EXPECT_THROW(writeSafetensors(dir / "a.safetensors", file), ContractError);
    file.tensors = {{.name = "w", .shape = {1}, .values = {1}},
                    {.name = "w", .shape = {1}, .values = {2}}};
    EXPECT_THROW(writeSafetensors(dir / "a.safetensors", file), ContractError);
    file.tensors = {{.name = "n", .shape = {}, .dtype = DType::I64, .values = {0.5F}}};
    EXPECT_THROW(writeSafetensors(dir / "a.safetensors", file), ContractError);
    EXPECT_TRUE(dir.listing().empty());
}

// ---- AtomicFileWriter ----

TEST(AtomicFile, ReplacesTargetAndLeavesNoTemporaryFile) {
    TempDir dir;
    const fs::path target = dir / "out.txt";
    writeFileAtomically(target, "first");
    ::chmod(target.c_str(), 0640);
    writeFileAtomically(target, "second, longer");
    EXPECT_EQ(readAll(target), "second, longer");
    EXPECT_EQ(dir.listing(), std::vector<std::string>{"out.txt"});
    EXPECT_EQ(fs::status(target).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

    {
        AtomicFileWriter writer(target);
        writer.write("stream");
        writer.write("ed");
        EXPECT_EQ(writer.tempPath().parent_path(), dir.path());
        EXPECT_TRUE(fs::exists(writer.tempPath()));
        EXPECT_EQ(readAll(target), "second, longer");  // nothing visible before commit
        writer.commit();
    }
    EXPECT_EQ(readAll(target), "streamed");
    EXPECT_EQ(dir.listing(), std::vector<std::string>{"out.txt"});
}

TEST(AtomicFile, AbandonedWriteKeepsTheOldFile) {
    TempDir dir;
    const fs::path target = dir / "ckpt.safetensors";
    writeFileAtomically(target, "old");
    try {
        AtomicFileWriter writer(target);
        writer.write("half of a new checkpoint");
        throw std::runtime_error("producer failed");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(readAll(target), "old");
    EXPECT_EQ(dir.listing(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST(AtomicFile, FailuresNameThePathAndKeepTheTarget) {
    TempDir dir;
    const fs::path missingDir = dir / "no/such/dir/out.json";
    expectInputError([&] { writeFileAtomically(missingDir, "x"); },
                     {"'" + missingDir.string() + "'", "No such file or directory"});

    // A non-empty directory where the file should go: the rename fails, the directory stays.
    const fs::path target = dir / "taken";
    fs::create_directory(target);
    writeRaw(target / "inside.txt", "keep me");
    expectInputError([&] { writeFileAtomically(target, "x"); },
                     {"'" + target.string() + "'", "renaming"});
    EXPECT_EQ(readAll(target / "inside.txt"), "keep me");
    EXPECT_EQ(dir.listing(), std::vector<std::string>{"taken"});
}

TEST(AtomicFile, ReadOnlyDirectoryKeepsTheTarget) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root ignores directory permissions";
    }
    TempDir dir;
    const fs::path target = dir / "metrics.csv";
    writeFileAtomically(target, "old");
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
    expectInputError([&] { writeFileAtomically(target, "new"); },
                     {"'" + target.string() + "'", "Permission denied"});
    fs::permissions(dir.path(), fs::perms::owner_all);
    EXPECT_EQ(readAll(target), "old");
    EXPECT_EQ(dir.listing(), std::vector<std::string>{"metrics.csv"});
}

}  // namespace
}  // namespace lp::core::io
