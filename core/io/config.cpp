// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/config.hpp"

#include "core/error.hpp"
#include "core/io/atomic_file.hpp"
#include "core/io/config_fields.hpp"
#include "core/optim/optimizer.hpp"

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <set>
#include <system_error>
#include <variant>

namespace lp::core::io {
namespace {

using fields::checkField;
using fields::FieldSpec;
using fields::findField;
using fields::firstKeyOf;
using fields::isSection;
using fields::listText;
using fields::numberText;
using fields::readJson;
using fields::readText;
using fields::unitsOf;
using fields::unknownKey;
using fields::wrongType;

// ---- whole documents ----

// nlohmann keeps the last of two equal keys silently; in a hand-edited config that hides a typo'd
// override, so the document is parsed with a callback that tracks the keys of each open object.
nlohmann::json parseWithoutDuplicates(const std::string& text) {
    struct Frame {
        bool object = false;
        std::set<std::string> keys;
        std::string current;
    };

    std::vector<Frame> open;
    const nlohmann::json::parser_callback_t callback =
        [&open](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
            using Event = nlohmann::json::parse_event_t;
            if (event == Event::object_start || event == Event::array_start) {
                open.push_back(Frame{event == Event::object_start, {}, {}});
            } else if (event == Event::object_end || event == Event::array_end) {
                open.pop_back();
            } else if (event == Event::key) {
                Frame& top = open.back();
                top.current = parsed.get<std::string>();
                if (!top.keys.insert(top.current).second) {
                    std::string path;
                    for (const Frame& frame : open) {
                        if (frame.object) {
                            path += (path.empty() ? "" : ".") + frame.current;
                        }
                    }
                    throw InputError(concat("duplicate key '", path, "'"));
                }
            }
            return true;
        };
    return nlohmann::json::parse(text, callback);
}

// Config files are small documents; the cap keeps a wrong path (a dataset, a disk image) from
// being read into memory before it is refused.
constexpr std::uintmax_t kMaxConfigBytes = 16U * 1024U * 1024U;

std::string readWholeFile(const std::filesystem::path& path) {
    // Regular files only: a device (/dev/zero) or a FIFO would be read forever or block.
    struct stat st {};

    if (::stat(path.c_str(), &st) != 0) {
        throw InputError(concat(
            "cannot read config '", path.string(), "': ", std::system_category().message(errno)));
    }
    if (S_ISDIR(st.st_mode)) {
        throw InputError(concat("cannot read config '", path.string(), "': it is a directory"));
    }
    if (!S_ISREG(st.st_mode)) {
        throw InputError(concat("cannot read config '",
                                path.string(),
                                "': not a regular file (a device, FIFO or socket); give a JSON "
                                "file"));
    }
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxConfigBytes) {
        throw InputError(concat("config '",
                                path.string(),
                                "' is ",
                                st.st_size,
                                " bytes; an experiment config is at most 16 MiB"));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw InputError(concat(
            "cannot read config '", path.string(), "': ", std::system_category().message(errno)));
    }
    // Bounded even if the file grows while it is read.
    std::string text(static_cast<std::size_t>(st.st_size) + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
        throw InputError(concat("cannot read config '", path.string(), "': read error"));
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > static_cast<std::size_t>(st.st_size)) {
        throw InputError(concat("config '",
                                path.string(),
                                "' grew while it was read; "
                                "give a finished file"));
    }
    return text;
}

// The delay schedule's rules between fields (docs/pipeline.md, "Delay schedules").
void validateDelaySchedule(const ExperimentConfig& c) {
    const PipelineConfig& p = c.pipeline;
    if (p.delaySchedule == DelayScheduleKind::Epochs && p.delayScales.empty()) {
        throw InputError(
            "'pipeline.delayScales' must list at least one scale with pipeline.delaySchedule = "
            "epochs (c_0, c_1, ...: epoch e's delays are floor(c_e * base), each c_e in [0, 4]; "
            "epochs past the end keep the last), got []");
    }
    if (p.delaySchedule != DelayScheduleKind::Epochs && !p.delayScales.empty()) {
        throw InputError(
            concat("'pipeline.delayScales' is only used with pipeline.delaySchedule "
                   "= epochs (the schedule is '",
                   choiceName(p.delaySchedule),
                   "'), got ",
                   p.delayScales.size(),
                   " scale(s); remove them or set the schedule to epochs"));
    }
    if (p.delaySchedule != DelayScheduleKind::Static && p.schedule == ScheduleKind::GPipe) {
        throw InputError(concat("'pipeline.delaySchedule' must be static with the gpipe schedule ",
                                "(GPipe has no delays), got '",
                                choiceName(p.delaySchedule),
                                "'"));
    }
    // The largest base delay is stage 0's; a scale must keep it within the delays' limit.
    const auto stages = static_cast<std::int64_t>(p.cuts.size()) + 1;
    const std::int64_t top = p.delays.empty() ? 2 * (stages - 1) : p.delays.front();
    for (std::size_t i = 0; i < p.delayScales.size(); ++i) {
        const double d = std::floor(p.delayScales[i] * static_cast<double>(top) + 1e-9);
        if (d > static_cast<double>(kMaxDelay)) {
            throw InputError(
                concat("'pipeline.delayScales[",
                       i,
                       "]' (",
                       numberText(p.delayScales[i]),
                       ") makes stage 0's delay floor(",
                       numberText(p.delayScales[i]),
                       " * ",
                       top,
                       ") = ",
                       static_cast<std::int64_t>(d),
                       "; delays must be <= ",
                       kMaxDelay,
                       ", so scales must be <= ",
                       numberText(static_cast<double>(kMaxDelay) / static_cast<double>(top)),
                       " for this pipeline"));
        }
    }
}

}  // namespace

ExperimentConfig parseConfig(const nlohmann::json& doc) {
    if (!doc.is_object()) {
        throw InputError(
            concat("the experiment config must be a JSON object, got ", doc.type_name()));
    }
    ExperimentConfig config;
    for (const auto& [key, value] : doc.items()) {
        if (key == kStudioKey) {
            // The studio's own settings (a lesson's comparison): not part of the experiment.
            if (!value.is_object()) {
                wrongType(key, "an object", value.type_name());
            }
            continue;
        }
        if (!isSection(key)) {
            const FieldSpec* f = findField("", key);
            if (f == nullptr) {
                unknownKey("", key);
            }
            readJson(*f, value, config);
            continue;
        }
        if (!value.is_object()) {
            wrongType(key, "an object", value.type_name());
        }
        for (const auto& [field, fieldValue] : value.items()) {
            const FieldSpec* f = findField(key, field);
            if (f == nullptr) {
                unknownKey(key, field);
            }
            readJson(*f, fieldValue, config);
        }
    }
    validate(config);
    return config;
}

ExperimentConfig parseConfigText(std::string_view text) {
    nlohmann::json doc;
    try {
        doc = parseWithoutDuplicates(std::string(text));
    } catch (const nlohmann::json::parse_error& e) {
        // what() starts with "[json.exception.parse_error.101] "; the rest carries line and
        // column.
        const std::string what = e.what();
        throw InputError(concat("invalid JSON: ", what.substr(what.find("] ") + 2)));
    } catch (const nlohmann::json::out_of_range& e) {
        // A number beyond double's range (1e400) is out_of_range.406, not a parse_error.
        const std::string what = e.what();
        throw InputError(concat("invalid JSON: ",
                                what.substr(what.find("] ") + 2),
                                " (numbers must be within double's range, about 1.8e308)"));
    }
    return parseConfig(doc);
}

ExperimentConfig loadConfig(const std::filesystem::path& path) {
    const std::string text = readWholeFile(path);
    try {
        return parseConfigText(text);
    } catch (const InputError& e) {
        throw InputError(concat("config '", path.string(), "': ", e.what()));
    }
}

nlohmann::json toJson(const ExperimentConfig& config) {
    ExperimentConfig c = config;  // the table's accessors take a mutable config; c is only read
    nlohmann::json doc = nlohmann::json::object();
    for (const FieldSpec& f : fields::all()) {
        nlohmann::json& slot = f.section.empty() ? doc[std::string(f.key)]
                                                 : doc[std::string(f.section)][std::string(f.key)];
        std::visit(
            [&slot]<typename Field>(const Field* p) {
                if constexpr (ChoiceEnum<Field>) {
                    slot = choiceName(*p);  // the table's name, as documents spell it
                } else {
                    slot = *p;
                }
            },
            f.get(c));
    }
    return doc;
}

void saveConfig(const std::filesystem::path& path, const ExperimentConfig& config) {
    std::string text;
    try {
        text = toJson(config).dump(4) + "\n";
    } catch (const nlohmann::json::type_error&) {
        throw InputError(
            concat("cannot write config '", path.string(), "': a string field is not valid UTF-8"));
    }
    writeFileAtomically(path, text);
}

void validate(const ExperimentConfig& config) {
    ExperimentConfig c = config;  // read only, as in toJson
    for (const FieldSpec& f : fields::all()) {
        checkField(f, c);
    }
    using std::to_string;
    const PipelineConfig& p = c.pipeline;
    const std::int64_t units = unitsOf(c.model.arch);
    if (!p.cuts.empty() && p.cuts.back() > units - 1) {
        throw InputError("'pipeline.cuts' must lie within 1.." + to_string(units - 1) + " (" +
                         std::string(choiceName(c.model.arch)) + " has " + to_string(units) +
                         " units: the stem, " + to_string(units - 2) +
                         " blocks and the head), got " + listText(p.cuts));
    }
    const auto stages = static_cast<std::int64_t>(p.cuts.size()) + 1;
    if (const std::string why =
            p.delays.empty() ? "" : delaysProblem(p.delays, stages, "pipeline.delays");
        !why.empty()) {
        throw InputError(why + " (stages from pipeline.cuts " + listText(p.cuts) +
                         "; leave it empty for the default 2·S(s))");
    }
    if (c.schedule.minLr > c.optimizer.lr) {
        throw InputError("'schedule.minLr' must not exceed optimizer.lr (" +
                         numberText(c.optimizer.lr) + "), got " + numberText(c.schedule.minLr));
    }
    const OptimizerSection& o = c.optimizer;
    if (o.kind == OptimizerKind::Sgd && o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
        // PyTorch's SGD raises the same: Nesterov's look-ahead is undefined without momentum.
        throw InputError(
            "'optimizer.nesterov' needs optimizer.momentum > 0 and optimizer.dampening = 0, got "
            "momentum " +
            numberText(o.momentum) + " and dampening " + numberText(o.dampening));
    }
    // The optimizer's own check, on the floats it will see: a value within a float's rounding of
    // a range's end is refused here, not after the data has loaded.
    optim::validate(optimizerConfig(o));
    if (p.policy == WeightPolicy::Momentum && o.kind == OptimizerKind::Sgd && !(o.momentum > 0)) {
        // The same check as optim::requireRewindable, stated in the config's keys.
        throw InputError(
            "'pipeline.policy' momentum needs optimizer.momentum > 0: it rebuilds the weights a "
            "forward used from SGD's momentum buffer, which SGD without momentum does not keep; "
            "got optimizer.momentum = " +
            numberText(o.momentum) +
            " (set a momentum such as 0.9, or choose the stash, ema or latest policy)");
    }
    if (c.eval.recalibrateBatchNorm > 0 && c.model.norm != Norm::Batch) {
        throw InputError(
            "'eval.recalibrateBatchNorm' recomputes BatchNorm statistics and needs "
            "model.norm = batch (this model has none), got " +
            to_string(c.eval.recalibrateBatchNorm) + " batches; set it to 0");
    }
    validateDelaySchedule(c);
    if (p.schedule == ScheduleKind::GPipe && p.microBatches > c.training.batchSize) {
        throw InputError("'pipeline.microBatches' must not exceed training.batchSize (" +
                         to_string(c.training.batchSize) + ") with the gpipe schedule, got " +
                         to_string(p.microBatches));
    }
}

optim::OptimizerConfig optimizerConfig(const OptimizerSection& o) {
    return {.kind = o.kind,
            .momentum = static_cast<float>(o.momentum),
            .dampening = static_cast<float>(o.dampening),
            .nesterov = o.nesterov,
            .weightDecay = static_cast<float>(o.weightDecay),
            .beta1 = static_cast<float>(o.beta1),
            .beta2 = static_cast<float>(o.beta2),
            .eps = static_cast<float>(o.eps)};
}

void applyOverride(ExperimentConfig& config, std::string_view keyPath, std::string_view value) {
    const auto dot = keyPath.find('.');
    const std::string_view section = dot == std::string_view::npos ? "" : keyPath.substr(0, dot);
    const std::string_view key = dot == std::string_view::npos ? keyPath : keyPath.substr(dot + 1);
    if (section.empty() && isSection(key)) {
        throw InputError("'" + std::string(key) + "' is a section; set one of its keys, e.g. '" +
                         std::string(key) + "." + std::string(firstKeyOf(key)) + "'");
    }
    if (!section.empty() && !isSection(section)) {
        unknownKey("", keyPath);
    }
    const FieldSpec* f = findField(section, key);
    if (f == nullptr) {
        unknownKey(section, key);
    }
    ExperimentConfig updated = config;  // config stays unchanged if the value is rejected
    readText(*f, value, updated);
    checkField(*f, updated);
    config = std::move(updated);
}

}  // namespace lp::core::io