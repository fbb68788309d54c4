// libFuzzer target: the safetensors reader (io::parseSafetensors) on arbitrary bytes. InputError is
// the expected answer to a bad file; whatever it accepts must also write back and read back the
// same (the writer's contract holds for everything the reader returns).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/io/safetensors.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using lp::core::io::NamedTensor;
using lp::core::io::SafetensorsFile;

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) {
            return false;
        }
    }
    return true;
}

// Everything the reader returns must round-trip through the writer unchanged, sorted by name.
void checkRoundTrip(const SafetensorsFile& file) {
    const SafetensorsFile again =
        lp::core::io::parseSafetensors(lp::core::io::serializeSafetensors(file), "<round trip>");
    if (again.tensors.size() != file.tensors.size() || again.metadata != file.metadata) {
        std::abort();
    }
    for (const NamedTensor& t : file.tensors) {
        const NamedTensor* u = again.find(t.name);
        if (u == nullptr || u->shape != t.shape || u->dtype != t.dtype ||
            !sameBits(u->values, t.values)) {
            std::abort();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // char and uint8_t may alias.
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    SafetensorsFile file;
    try {
        file = lp::core::io::parseSafetensors(bytes, "<fuzz>");
    } catch (const lp::core::InputError&) {
        return 0;  // bad input, reported as it should be
    }
    checkRoundTrip(file);  // any exception here is a finding
    return 0;
}
