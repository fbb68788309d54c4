// SPDX-License-Identifier: GPL-3.0-or-later
// The Trainer's delay schedule (issue 14; docs/pipeline.md "Delay schedules"): resolving it from
// the config, changing the delays between epochs, and its state in checkpoints.
#include "core/error.hpp"
#include "core/session/checkpoint_meta.hpp"
#include "core/session/trainer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace lp::core::session {

namespace {

const std::string* metadataText(const io::SafetensorsFile& f,
                                const std::filesystem::path& path,
                                const char* key) {
    const auto it = f.metadata.find(key);
    if (it == f.metadata.end()) {
        throw InputError(concat("checkpoint ",
                                path.string(),
                                " has no '",
                                key,
                                "' metadata, needed to resume a run with a delay schedule"));
    }
    return &it->second;
}

}  // namespace

// Declared in core/session/checkpoint_meta.hpp.
std::int64_t wholeNumber(const std::string& text,
                         const std::filesystem::path& path,
                         const std::string& key,
                         std::int64_t lo,
                         std::int64_t hi) {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || v < lo || v > hi) {
        throw InputError(concat("checkpoint ",
                                path.string(),
                                ": metadata '",
                                key,
                                "' must be a whole number in [",
                                lo,
                                ", ",
                                hi,
                                "], got '",
                                text.substr(0, 40),
                                "'"));
    }
    return v;
}

void Experiment::resolveDelaySchedule(bool sequential, std::int64_t stages) {
    const io::PipelineConfig& p = config.pipeline;
    pipeline::DelayScheduleSpec spec;
    const bool layerPipe = pipeline.schedule == pipeline::ScheduleKind::LayerPipe;
    if (!sequential && layerPipe) {
        spec = {.kind = p.delaySchedule,
                .scales = p.delayScales,
                .adaptiveDrift = p.adaptiveDrift,
                .adaptiveMinScale = p.adaptiveMinScale};
    }
    std::vector<std::int64_t> base = pipeline.delays;
    if (base.empty()) {
        base = layerPipe ? pipeline::DelayPlan::layerPipeDefault(stages).delays()
                         : std::vector<std::int64_t>(static_cast<std::size_t>(stages), 0);
    }
    delaySchedule = pipeline::DelaySchedule(spec, std::move(base));
    if (!delaySchedule.isStatic()) {
        // The stages are built with the largest delays the run will use; the Trainer then sets
        // each epoch's own. The layout (and so the memory forecast) reports this envelope.
        pipeline.delays = delaySchedule.envelope(config.training.epochs);
        pipeline.measureUpdates = delaySchedule.measures();
    }
}

void Trainer::recordDelays(std::int64_t epoch,
                           const std::vector<std::optional<double>>& updateSize) const {
    if (recorder_ == nullptr) {
        return;
    }
    const std::vector<std::int64_t>& delays = core_->delays().delays();
    const std::int64_t ticks = ticksPerEpoch();
    for (std::size_t s = 0; s < delays.size(); ++s) {
        const bool measured = s < updateSize.size() && updateSize[s].has_value();
        recorder_->delays(
            {.epoch = static_cast<std::int32_t>(epoch),
             .stage = static_cast<std::int32_t>(s),
             .delay = delays[s],
             .scale = scale_,
             .updateSize = measured ? *updateSize[s] : std::numeric_limits<double>::quiet_NaN(),
             .firstTick = tickBase_,
             .ticks = ticks});
    }
}

void Trainer::finishEpochDelays(EpochReport& r) {
    r.delays = core_->delays().delays();
    r.delayScale = scale_;
    r.firstTick = tickBase_;
    r.ticks = ticksPerEpoch();
    for (std::int64_t s = 0; s < core_->stageCount(); ++s) {
        r.updateSize.push_back(core_->stage(s).meanUpdateSize());
    }
    recordDelays(r.epoch, r.updateSize);
    tickBase_ += r.ticks;
    const pipeline::DelaySchedule& schedule = experiment_.delaySchedule;
    if (!schedule.isStatic()) {
        // The pipeline is drained (the epoch completed and was evaluated): the next epoch's
        // delays apply from here, also after the last epoch, so that a checkpoint holds the
        // state the next epoch starts from.
        scale_ = schedule.nextScale(r.epoch, r.updateSize);
        core_->setDelays(schedule.delaysAt(scale_));
    }
}

void Trainer::saveDelayState(std::map<std::string, std::string>& metadata) const {
    if (experiment_.delaySchedule.isStatic()) {
        return;  // the checkpoint is exactly as before delay schedules existed
    }
    char scale[64];
    std::snprintf(scale, sizeof scale, "%a", scale_);  // hexadecimal: the exact double
    metadata["delay_scale"] = scale;
    metadata["tick"] = std::to_string(tickBase_);
    std::ostringstream ks;
    for (std::int64_t s = 0; s < core_->stageCount(); ++s) {
        ks << (s > 0 ? "," : "") << core_->stage(s).emaUpdates();
    }
    metadata["ema_updates_per_stage"] = ks.str();
}

void Trainer::restoreDelayState(const io::SafetensorsFile& f, const std::filesystem::path& path) {
    if (experiment_.delaySchedule.isStatic()) {
        return;
    }
    const std::string& text = *metadataText(f, path, "delay_scale");
    char* end = nullptr;
    const double scale = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(scale) || scale < 0.0 ||
        scale > pipeline::kMaxDelayScale) {
        throw InputError(concat("checkpoint ",
                                path.string(),
                                ": metadata 'delay_scale' must be a number in [0, ",
                                pipeline::kMaxDelayScale,
                                "], got '",
                                text.substr(0, 40),
                                "'"));
    }
    const std::vector<std::int64_t> delays = experiment_.delaySchedule.delaysAt(scale);
    for (std::size_t s = 0; s < delays.size(); ++s) {
        if (delays[s] > experiment_.pipeline.delays[s]) {
            throw InputError(concat("checkpoint ",
                                    path.string(),
                                    ": its delay scale ",
                                    scale,
                                    " gives stage ",
                                    s,
                                    " the delay ",
                                    delays[s],
                                    ", beyond this run's schedule (at most ",
                                    experiment_.pipeline.delays[s],
                                    ")"));
        }
    }
    tickBase_ = wholeNumber(*metadataText(f, path, "tick"),
                            path,
                            "tick",
                            0,
                            std::numeric_limits<std::int64_t>::max() / 4);
    scale_ = scale;
    core_->setDelays(delays);
}

std::vector<std::int64_t> Trainer::restoredEmaUpdates(const io::SafetensorsFile& f,
                                                      const std::filesystem::path& path,
                                                      std::int64_t k,
                                                      std::int64_t step) const {
    const auto stages = static_cast<std::size_t>(core_->stageCount());
    std::vector<std::int64_t> ks(stages, 0);
    if (experiment_.delaySchedule.isStatic()) {
        for (std::size_t s = 0; s < stages; ++s) {
            ks[s] = core_->stage(static_cast<std::int64_t>(s)).mutableEma().empty() ? 0 : k;
        }
        return ks;
    }
    std::istringstream list(*metadataText(f, path, "ema_updates_per_stage"));
    std::string item;
    std::size_t s = 0;
    while (std::getline(list, item, ',')) {
        if (s == stages) {
            break;
        }
        ks[s++] = wholeNumber(item, path, "ema_updates_per_stage", 0, step);
    }
    if (s != stages || !list.eof()) {
        throw InputError(
            concat("checkpoint ",
                   path.string(),
                   ": metadata 'ema_updates_per_stage' must list one count per stage (",
                   stages,
                   ")"));
    }
    return ks;
}

}  // namespace lp::core::session
