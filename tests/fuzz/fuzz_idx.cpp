// libFuzzer target: the IDX reader of MNIST-style files (data::parseIdx), raw or gzipped as
// readIdx reads them. The first byte picks the rank (bits 0-1: 1..4) and gzip (bit 2); the rest is
// the file. InputError is the expected answer to a bad file; an accepted one must hold exactly
// the data its dimensions promise.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/file_bytes.hpp"
#include "core/data/idx.hpp"
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const int rank = 1 + (data[0] & 3);
    const bool gzipped = (data[0] & 4) != 0;
    const std::span<const std::uint8_t> file(data + 1, size - 1);
    try {
        std::vector<std::uint8_t> unpacked;
        if (gzipped) {
            unpacked = lp::core::data::gunzip(file, "<fuzz>.gz");
        }
        const lp::core::data::IdxArray a =
            lp::core::data::parseIdx(gzipped ? std::span<const std::uint8_t>(unpacked) : file,
                                     rank,
                                     gzipped ? "<fuzz>.gz" : "<fuzz>");
        std::size_t count = 1;
        for (const std::int64_t d : a.dims) {
            count *= static_cast<std::size_t>(d);
        }
        if (a.dims.size() != static_cast<std::size_t>(rank) || count != a.data.size()) {
            std::abort();
        }
    } catch (const lp::core::InputError&) {
        // Bad input, reported as it should be.
    }
    return 0;
}
