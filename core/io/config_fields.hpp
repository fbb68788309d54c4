// ExperimentConfig's field table (one row per key: section, name, accessor, range, list rule),
// the single source for config.cpp's parse, toJson, validate and applyOverride, so the four can
// never disagree about a key, its type or its range; and the per-field readers and checks over
// it. Internal to core/io. No state: safe from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lp::core::io::fields {

// Choice fields (the enums of core/choices.hpp) are read, written and checked through their
// name tables.
using FieldRef = std::variant<std::int64_t*,
                              std::uint64_t*,
                              double*,
                              bool*,
                              std::string*,
                              std::vector<std::int64_t>*,
                              std::vector<double>*,
                              Arch*,
                              Stem*,
                              Norm*,
                              DatasetKind*,
                              OptimizerKind*,
                              LrScheduleKind*,
                              WeightPolicy*,
                              EmaBetaMode*,
                              ScheduleKind*,
                              DelayScheduleKind*>;

using Range = Interval;

// Rules on a list as a whole: DelayVector is core::delaysProblem's (the one delay-vector rule).
enum class Order { Any, StrictlyIncreasing, DelayVector };

struct FieldSpec {
    std::string_view section;  // "" for the top-level keys
    std::string_view key;
    FieldRef (*get)(ExperimentConfig&);
    std::optional<Range> range = std::nullopt;  // numbers, and each element of a list
    Order order = Order::Any;
    bool nonEmpty = false;
};

// The top-level keys: the two plain fields, then the sections.
inline constexpr std::array<std::string_view, 9> kTopKeys{"name",
                                                          "description",
                                                          "model",
                                                          "data",
                                                          "optimizer",
                                                          "schedule",
                                                          "training",
                                                          "pipeline",
                                                          "eval"};

// Every row, in document order.
std::span<const FieldSpec> all();

std::string keyPath(const FieldSpec& f);  // "section.key", or "key" at the top level
std::string listText(const std::vector<std::int64_t>& values);  // "[3, 6]"
// Shortest text that reads back to the same double ("0.1", not "0.10000000000000001").
std::string numberText(double v);
bool isSection(std::string_view key);
const FieldSpec* findField(std::string_view section, std::string_view key);  // or nullptr
std::string_view firstKeyOf(std::string_view section);
// InputError "unknown key 'x.y' (allowed: ...)".
[[noreturn]] void unknownKey(std::string_view section, std::string_view key);
// InputError "'path' must be <expected>, got <got>".
[[noreturn]] void wrongType(const std::string& path,
                            std::string_view expected,
                            std::string_view got);
std::int64_t unitsOf(Arch arch);  // ResNet units: the stem, the BasicBlocks, the head

// The field's own rules on its current value in c (c is only read); InputError naming the key,
// what is allowed and what it got.
void checkField(const FieldSpec& f, ExperimentConfig& c);
// Sets the field in c from a JSON value of the right type, or throws InputError.
void readJson(const FieldSpec& f, const nlohmann::json& v, ExperimentConfig& c);
// Sets the field in c from a command-line flag's text (applyOverride), as readJson would.
void readText(const FieldSpec& f, std::string_view text, ExperimentConfig& c);

}  // namespace lp::core::io::fields
