// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/config_fields.hpp"

#include "core/error.hpp"
#include "core/model/resnet.hpp"
#include "core/optim/lr_schedule.hpp"
#include "core/optim/optimizer.hpp"
#include "core/pipeline/delay_schedule.hpp"
#include "core/pipeline/runner.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

namespace lp::core::io::fields {
namespace {

using E = ExperimentConfig;
using M = ModelConfig;
using D = DataConfig;
using O = OptimizerSection;
using S = ScheduleSection;
using T = TrainingConfig;
using P = PipelineConfig;
using V = EvalConfig;

template <auto Member>
FieldRef top(ExperimentConfig& c) {
    return &(c.*Member);
}

template <auto Section, auto Member>
FieldRef at(ExperimentConfig& c) {
    return &(c.*Section.*Member);
}

// A module's range that the config also admits 0 for ("0 = from the dataset").
constexpr Range orZero(Range r) {
    r.zeroToo = true;
    return r;
}

constexpr std::int64_t kMaxCut = 17;  // resnet34 has 18 units; validate() applies the arch's own

constexpr std::array<FieldSpec, 49> kFields{{
    {"", "name", top<&E::name>, {}, Order::Any, true},
    {"", "description", top<&E::description>},

    {"model", "arch", at<&E::model, &M::arch>},
    {"model", "width", at<&E::model, &M::width>, model::kWidthRange},
    {"model", "stem", at<&E::model, &M::stem>},
    {"model", "inputChannels", at<&E::model, &M::inputChannels>, orZero(model::kInChannelsRange)},
    {"model", "inputSize", at<&E::model, &M::inputSize>, orZero(model::kInSizeRange)},
    {"model", "classes", at<&E::model, &M::classes>, orZero(model::kClassesRange)},
    {"model", "norm", at<&E::model, &M::norm>},

    {"data", "dataset", at<&E::data, &D::dataset>},
    {"data", "path", at<&E::data, &D::path>},
    {"data", "augment", at<&E::data, &D::augment>},
    {"data", "trainLimit", at<&E::data, &D::trainLimit>, Range{'[', 0, 1e9, ']'}},
    {"data", "testLimit", at<&E::data, &D::testLimit>, Range{'[', 0, 1e9, ']'}},
    {"data", "syntheticTrain", at<&E::data, &D::syntheticTrain>, Range{'[', 1, 1e6, ']'}},
    {"data", "syntheticTest", at<&E::data, &D::syntheticTest>, Range{'[', 1, 1e6, ']'}},

    {"optimizer", "kind", at<&E::optimizer, &O::kind>},
    {"optimizer", "lr", at<&E::optimizer, &O::lr>, optim::kBaseLrRange},
    {"optimizer", "momentum", at<&E::optimizer, &O::momentum>, optim::kMomentumRange},
    {"optimizer", "dampening", at<&E::optimizer, &O::dampening>, optim::kDampeningRange},
    {"optimizer", "nesterov", at<&E::optimizer, &O::nesterov>},
    {"optimizer", "weightDecay", at<&E::optimizer, &O::weightDecay>, optim::kWeightDecayRange},
    {"optimizer", "beta1", at<&E::optimizer, &O::beta1>, optim::kBetaRange},
    {"optimizer", "beta2", at<&E::optimizer, &O::beta2>, optim::kBetaRange},
    {"optimizer", "eps", at<&E::optimizer, &O::eps>, optim::kEpsRange},

    {"schedule", "kind", at<&E::schedule, &S::kind>},
    {"schedule", "warmupEpochs", at<&E::schedule, &S::warmupEpochs>, Range{'[', 0, 10000, ']'}},
    {"schedule", "stepEpochs", at<&E::schedule, &S::stepEpochs>, Range{'[', 1, 10000, ']'}},
    {"schedule", "gamma", at<&E::schedule, &S::gamma>, optim::kGammaRange},
    {"schedule", "minLr", at<&E::schedule, &S::minLr>, Range{'[', 0, 10, ']'}},

    {"training", "epochs", at<&E::training, &T::epochs>, Range{'[', 1, 10000, ']'}},
    {"training", "batchSize", at<&E::training, &T::batchSize>, Range{'[', 1, 4096, ']'}},
    {"training", "seed", at<&E::training, &T::seed>},
    {"training", "threads", at<&E::training, &T::threads>, Range{'[', 0, 256, ']'}},
    {"training", "maxSteps", at<&E::training, &T::maxSteps>, Range{'[', 0, 1e9, ']'}},

    // clang-format off
    {"pipeline", "cuts", at<&E::pipeline, &P::cuts>, Range{'[', 1, kMaxCut, ']'},
     Order::StrictlyIncreasing},
    {"pipeline", "delays", at<&E::pipeline, &P::delays>, {}, Order::DelayVector},
    // clang-format on
    {"pipeline", "policy", at<&E::pipeline, &P::policy>},
    {"pipeline", "emaBeta", at<&E::pipeline, &P::emaBeta>},
    {"pipeline", "emaBetaValue", at<&E::pipeline, &P::emaBetaValue>, Range{'[', 0, 1, ')'}},
    {"pipeline", "schedule", at<&E::pipeline, &P::schedule>},
    {"pipeline", "microBatches", at<&E::pipeline, &P::microBatches>, pipeline::kMicroBatchesRange},
    {"pipeline", "diagnosticStash", at<&E::pipeline, &P::diagnosticStash>},
    {"pipeline", "telemetry", at<&E::pipeline, &P::telemetry>},
    {"pipeline", "delaySchedule", at<&E::pipeline, &P::delaySchedule>},
    {"pipeline", "delayScales", at<&E::pipeline, &P::delayScales>, pipeline::kDelayScaleRange},
    {"pipeline", "adaptiveDrift", at<&E::pipeline, &P::adaptiveDrift>, Range{'(', 0, 1, ']'}},
    {"pipeline", "adaptiveMinScale", at<&E::pipeline, &P::adaptiveMinScale>, Range{'[', 0, 1, ']'}},

    {"eval",
     "recalibrateBatchNorm",
     at<&E::eval, &V::recalibrateBatchNorm>,
     Range{'[', 0, 10000, ']'}},
}};

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};

template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;  // C++20 deduces this; clang 14 (clang-tidy) does not

std::string join(std::span<const std::string_view> items) {
    std::string s;
    for (std::string_view item : items) {
        s += (s.empty() ? "" : ", ") + std::string(item);
    }
    return s;
}

// "must be in (0, 10]" / "must be 0 or in [2, 100000]"; integer fields print integer bounds.
std::string rangeText(const Range& r, bool integral) {
    return "must be " + r.text(integral);
}

void checkRange(
    const std::string& path, const FieldSpec& f, double v, bool integral, std::string_view got) {
    if (f.range && !f.range->contains(v)) {
        throw InputError(concat("'", path, "' ", rangeText(*f.range, integral), ", got ", got));
    }
}

void checkOrder(const std::string& path, Order order, const std::vector<std::int64_t>& v) {
    if (order == Order::DelayVector) {
        // The stage count is known only once the cuts are final: validate() checks the length.
        if (std::string why = delaysProblem(v, -1, path); !why.empty()) {
            throw InputError(why);
        }
    }
    for (std::size_t i = 1; i < v.size(); ++i) {
        if (order == Order::StrictlyIncreasing && v[i] <= v[i - 1]) {
            throw InputError(concat("'", path, "' must be strictly increasing, got ", listText(v)));
        }
    }
}

// The field's own rules on its current value in c (c is only read).
constexpr std::size_t kMaxStringBytes = 64 * 1024;

// Index of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or npos.
std::size_t firstInvalidUtf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        unsigned char lo = 0x80;
        unsigned char hi = 0xBF;
        if (b < 0x80) {
            ++i;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            lo = b == 0xE0 ? 0xA0 : 0x80;
            hi = b == 0xED ? 0x9F : 0xBF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            lo = b == 0xF0 ? 0x90 : 0x80;
            hi = b == 0xF4 ? 0x8F : 0xBF;
        } else {
            return i;
        }
        if (i + len > s.size()) {
            return i;
        }
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) {
                return i;
            }
        }
        i += len;
    }
    return std::string_view::npos;
}

// ---- reading values from JSON ----

std::int64_t jsonInt(const std::string& path, const FieldSpec& f, const nlohmann::json& v) {
    const Range range = f.range.value_or(Range{'[', -kTwoPow63, kTwoPow63, ')'});
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            throw InputError(concat("'", path, "' ", rangeText(range, true), ", got ", u));
        }
        return static_cast<std::int64_t>(u);
    }
    if (v.is_number_integer()) {
        return v.get<std::int64_t>();
    }
    if (v.is_number_float()) {
        const auto d = v.get<double>();
        if (std::trunc(d) != d) {
            wrongType(path, "an integer", numberText(d));
        }
        if (d < -kTwoPow63 || d >= kTwoPow63) {
            throw InputError(
                concat("'", path, "' ", rangeText(range, true), ", got ", numberText(d)));
        }
        return static_cast<std::int64_t>(d);
    }
    wrongType(path, "an integer", v.type_name());
}

std::uint64_t jsonUnsigned(const std::string& path, const nlohmann::json& v) {
    if (v.is_number_unsigned()) {
        return v.get<std::uint64_t>();
    }
    if (v.is_number_float()) {
        const auto d = v.get<double>();
        if (std::trunc(d) == d && d >= 0 && d < 2 * kTwoPow63) {
            return static_cast<std::uint64_t>(d);
        }
    }
    wrongType(path, "a non-negative integer", v.is_number() ? v.dump() : v.type_name());
}

template <typename T>
T jsonAs(const std::string& path, const nlohmann::json& v, bool ok, std::string_view expected) {
    if (!ok) {
        wrongType(path, expected, v.type_name());
    }
    return v.get<T>();
}

}  // namespace

std::span<const FieldSpec> all() {
    return kFields;
}

std::string keyPath(const FieldSpec& f) {
    return f.section.empty() ? std::string(f.key) : concat(f.section, ".", f.key);
}

std::string listText(const std::vector<std::int64_t>& values) {
    std::string s = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        s += (i == 0 ? "" : ", ") + std::to_string(values[i]);
    }
    return s + "]";
}

bool isSection(std::string_view key) {
    return key != "name" && key != "description" &&
           std::find(kTopKeys.begin(), kTopKeys.end(), key) != kTopKeys.end();
}

const FieldSpec* findField(std::string_view section, std::string_view key) {
    for (const FieldSpec& f : kFields) {
        if (f.section == section && f.key == key) {
            return &f;
        }
    }
    return nullptr;
}

std::string_view firstKeyOf(std::string_view section) {
    for (const FieldSpec& f : kFields) {
        if (f.section == section) {
            return f.key;
        }
    }
    return {};
}

[[noreturn]] void unknownKey(std::string_view section, std::string_view key) {
    std::vector<std::string_view> allowed;
    if (section.empty()) {
        allowed.assign(kTopKeys.begin(), kTopKeys.end());
        allowed.push_back(kStudioKey);
    } else {
        for (const FieldSpec& f : kFields) {
            if (f.section == section) {
                allowed.push_back(f.key);
            }
        }
    }
    const std::string path = section.empty() ? std::string(key) : concat(section, ".", key);
    throw InputError(concat("unknown key '", path, "' (allowed: ", join(allowed), ")"));
}

// Shortest text that reads back to the same double ("0.1", not "0.10000000000000001").
std::string numberText(double v) {
    std::array<char, 32> buf{};
    const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return {buf.data(), result.ptr};
}

[[noreturn]] void wrongType(const std::string& path,
                            std::string_view expected,
                            std::string_view got) {
    throw InputError(concat("'", path, "' must be ", expected, ", got ", got));
}

// ResNet units: the stem, the BasicBlocks (model::blocksOf), the head.
std::int64_t unitsOf(Arch arch) {
    const auto blocks = model::blocksOf(arch);
    return 2 + std::accumulate(blocks.begin(), blocks.end(), std::int64_t{0});
}

void checkField(const FieldSpec& f, ExperimentConfig& c) {
    const std::string path = keyPath(f);
    std::visit(Overloaded{
                   [&](const std::int64_t* p) {
                       checkRange(path, f, static_cast<double>(*p), true, std::to_string(*p));
                   },
                   [](const std::uint64_t*) {},
                   [&](const double* p) {
                       if (!std::isfinite(*p)) {
                           wrongType(path, "a finite number", numberText(*p));
                       }
                       checkRange(path, f, *p, false, numberText(*p));
                   },
                   [](const bool*) {},
                   [&](const std::string* p) {
                       // Every string goes into run.json, experiment.json and checkpoint metadata:
                       // it must be valid UTF-8 (JSON text is) and small enough for a checkpoint
                       // header.
                       if (p->size() > kMaxStringBytes) {
                           throw InputError(concat("'",
                                                   path,
                                                   "' is ",
                                                   p->size(),
                                                   " bytes long; at most ",
                                                   kMaxStringBytes,
                                                   " bytes (64 KiB) are allowed"));
                       }
                       if (const std::size_t bad = firstInvalidUtf8(*p); bad != std::string::npos) {
                           throw InputError(concat("'",
                                                   path,
                                                   "' is not valid UTF-8 (byte ",
                                                   bad + 1,
                                                   " of ",
                                                   p->size(),
                                                   "); names, descriptions and paths must be UTF-8 "
                                                   "text to be written into JSON"));
                       }
                       if (f.nonEmpty && p->empty()) {
                           throw InputError(concat("'", path, "' must not be empty"));
                       }
                   },
                   [&]<ChoiceEnum C>(const C* p) {
                       if (findChoice(*p) == nullptr) {  // a value cast from an integer
                           throw InputError(concat("'",
                                                   path,
                                                   "' must be one of ",
                                                   allowedChoices<C>(", "),
                                                   ", got the value ",
                                                   static_cast<int>(*p)));
                       }
                   },
                   [&](const std::vector<std::int64_t>* p) {
                       for (std::size_t i = 0; i < p->size(); ++i) {
                           const std::int64_t v = (*p)[i];
                           const std::string where = concat(path, "[", i, "]");
                           if (path == "pipeline.cuts" && f.range &&
                               !f.range->contains(static_cast<double>(v))) {
                               // The field allows the largest architecture's cuts; name the current
                               // one's limit (validate() applies it once model.arch is final).
                               const std::int64_t units = unitsOf(c.model.arch);
                               throw InputError(
                                   concat("'",
                                          where,
                                          "' must be in [1, ",
                                          units - 1,
                                          "] for ",
                                          choiceName(c.model.arch),
                                          " (",
                                          units,
                                          " units; resnet10 allows 1..5, resnet34 1..17), got ",
                                          v));
                           }
                           checkRange(where, f, static_cast<double>(v), true, std::to_string(v));
                       }
                       checkOrder(path, f.order, *p);
                   },
                   [&](const std::vector<double>* p) {
                       for (std::size_t i = 0; i < p->size(); ++i) {
                           const std::string where = concat(path, "[", i, "]");
                           if (!std::isfinite((*p)[i])) {
                               wrongType(where, "a finite number", numberText((*p)[i]));
                           }
                           checkRange(where, f, (*p)[i], false, numberText((*p)[i]));
                       }
                   },
               },
               f.get(c));
}

void readJson(const FieldSpec& f, const nlohmann::json& v, ExperimentConfig& c) {
    const std::string path = keyPath(f);
    std::visit(
        Overloaded{
            [&](std::int64_t* p) { *p = jsonInt(path, f, v); },
            [&](std::uint64_t* p) { *p = jsonUnsigned(path, v); },
            [&](double* p) { *p = jsonAs<double>(path, v, v.is_number(), "a number"); },
            [&](bool* p) { *p = jsonAs<bool>(path, v, v.is_boolean(), "a boolean"); },
            [&](std::string* p) { *p = jsonAs<std::string>(path, v, v.is_string(), "a string"); },
            [&]<ChoiceEnum C>(C* p) {
                const auto name = jsonAs<std::string>(path, v, v.is_string(), "a string");
                const std::optional<C> value = parseChoice<C>(name);
                if (!value) {
                    throw InputError(concat("'",
                                            path,
                                            "' must be one of ",
                                            allowedChoices<C>(", "),
                                            ", got '",
                                            name,
                                            "'"));
                }
                *p = *value;
            },
            [&](std::vector<std::int64_t>* p) {
                jsonAs<nlohmann::json>(path, v, v.is_array(), "an array of integers");
                std::vector<std::int64_t> values;
                for (std::size_t i = 0; i < v.size(); ++i) {
                    values.push_back(jsonInt(concat(path, "[", i, "]"), f, v[i]));
                }
                *p = std::move(values);
            },
            [&](std::vector<double>* p) {
                jsonAs<nlohmann::json>(path, v, v.is_array(), "an array of numbers");
                std::vector<double> values;
                for (std::size_t i = 0; i < v.size(); ++i) {
                    const std::string where = concat(path, "[", i, "]");
                    values.push_back(jsonAs<double>(where, v[i], v[i].is_number(), "a number"));
                }
                *p = std::move(values);
            },
        },
        f.get(c));
}

// ---- reading values from text (applyOverride) ----

// The flag's text becomes a JSON value and goes through readJson, so a flag accepts exactly
// what a document accepts. Strings are taken verbatim; lists may omit the brackets ("3,6");
// booleans may be 1 or 0.
void readText(const FieldSpec& f, std::string_view text, ExperimentConfig& c) {
    const FieldRef ref = f.get(c);
    const bool verbatim = std::visit(
        []<typename Field>(const Field*) {
            return std::is_same_v<Field, std::string> || ChoiceEnum<Field>;
        },
        ref);
    if (verbatim) {
        readJson(f, nlohmann::json(std::string(text)), c);
        return;
    }
    std::string t(text);  // JSON ignores surrounding whitespace
    std::string_view expected = "an integer";
    if (std::holds_alternative<bool*>(ref)) {
        expected = "true or false";
        t = t == "1" ? "true" : t == "0" ? "false" : t;
    } else if (std::holds_alternative<std::vector<std::int64_t>*>(ref)) {
        expected = "a list of integers, e.g. 3,6";
        t = t.find('[') == std::string::npos ? "[" + t + "]" : t;
    } else if (std::holds_alternative<std::vector<double>*>(ref)) {
        expected = "a list of numbers, e.g. 1,0.5";
        t = t.find('[') == std::string::npos ? "[" + t + "]" : t;
    } else if (std::holds_alternative<double*>(ref)) {
        expected = "a number";
    } else if (std::holds_alternative<std::uint64_t*>(ref)) {
        expected = "a non-negative integer";
    }
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(t);
    } catch (const nlohmann::json::parse_error&) {
        wrongType(keyPath(f), expected, concat("'", text, "'"));
    } catch (const nlohmann::json::out_of_range&) {
        // A number beyond double's range (1e400, issue 12): the field's range says what is
        // allowed; fields without one are integers.
        if (!f.range) {
            wrongType(keyPath(f), expected, concat("'", text, "'"));
        }
        throw InputError(concat("'",
                                keyPath(f),
                                "' ",
                                rangeText(*f.range, !std::holds_alternative<double*>(ref)),
                                ", got '",
                                text,
                                "'"));
    }
    readJson(f, value, c);
}

}  // namespace lp::core::io::fields
