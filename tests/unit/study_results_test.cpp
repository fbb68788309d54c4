// Reading a study folder's results.csv and study.json (issue 14): by header name, extra columns
// ignored, every missing guaranteed column named, numbers and yes/no checked.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/study_results.hpp"

#include "core/error.hpp"

#include "tests/support/expect_input_error.hpp"
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

namespace lp::core::io {
namespace {

namespace fs = std::filesystem;
using test::expectInputError;

fs::path scratchFile(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const fs::path dir =
        fs::temp_directory_path() / concat("lp_study_results_", ::getpid(), "_", info->name());
    fs::create_directories(dir);
    return dir / name;
}

std::string header(const std::string& extraFirst = {}) {
    std::string h = extraFirst;
    for (const std::string_view c : kStudyColumns) {
        h += (h.empty() ? "" : ",") + std::string(c);
    }
    return h + "\n";
}

// One row in kStudyColumns order; extraFirst fills the extra column put first in the header.
std::string row(const std::string& id,
                const std::string& policy,
                const std::string& top1,
                const std::string& diverged,
                const std::string& extraFirst = {}) {
    std::string r = extraFirst.empty() ? "" : extraFirst + ",";
    r += id + ",\"" + policy + ", K=4\"," + policy +
         ",layerpipe,4,\"6,4,2,0\",static,sgd,0.05,1,16,"
         "fashion-mnist,1,469," +
         top1 +
         ",0.99,0.4,0.9,0.99,0.35,,1048576,1048576,0.01,0.02,"
         "0.98,0.02,3.2,61.5,950.25," +
         diverged + ",runs/" + id + "\n";
    return r;
}

TEST(StudyResults, ReadsGuaranteedColumnsByNameAndIgnoresExtras) {
    const fs::path file = scratchFile("results.csv");
    std::ofstream(file) << header("comment") << row("r1", "stash", "0.871", "no", "first")
                        << row("r2", "ema", "nan", "yes", "second");
    const std::vector<StudyRow> rows = readStudyResults(file);
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows[0].cells.size(), kStudyColumns.size());
    EXPECT_EQ(rows[0].at("run_id").text, "r1");
    EXPECT_EQ(rows[0].at("label").text, "stash, K=4");
    EXPECT_EQ(rows[0].at("delays").text, "6,4,2,0");
    EXPECT_FALSE(rows[0].at("delays").number.has_value());  // text column
    EXPECT_DOUBLE_EQ(*rows[0].at("final_top1").number, 0.871);
    EXPECT_EQ(*rows[0].at("history_bytes").number, 1048576.0);
    EXPECT_FALSE(rows[0].at("final_recal_top1").number.has_value());  // empty: not applicable
    EXPECT_EQ(rows[0].at("folder").text, "runs/r1");
    EXPECT_FALSE(rows[0].diverged());
    EXPECT_TRUE(rows[1].diverged());
    EXPECT_TRUE(std::isnan(*rows[1].at("final_top1").number));
    EXPECT_EQ(rows[1].line, 3U);
    EXPECT_TRUE(studyColumnIsNumeric(studyColumn("bubble")));
    EXPECT_FALSE(studyColumnIsNumeric(studyColumn("policy")));
    EXPECT_THROW(studyColumn("nonsense"), ContractError);
}

TEST(StudyResults, MissingGuaranteedColumnsAreAllNamed) {
    const fs::path file = scratchFile("results.csv");
    std::ofstream(file) << "run_id,label,policy\nr1,a,stash\n";
    const std::string message = expectInputError([&] { readStudyResults(file); },
                                                 {file.string(),
                                                  "lacks the column(s) schedule, stages",
                                                  "final_top1",
                                                  "folder",
                                                  "layerpipe study"});
    EXPECT_EQ(message.find("run_id,"), std::string::npos);
}

TEST(StudyResults, BadCellsNameLineAndColumn) {
    const fs::path file = scratchFile("results.csv");
    std::ofstream(file) << header() << row("r1", "stash", "high", "no");
    expectInputError([&] { readStudyResults(file); },
                     {"line 2", "column 'final_top1'", "'high' is not a number"});
    std::ofstream(file) << header() << row("r1", "stash", "0.5", "maybe");
    expectInputError([&] { readStudyResults(file); }, {"column 'diverged'", "not yes or no"});
    expectInputError([&] { readStudyResults(file.parent_path() / "none.csv"); },
                     {"none.csv", "does not exist"});
}

TEST(StudyResults, StudyJsonGivesPresetCommandAndRuns) {
    const fs::path file = scratchFile("study.json");
    std::ofstream(file) << R"({"preset": "quick", "command": "layerpipe study --preset quick",
        "runs": [{"id": "sequential", "label": "x", "config": {}}, {"id": 7}], "extra": 1})";
    const StudyInfo info = readStudyInfo(file);
    EXPECT_EQ(info.preset, "quick");
    EXPECT_EQ(info.command, "layerpipe study --preset quick");
    ASSERT_EQ(info.runIds.size(), 2U);
    EXPECT_EQ(info.runIds[0], "sequential");
    EXPECT_EQ(info.runIds[1], "7");
    std::ofstream(file) << "{\"preset\": 3}";
    expectInputError([&] { readStudyInfo(file); }, {"study.json", "wrong type"});
    std::ofstream(file) << "{\n\"preset\": ";
    expectInputError([&] { readStudyInfo(file); }, {"study.json", "not valid JSON", "line 2"});
}

}  // namespace
}  // namespace lp::core::io
