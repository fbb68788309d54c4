// libFuzzer target: gzip decompression of dataset files (data::gunzip) on arbitrary bytes.
// InputError is the expected answer to data that is not gzip, corrupt or truncated.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/file_bytes.hpp"
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        static_cast<void>(lp::core::data::gunzip(std::span(data, size), "<fuzz>.gz"));
    } catch (const lp::core::InputError&) {
        // Bad input, reported as it should be.
    }
    return 0;
}
