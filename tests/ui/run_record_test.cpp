// One run record for CLI and GUI (issue 16): the run.json the studio writes for a run
// (TrainingBridge::writeRunRecord) and the one `layerpipe run` writes for the same experiment
// (session::trainRunFolder) have the same keys, and the same figures where the run is the same.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/session/run_folder.hpp"
#include "ui/training_bridge.hpp"

#include "tests/ui/tiny_experiment.hpp"
#include <nlohmann/json.hpp>

#include <QSignalSpy>
#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace lp::ui {
namespace {

using core::session::RunState;
using nlohmann::json;

json readJson(const std::filesystem::path& file) {
    std::ifstream in(file);
    EXPECT_TRUE(in.good()) << file;
    return json::parse(in);
}

// Every key path of an object, nested objects included ("summary.peak_bytes.weights"); arrays
// contribute the keys of their first element ("summary.epoch_history[].epoch").
void collectKeys(const json& j, const std::string& prefix, std::set<std::string>& out) {
    if (j.is_object()) {
        for (const auto& [key, value] : j.items()) {
            out.insert(prefix + key);
            collectKeys(value, prefix + key + ".", out);
        }
    } else if (j.is_array() && !j.empty()) {
        collectKeys(j.front(), prefix.substr(0, prefix.size() - 1) + "[].", out);
    }
}

std::set<std::string> keysOf(const json& j) {
    std::set<std::string> out;
    collectKeys(j, "", out);
    return out;
}

// The studio's run of `config`, played to its end and written as run.json.
json studioRecord(const core::io::ExperimentConfig& config, const std::filesystem::path& file) {
    TrainingBridge bridge;
    bridge.start(config);
    QSignalSpy states(&bridge, &TrainingBridge::stateChanged);
    EXPECT_TRUE(states.isValid());
    bridge.play();
    while (bridge.status().state != RunState::Finished) {
        EXPECT_NE(bridge.status().state, RunState::Failed) << bridge.status().message;
        if (!states.wait(30000)) {
            ADD_FAILURE() << "no state change; state "
                          << core::session::toString(bridge.status().state);
            break;
        }
    }
    bridge.writeRunRecord(file);
    return readJson(file);
}

TEST(RunRecord, StudioAndCliWriteTheSameKeysForTheSameRun) {
    core::io::ExperimentConfig config = test::tinyExperiment("ema");
    config.eval.recalibrateBatchNorm = 2;  // the conditional key test_recalibrated too
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const std::filesystem::path root = dir.path().toStdString();
    const json gui = studioRecord(config, root / "gui.json");
    core::session::trainRunFolder(config, root / "cli", {});
    const json cli = readJson(root / "cli" / "run.json");

    EXPECT_EQ(keysOf(gui), keysOf(cli));
    const json& g = gui.at("summary");
    const json& c = cli.at("summary");
    EXPECT_TRUE(c.contains("test_recalibrated"));
    // The same run, bit for bit (one seed, deterministic training), described the same way.
    for (const char* key : {"state",
                            "epochs",
                            "epochs_completed",
                            "epochs_configured",
                            "steps_per_epoch",
                            "data_source",
                            "parameters",
                            "train_loss",
                            "test_loss",
                            "test_top1",
                            "non_finite",
                            "interrupted",
                            "weight_history_formula_bytes",
                            "test_recalibrated"}) {
        EXPECT_EQ(g.at(key), c.at(key)) << key;
    }
    EXPECT_EQ(c.at("state"), "finished");
    EXPECT_EQ(c.at("epochs"), 1);
    ASSERT_EQ(g.at("epoch_history").size(), 1U);
    ASSERT_EQ(c.at("epoch_history").size(), 1U);
    for (const char* key : {"epoch", "train_loss", "train_accuracy", "test_loss", "test_top5"}) {
        EXPECT_EQ(g.at("epoch_history")[0].at(key), c.at("epoch_history")[0].at(key)) << key;
    }
}

}  // namespace
}  // namespace lp::ui
