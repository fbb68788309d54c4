// libFuzzer target: the CIFAR-10/100 record reader (data::appendCifarRecords). The first byte
// picks the format (bit 0: CIFAR-100); the rest is the file. InputError is the expected answer to a
// bad file, which must leave the dataset unchanged; an accepted one must make a valid Dataset.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/cifar.hpp"
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    using namespace lp::core::data;
    const bool cifar100 = (data[0] & 1) != 0;
    Dataset d;
    d.name = cifar100 ? "cifar100" : "cifar10";
    d.channels = 3;
    d.height = 32;
    d.width = 32;
    d.classes = cifar100 ? 100 : 10;
    for (std::int64_t c = 0; c < d.classes; ++c) {
        d.classNames.push_back(std::to_string(c));
    }
    try {
        appendCifarRecords(std::span(data + 1, size - 1),
                           cifar100 ? kCifar100RecordBytes : kCifar10RecordBytes,
                           "<fuzz>",
                           d);
        d.validate();  // ContractError (a finding) unless sizes and labels are consistent
    } catch (const lp::core::InputError&) {
        if (!d.pixels.empty() || !d.labels.empty() || !d.coarseLabels.empty()) {
            std::abort();  // a bad file left partial data behind
        }
    }
    return 0;
}
