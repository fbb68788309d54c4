// Reading a checkpoint's metadata values: the one whole-number parser that the trainer's resume
// (epoch, step, …) and the delay schedule's state (tick, per-stage EMA counts) share.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace lp::core::session {

// `text` as a whole decimal number in [lo, hi] ("1abc", "-3" or 1e30 never become a position);
// otherwise an InputError naming the checkpoint `path`, the metadata `key` and the range.
std::int64_t wholeNumber(const std::string& text,
                         const std::filesystem::path& path,
                         const std::string& key,
                         std::int64_t lo,
                         std::int64_t hi);

}  // namespace lp::core::session
