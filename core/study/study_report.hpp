// report.md of a study (docs/study.md): the command, the machine, the data, a results table
// (mean ± std over seeds), a sentence per comparison saying whether the difference is within
// noise, the memory check and the charts. Plain functions; reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/study/results_table.hpp"
#include "core/study/study_plan.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lp::core::study {

struct ReportInput {
    StudyPlan plan;
    std::vector<ResultRow> rows;  // finished runs, in plan order
    std::string firstCommand;     // the command that started the study
    std::string command;          // the one that wrote this report
    std::string machine;          // cpuReport()
    bool chartsMade = false;
    std::string chartsNote;  // when not made: why, and the command that makes them
};

// Mean and spread of one figure over the seeds of a variant.
struct Estimate {
    double mean = 0.0;
    double std = 0.0;        // sample standard deviation over seeds (0 for one seed)
    double stdError = 0.0;   // of the mean: the noise rule in the header comment of the .cpp
    std::int64_t count = 0;  // seeds with a value (not diverged)
};

// The top-1 a comparison uses: after BN recalibration when the rows have it, else plain.
// nullopt when no row of the variant has a value.
std::optional<Estimate> top1Estimate(const std::vector<ResultRow>& variantRows);

// Whether |a − b| ≤ 2·sqrt(SE_a² + SE_b²).
bool withinNoise(const Estimate& a, const Estimate& b);

std::string reportMarkdown(const ReportInput& input);

// Writes DIR/report.md atomically.
void writeReport(const std::filesystem::path& dir, const ReportInput& input);

}  // namespace lp::core::study
