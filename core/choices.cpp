// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/choices.hpp"

#include <iomanip>
#include <sstream>

namespace lp::core {

namespace {

// Each table lists its enum's values in order, so that rows out of order or a missing row (but
// the last) fail to compile.
template <ChoiceEnum E>
constexpr bool tableInEnumOrder() {
    std::size_t i = 0;
    for (const Choice<E>& c : choices<E>()) {
        if (static_cast<std::size_t>(c.value) != i++) {
            return false;
        }
    }
    return true;
}

static_assert(tableInEnumOrder<WeightPolicy>() && tableInEnumOrder<EmaBetaMode>() &&
              tableInEnumOrder<ScheduleKind>() && tableInEnumOrder<DelayScheduleKind>() &&
              tableInEnumOrder<OptimizerKind>() && tableInEnumOrder<LrScheduleKind>() &&
              tableInEnumOrder<DatasetKind>() && tableInEnumOrder<Arch>() &&
              tableInEnumOrder<Stem>() && tableInEnumOrder<Norm>());

std::string listText(std::span<const std::int64_t> values) {
    std::string s = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        s += (i == 0 ? "" : ", ") + std::to_string(values[i]);
    }
    return s + "]";
}

// An integral bound as text. An unbounded integer's range is [-2^63, 2^63): 2^63 is no int64
// value, so it is printed from the double rather than cast (the cast is undefined; the config
// fuzzer found it through `--set pipeline.delays=[1e40]`).
std::string integralText(double v) {
    if (v >= -kTwoPow63 && v < kTwoPow63) {
        return std::to_string(static_cast<std::int64_t>(v));
    }
    std::ostringstream os;
    os << std::fixed << std::setprecision(0) << v;
    return os.str();
}

}  // namespace

std::string Interval::text(bool integral) const {
    std::ostringstream os;
    os << (zeroToo ? "0 or in " : "in ") << open;
    if (integral) {
        os << integralText(lo) << ", " << integralText(hi);
    } else {
        os << lo << ", " << hi;
    }
    os << close;
    return os.str();
}

std::string delaysProblem(std::span<const std::int64_t> delays,
                          std::int64_t stages,
                          std::string_view key) {
    const std::string k(key);
    if (stages >= 0 && static_cast<std::int64_t>(delays.size()) != stages) {
        return "'" + k + "' must have one entry per stage (" + std::to_string(stages) +
               " stages), got " + std::to_string(delays.size()) + " entries " + listText(delays);
    }
    for (std::size_t s = 0; s < delays.size(); ++s) {
        if (delays[s] < 0 || delays[s] > kMaxDelay) {
            return "'" + k + "[" + std::to_string(s) + "]' must be in [0, " +
                   std::to_string(kMaxDelay) + "], got " + std::to_string(delays[s]);
        }
    }
    for (std::size_t s = 1; s < delays.size(); ++s) {
        if (delays[s] > delays[s - 1]) {
            // A stage whose delay exceeds its predecessor's would need gradients from
            // minibatches the earlier stage has not released yet.
            return "'" + k +
                   "' must be non-increasing from input to output (a stage waiting longer than "
                   "the stage before it deadlocks the pipeline: stage " +
                   std::to_string(s - 1) + " has " + std::to_string(delays[s - 1]) + ", stage " +
                   std::to_string(s) + " has " + std::to_string(delays[s]) + "), got " +
                   listText(delays);
        }
    }
    return {};
}

}  // namespace lp::core
