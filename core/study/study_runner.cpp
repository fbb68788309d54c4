// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/study/study_runner.hpp"

#include "core/error.hpp"
#include "core/io/atomic_file.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

namespace lp::core::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "layerpipe-study/1";
constexpr std::size_t kMaxListed = 12;  // differences named in a refusal

// "section.key" → value text, leaving out what does not change a run's results: the thread
// count (same bits with any) and the data folder (where the same data lives).
std::map<std::string, std::string> identityOf(const json& config) {
    std::map<std::string, std::string> out;
    for (const auto& [section, value] : config.items()) {
        if (!value.is_object()) {
            out[section] = value.dump();
            continue;
        }
        for (const auto& [key, v] : value.items()) {
            const std::string path = concat(section, ".", key);
            if (path != "training.threads" && path != "data.path") {
                out[path] = v.dump();
            }
        }
    }
    return out;
}

// The differences between the folder's study and the plan, one line each.
std::vector<std::string> differences(const json& stored, const json& wanted) {
    std::vector<std::string> out;
    std::map<std::string, const json*> storedRuns;
    const auto runs = stored.find("runs");
    if (runs != stored.end() && runs->is_array()) {
        for (const json& r : *runs) {
            if (r.is_object()) {
                storedRuns[r.value("id", "")] = &r;
            }
        }
    }
    std::set<std::string> seen;
    for (const json& r : wanted["runs"]) {
        const std::string id = r["id"].get<std::string>();
        seen.insert(id);
        const auto it = storedRuns.find(id);
        if (it == storedRuns.end()) {
            out.push_back("run " + id + " is not in the folder's study");
            continue;
        }
        const json& storedConfig = *it->second;
        const auto a =
            identityOf(storedConfig.contains("config") ? storedConfig["config"] : json::object());
        const auto b = identityOf(r["config"]);
        for (const auto& [key, value] : b) {
            const auto other = a.find(key);
            const std::string was = other == a.end() ? "(absent)" : other->second;
            if (was != value) {
                out.push_back(concat("run ",
                                     id,
                                     ": ",
                                     key,
                                     ": the folder's study has ",
                                     was,
                                     ", this command gives ",
                                     value));
            }
        }
    }
    for (const auto& [id, r] : storedRuns) {
        if (!seen.contains(id)) {
            out.push_back("run " + id + " of the folder's study is not in this command's");
        }
    }
    return out;
}

// Writes study.json for a new study, or checks the folder's against the plan.
std::string prepareStudyFolder(const StudyPlan& plan,
                               const fs::path& dir,
                               const std::string& command) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        throw InputError("cannot create the study folder '" + dir.string() + "': " + ec.message());
    }
    const fs::path file = dir / "study.json";
    const json wanted = studyDocument(plan, command);
    if (!fs::exists(file, ec)) {
        if (!fs::is_empty(dir, ec)) {
            throw InputError("the study folder '" + dir.string() +
                             "' is not empty and holds no study.json: give a new or empty "
                             "folder to --out");
        }
        io::writeFileAtomically(file, wanted.dump(4) + "\n");
        return command;
    }
    json stored;
    try {
        std::ifstream in(file);
        stored = json::parse(in);
    } catch (const json::exception& e) {
        throw InputError(file.string() + " is not a study record: " + e.what());
    }
    std::string first = stored.value("command", "");
    const std::string preset = stored.value("preset", "");
    if (preset != plan.preset) {
        throw InputError("the folder '" + dir.string() + "' holds a study of preset '" + preset +
                         "', but this command asks for preset '" + plan.preset +
                         "'. Give another --out folder, or continue that study with its own "
                         "command: " +
                         first);
    }
    const std::vector<std::string> diffs = differences(stored, wanted);
    if (!diffs.empty()) {
        std::ostringstream os;
        for (std::size_t i = 0; i < diffs.size() && i < kMaxListed; ++i) {
            os << "\n  " << diffs[i];
        }
        if (diffs.size() > kMaxListed) {
            os << "\n  ... and " << diffs.size() - kMaxListed << " more";
        }
        throw InputError("the folder '" + dir.string() + "' holds a '" + preset +
                         "' study with other runs or options than this command:" + os.str() +
                         "\nGive another --out folder, or continue that study with its own "
                         "command: " +
                         first);
    }
    return first;
}

}  // namespace

json studyDocument(const StudyPlan& plan, const std::string& command) {
    json runs = json::array();
    for (const StudyRun& r : plan.runs) {
        runs.push_back({{"id", r.id},
                        {"variant", r.variant},
                        {"label", r.label},
                        {"config", io::toJson(r.config)}});
    }
    return {{"format", kFormat},
            {"preset", plan.preset},
            {"command", command},
            {"description", plan.description},
            {"dataset_note", plan.datasetNote},
            {"runs", std::move(runs)}};
}

StudyOutcome runStudy(const StudyPlan& plan,
                      const fs::path& dir,
                      const std::string& command,
                      const StudyHooks& hooks) {
    StudyOutcome out;
    out.firstCommand = prepareStudyFolder(plan, dir, command);
    const fs::path csv = dir / "results.csv";
    std::map<std::string, ResultRow> finished;
    for (ResultRow& row : readResultsCsv(csv).value_or(std::vector<ResultRow>{})) {
        finished[cell(row, "run_id")] = std::move(row);
    }
    std::vector<const StudyRun*> todo;
    for (const StudyRun& r : plan.runs) {
        if (finished.contains(r.id)) {
            ++out.skipped;
        } else {
            todo.push_back(&r);
        }
    }
    if (hooks.planned) {
        hooks.planned(out.skipped, todo.size());
    }
    const auto collectRows = [&] {
        std::vector<ResultRow> rows;
        for (const StudyRun& r : plan.runs) {
            if (const auto it = finished.find(r.id); it != finished.end()) {
                rows.push_back(it->second);
            }
        }
        return rows;
    };
    for (std::size_t i = 0; i < todo.size(); ++i) {
        const StudyRun& run = *todo[i];
        if (hooks.train.stopRequested && hooks.train.stopRequested()) {
            out.interrupted = true;
            break;
        }
        if (hooks.runStarted) {
            hooks.runStarted(run, i + 1, todo.size());
        }
        const std::string folder = "runs/" + run.id;
        fs::remove_all(dir / folder);  // a half-done run starts again from scratch
        session::RunFolderHooks runHooks;
        runHooks.train = hooks.train;
        runHooks.started = hooks.trainerBuilt;
        runHooks.stopSignal = hooks.stopSignal;
        const session::RunOutcome o = session::trainRunFolder(run.config, dir / folder, runHooks);
        if (o.train.interrupted) {
            out.interrupted = true;
            break;
        }
        ResultRow row = resultRow(run, o, folder);
        out.diverged += o.train.nonFinite ? 1 : 0;
        ++out.ran;
        finished[run.id] = row;
        io::writeFileAtomically(csv, resultsCsv(collectRows()));
        if (hooks.runEnded) {
            hooks.runEnded(run, row);
        }
    }
    out.rows = collectRows();
    return out;
}

}  // namespace lp::core::study
