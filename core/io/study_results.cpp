// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/study_results.hpp"

#include "core/error.hpp"
#include "core/io/csv_reader.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace lp::core::io {

namespace {

constexpr std::array<std::string_view, 10> kTextColumns = {"run_id",
                                                           "label",
                                                           "policy",
                                                           "schedule",
                                                           "delays",
                                                           "delay_schedule",
                                                           "optimizer",
                                                           "dataset",
                                                           "diverged",
                                                           "folder"};

}  // namespace

std::size_t studyColumn(std::string_view name) {
    const auto it = std::find(kStudyColumns.begin(), kStudyColumns.end(), name);
    LP_EXPECTS(it != kStudyColumns.end(), concat("'", name, "' is not a guaranteed study column"));
    return static_cast<std::size_t>(it - kStudyColumns.begin());
}

bool studyColumnIsNumeric(std::size_t i) {
    LP_EXPECTS(i < kStudyColumns.size(), concat("no study column ", i));
    return std::find(kTextColumns.begin(), kTextColumns.end(), kStudyColumns[i]) ==
           kTextColumns.end();
}

std::vector<StudyRow> readStudyResults(const std::filesystem::path& file) {
    CsvReader r(file);
    std::array<std::size_t, kStudyColumns.size()> cols{};
    std::string missing;
    for (std::size_t i = 0; i < kStudyColumns.size(); ++i) {
        if (const auto c = r.findColumn(kStudyColumns[i])) {
            cols[i] = *c;
        } else {
            missing += concat(missing.empty() ? "" : ", ", kStudyColumns[i]);
        }
    }
    if (!missing.empty()) {
        throw InputError(concat(file.string(),
                                " is not a study's results.csv: it lacks the column(s) ",
                                missing,
                                " (written by `layerpipe study`)"));
    }
    std::vector<StudyRow> rows;
    while (r.next()) {
        StudyRow row;
        row.line = r.line();
        row.cells.reserve(kStudyColumns.size());
        for (std::size_t i = 0; i < kStudyColumns.size(); ++i) {
            StudyCell cell{std::string(r.cell(cols[i])), std::nullopt};
            if (studyColumnIsNumeric(i)) {
                cell.number = r.optionalReal(cols[i]);
            }
            row.cells.push_back(std::move(cell));
        }
        const std::string& diverged = row.at("diverged").text;
        if (diverged != "yes" && diverged != "no") {
            r.fail(cols[studyColumn("diverged")], concat("'", diverged, "' is not yes or no"));
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

StudyInfo readStudyInfo(const std::filesystem::path& file) {
    const std::string text = readTextFile(file);
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw InputError(concat(file.string(), ": not valid JSON (", e.what(), ")"));
    }
    if (!doc.is_object()) {
        throw InputError(concat(file.string(), ": not a study record (a JSON object)"));
    }
    StudyInfo info;
    try {
        info.preset = doc.value("preset", std::string());
        info.command = doc.value("command", std::string());
        for (const nlohmann::json& run : doc.value("runs", nlohmann::json::array())) {
            const nlohmann::json id = run.is_object() ? run.value("id", nlohmann::json()) : nullptr;
            info.runIds.push_back(id.is_string() ? id.get<std::string>()
                                  : id.is_null() ? std::string()
                                                 : id.dump());
        }
    } catch (const nlohmann::json::exception& e) {
        throw InputError(concat(file.string(), ": a key has the wrong type (", e.what(), ")"));
    }
    return info;
}

}  // namespace lp::core::io
