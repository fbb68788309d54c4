// libFuzzer target: the experiment config as the CLI reads it: a JSON document
// (io::parseConfigText), then `--set key=value` overrides (io::applyOverride), then io::validate.
// Input: the document, then lines "--set key=value" (the first "\n--set " ends the document; an
// empty document means the defaults). InputError is the expected answer to bad input; a rejected
// override must leave the config unchanged, and an accepted config must survive
// toJson -> dump -> parse unchanged.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/error.hpp"
#include "core/io/config.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using lp::core::InputError;
using lp::core::io::ExperimentConfig;

constexpr std::string_view kSet = "\n--set ";

// Applies every "key=value" override after the document; each rejected one must change nothing.
void applyOverrides(ExperimentConfig& config, std::string_view rest) {
    while (rest.starts_with(kSet)) {
        rest.remove_prefix(kSet.size());
        const std::size_t end = std::min(rest.find('\n'), rest.size());
        const std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end);
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        const ExperimentConfig before = config;
        try {
            lp::core::io::applyOverride(config, line.substr(0, eq), line.substr(eq + 1));
        } catch (const InputError&) {
            if (!(config == before)) {
                std::abort();  // "leaves config unchanged on error" broken
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // char and uint8_t may alias.
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t split = std::min(input.find(kSet), input.size());
    const std::string_view document = input.substr(0, split);
    ExperimentConfig config;
    try {
        if (!document.empty()) {
            config = lp::core::io::parseConfigText(document);
        }
        applyOverrides(config, input.substr(split));
        lp::core::io::validate(config);
    } catch (const InputError&) {
        return 0;  // bad input, reported as it should be
    }
    // What saveConfig writes must load back as the same config; any exception here is a finding.
    const std::string text = lp::core::io::toJson(config).dump(4);
    if (!(lp::core::io::parseConfigText(text) == config)) {
        std::abort();
    }
    return 0;
}
