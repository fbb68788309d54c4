// Reading CSV files that the tools write (a run's series, a study's results.csv) back in: columns
// are found by their header name, so a file may add columns or reorder them; every problem is an
// InputError naming the file, the line and the column. RFC 4180 quoting ("a,b" and "" inside
// quotes), '\n' or "\r\n" line ends, '.' decimals whatever the C locale. Not thread-safe (one
// reader per file); reentrant.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lp::core::io {

// The whole file as text. InputError naming the file if it does not exist, is not a regular file
// or cannot be read.
std::string readTextFile(const std::filesystem::path& file);

class CsvReader {
public:
    // Reads the whole file and its header row. InputError if it is missing, unreadable or empty.
    explicit CsvReader(const std::filesystem::path& file);

    const std::filesystem::path& file() const { return file_; }

    const std::vector<std::string>& header() const { return header_; }

    // Index of the column named name, or nullopt.
    std::optional<std::size_t> findColumn(std::string_view name) const;
    // Index of the column named name; InputError "<file>: no column 'name' (columns: ...)".
    std::size_t column(std::string_view name) const;

    // Moves to the next data row (blank lines are skipped); false after the last one. InputError
    // on a row with another number of cells than the header, or an unterminated quote.
    bool next();

    // 1-based line number of the current row (of its first line, for a quoted line break).
    std::size_t line() const { return line_; }

    // Cell col of the current row, unquoted.
    std::string_view cell(std::size_t col) const;

    // Cell col read as a number: the whole cell, as std::from_chars reads it (for reals also
    // "nan", "inf", "-inf"). InputError "<file> line N, column 'x': 'abc' is not an integer"
    // (or "a number") otherwise, also for an empty cell.
    std::int64_t integer(std::size_t col) const;
    double real(std::size_t col) const;
    float realFloat(std::size_t col) const;
    // As real(), but an empty cell is nullopt.
    std::optional<double> optionalReal(std::size_t col) const;

    // "<file> line N, column 'name': " + what, as an InputError (for checks of a cell's meaning).
    [[noreturn]] void fail(std::size_t col, std::string_view what) const;

private:
    bool readRow(std::vector<std::string>& cells);

    std::filesystem::path file_;
    std::string text_;
    std::size_t pos_ = 0;
    std::size_t nextLine_ = 1;
    std::size_t line_ = 0;
    std::vector<std::string> header_;
    std::vector<std::string> cells_;
};

}  // namespace lp::core::io
