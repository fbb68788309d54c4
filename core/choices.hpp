// The experiment vocabulary (issue 16): every choice an experiment makes — weight policy, EMA-β
// mode, schedule, delay schedule, optimizer, LR schedule, dataset, architecture, stem, norm — as
// an enum with ONE name table. The tables are the only place a choice's spelling lives: JSON
// documents and `--set` overrides (core/io/config), the CLI, the studio's combo boxes and labels,
// and every "must be one of ..." message read them. The modules name these enums under their own
// namespaces (pipeline::WeightPolicy, optim::OptimizerKind, ...) as aliases.
//
// Also here, because every layer (io, pipeline, session, ui) checks them and must agree: the
// interval type the modules state their ranges with, and the one rule for a delay vector.
// Ground floor: std headers only; constexpr tables, pure functions, safe from any thread.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lp::core {

enum class WeightPolicy { Latest, Stash, Ema, Momentum };  // DESIGN.md section 4
enum class EmaBetaMode {
    Window,  // β = (D−1)/(D+1): the EMA's window matches the delay (default)
    Plain,   // β = D/(D+1)
    Fixed,   // a user-chosen β
};
enum class ScheduleKind { LayerPipe, GPipe };
enum class DelayScheduleKind {
    Static,    // every epoch uses the base delays
    Epochs,    // epoch e uses scale c_e from a list; epochs past its end keep the last
    Adaptive,  // epoch 0 uses scale 1; each next scale comes from the update-size rule
};
enum class OptimizerKind { Sgd, Adam, AdamW, Lamb };
enum class LrScheduleKind { Constant, Step, Cosine };
enum class DatasetKind { Auto, Cifar100, Cifar10, FashionMnist, Mnist, Synthetic };
enum class Arch { ResNet10, ResNet18, ResNet34 };
enum class Stem {
    Cifar,     // 3x3 conv, stride 1, no max-pool
    ImageNet,  // 7x7 conv, stride 2, padding 3, then 3x3/2 max-pool
};
enum class Norm { Batch, None };

// One row of a name table: `name` is the spelling in JSON, on the command line and in run
// records; `label` is what the studio shows (empty: the studio shows no such choice; use
// choiceLabel, which falls back to the name).
template <typename E>
struct Choice {
    E value;
    std::string_view name;
    std::string_view label;
};

// ChoiceTable<E>::kItems lists every value of E in enumerator order (checked in choices.cpp).
template <typename E>
struct ChoiceTable;

template <>
struct ChoiceTable<WeightPolicy> {
    static constexpr std::array<Choice<WeightPolicy>, 4> kItems{{
        {WeightPolicy::Latest, "latest", "latest weights (no stash)"},
        {WeightPolicy::Stash, "stash", "stash (exact, PipeDream)"},
        {WeightPolicy::Ema, "ema", "EMA reconstruction (LayerPipe2)"},
        {WeightPolicy::Momentum, "momentum", "momentum reconstruction (no extra memory)"},
    }};
};

template <>
struct ChoiceTable<EmaBetaMode> {
    static constexpr std::array<Choice<EmaBetaMode>, 3> kItems{{
        {EmaBetaMode::Window, "window", "β window (D−1)/(D+1)"},
        {EmaBetaMode::Plain, "plain", "β plain D/(D+1)"},
        {EmaBetaMode::Fixed, "fixed", "β fixed"},
    }};
};

template <>
struct ChoiceTable<ScheduleKind> {
    static constexpr std::array<Choice<ScheduleKind>, 2> kItems{{
        {ScheduleKind::LayerPipe, "layerpipe", "LayerPipe (delayed gradients)"},
        {ScheduleKind::GPipe, "gpipe", "GPipe (micro-batches, flush)"},
    }};
};

template <>
struct ChoiceTable<DelayScheduleKind> {
    static constexpr std::array<Choice<DelayScheduleKind>, 3> kItems{{
        {DelayScheduleKind::Static, "static", "same every epoch"},
        {DelayScheduleKind::Epochs, "epochs", "scaled per epoch"},
        {DelayScheduleKind::Adaptive, "adaptive", "adaptive"},
    }};
};

template <>
struct ChoiceTable<OptimizerKind> {
    static constexpr std::array<Choice<OptimizerKind>, 4> kItems{{
        {OptimizerKind::Sgd, "sgd", "SGD"},
        {OptimizerKind::Adam, "adam", "Adam"},
        {OptimizerKind::AdamW, "adamw", "AdamW"},
        {OptimizerKind::Lamb, "lamb", "LAMB"},
    }};
};

template <>
struct ChoiceTable<LrScheduleKind> {
    static constexpr std::array<Choice<LrScheduleKind>, 3> kItems{{
        {LrScheduleKind::Constant, "constant", ""},
        {LrScheduleKind::Step, "step", ""},
        {LrScheduleKind::Cosine, "cosine", ""},
    }};
};

// Labels double as the datasets' names in messages ("CIFAR-100 needs a data folder").
template <>
struct ChoiceTable<DatasetKind> {
    static constexpr std::array<Choice<DatasetKind>, 6> kItems{{
        {DatasetKind::Auto, "auto", "auto (best available)"},
        {DatasetKind::Cifar100, "cifar100", "CIFAR-100"},
        {DatasetKind::Cifar10, "cifar10", "CIFAR-10"},
        {DatasetKind::FashionMnist, "fashion-mnist", "Fashion-MNIST"},
        {DatasetKind::Mnist, "mnist", "MNIST"},
        {DatasetKind::Synthetic, "synthetic", "synthetic"},
    }};
};

template <>
struct ChoiceTable<Arch> {
    static constexpr std::array<Choice<Arch>, 3> kItems{{
        {Arch::ResNet10, "resnet10", "ResNet-10 (6 units)"},
        {Arch::ResNet18, "resnet18", "ResNet-18 (10 units)"},
        {Arch::ResNet34, "resnet34", "ResNet-34 (18 units)"},
    }};
};

template <>
struct ChoiceTable<Stem> {
    static constexpr std::array<Choice<Stem>, 2> kItems{{
        {Stem::Cifar, "cifar", ""},
        {Stem::ImageNet, "imagenet", ""},
    }};
};

template <>
struct ChoiceTable<Norm> {
    static constexpr std::array<Choice<Norm>, 2> kItems{{
        {Norm::Batch, "batch", ""},
        {Norm::None, "none", ""},
    }};
};

template <typename E>
concept ChoiceEnum = requires {
    ChoiceTable<E>::kItems;
};

// Every row of E's table, in enumerator order.
template <ChoiceEnum E>
constexpr std::span<const Choice<E>> choices() {
    return ChoiceTable<E>::kItems;
}

// The values of E, in enumerator order.
template <ChoiceEnum E>
constexpr auto choiceValues() {
    std::array<E, ChoiceTable<E>::kItems.size()> out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = ChoiceTable<E>::kItems[i].value;
    }
    return out;
}

// The row of v; nullptr for a value outside the enum (a cast integer).
template <ChoiceEnum E>
constexpr const Choice<E>* findChoice(E v) {
    for (const Choice<E>& c : choices<E>()) {
        if (c.value == v) {
            return &c;
        }
    }
    return nullptr;
}

// v's name ("ema"); "?" for a value outside the enum.
template <ChoiceEnum E>
constexpr std::string_view choiceName(E v) {
    const Choice<E>* c = findChoice(v);
    return c == nullptr ? std::string_view("?") : c->name;
}

// v's label for the studio ("EMA reconstruction (LayerPipe2)"), its name when it has none.
template <ChoiceEnum E>
constexpr std::string_view choiceLabel(E v) {
    const Choice<E>* c = findChoice(v);
    return c == nullptr ? std::string_view("?") : (c->label.empty() ? c->name : c->label);
}

// The value named `name` (exact, lower case as in the table); nullopt for any other text.
template <ChoiceEnum E>
constexpr std::optional<E> parseChoice(std::string_view name) {
    for (const Choice<E>& c : choices<E>()) {
        if (c.name == name) {
            return c.value;
        }
    }
    return std::nullopt;
}

// The names joined for messages: allowedChoices<WeightPolicy>() = "latest | stash | ema |
// momentum"; with sep ", " as the config's errors list them.
template <ChoiceEnum E>
std::string allowedChoices(std::string_view sep = " | ") {
    std::string out;
    for (const Choice<E>& c : choices<E>()) {
        out.append(out.empty() ? "" : sep).append(c.name);
    }
    return out;
}

// names[v] for an enum whose enumerators are 0, 1, ... in the table's order: the output names of
// enums that are not experiment choices (run states, op kinds); "?" for a value outside the table
// (a cast integer).
template <typename T, std::size_t N, typename E>
constexpr T indexedName(const std::array<T, N>& names, E v) {
    const auto i = static_cast<std::size_t>(v);
    return i < N ? names[i] : T{"?"};
}

// ---- ranges ----

// 2^63 as a double: [-2^63, 2^63) is the range of int64, the range an integer field without one
// of its own is held to.
inline constexpr double kTwoPow63 = 9223372036854775808.0;

// An interval with open or closed ends, e.g. {'(', 0, 10, ']'} = (0, 10]; zeroToo admits 0
// besides it (the config's "0 = from the dataset" fields). Modules state their ranges as
// constants of this type; the config's field table uses the same constants, so a value is
// rejected by both layers or by neither (issue 16).
struct Interval {
    char open = '[';
    double lo = 0;
    double hi = 0;
    char close = ']';
    bool zeroToo = false;

    // False for NaN.
    constexpr bool contains(double v) const {
        if (zeroToo && v == 0) {
            return true;
        }
        const bool aboveLo = open == '(' ? v > lo : v >= lo;
        const bool belowHi = close == ')' ? v < hi : v <= hi;
        return aboveLo && belowHi;
    }

    // "in (0, 10]", "0 or in [2, 100000]"; integral prints the bounds as integers.
    std::string text(bool integral = false) const;
};

// ---- the delay vector (DESIGN.md section 4) ----

inline constexpr std::int64_t kMaxDelay = 256;  // each D_s lies in [0, kMaxDelay]

// THE check of a delay vector; every layer that accepts one (the config, DelayPlan, the
// pipeline editor's forecast) calls it. Legal iff every D_s is in [0, 256] and D is
// non-increasing from input to output (anything else deadlocks), and, when stages >= 0, it has
// exactly `stages` entries. Returns "" when legal, else a message naming `key` (e.g.
// "'pipeline.delays' must be non-increasing from input to output (...), got [2, 4, 0]").
std::string delaysProblem(std::span<const std::int64_t> delays,
                          std::int64_t stages,
                          std::string_view key = "delays");

}  // namespace lp::core
