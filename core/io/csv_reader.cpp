// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/csv_reader.hpp"

#include "core/data/file_bytes.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <system_error>

namespace lp::core::io {

namespace {

// std::from_chars over the whole cell; ignores the locale (a Qt application sets LC_ALL).
template <typename T>
bool parseWhole(std::string_view s, T& out) {
    if (s.empty()) {
        return false;
    }
    const char* end = s.data() + s.size();
    const auto r = std::from_chars(s.data(), end, out);
    return r.ec == std::errc{} && r.ptr == end;
}

}  // namespace

std::string readTextFile(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
        throw InputError(concat(file.string(), " does not exist"));
    }
    const std::vector<std::uint8_t> bytes = data::readFileBytes(file);
    return {bytes.begin(), bytes.end()};
}

CsvReader::CsvReader(const std::filesystem::path& file) : file_(file), text_(readTextFile(file)) {
    if (!readRow(header_)) {
        throw InputError(concat(file_.string(), " is empty (a header row was expected)"));
    }
}

std::optional<std::size_t> CsvReader::findColumn(std::string_view name) const {
    const auto it = std::find(header_.begin(), header_.end(), name);
    if (it == header_.end()) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(it - header_.begin());
}

std::size_t CsvReader::column(std::string_view name) const {
    if (const auto c = findColumn(name)) {
        return *c;
    }
    std::ostringstream columns;
    for (std::size_t i = 0; i < header_.size(); ++i) {
        columns << (i == 0 ? "" : ", ") << header_[i];
    }
    throw InputError(
        concat(file_.string(), ": no column '", name, "' (columns: ", columns.str(), ")"));
}

// One record: cells up to the next unquoted line end. Quoted cells may hold ',' and line breaks,
// and "" stands for one quote. Returns false at the end of the text.
bool CsvReader::readRow(std::vector<std::string>& cells) {
    // Skip blank lines (a final '\n', or "\r\n").
    while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
        if (text_[pos_] == '\n') {
            ++nextLine_;
        }
        ++pos_;
    }
    if (pos_ >= text_.size()) {
        return false;
    }
    line_ = nextLine_;
    std::size_t n = 0;
    const auto cellAt = [&cells](std::size_t i) -> std::string& {
        if (i >= cells.size()) {
            cells.emplace_back();
        }
        cells[i].clear();
        return cells[i];
    };
    std::string* cur = &cellAt(n++);
    bool quoted = false;
    while (pos_ < text_.size()) {
        const char c = text_[pos_++];
        if (quoted) {
            if (c == '"' && pos_ < text_.size() && text_[pos_] == '"') {
                cur->push_back('"');
                ++pos_;
            } else if (c == '"') {
                quoted = false;
            } else {
                nextLine_ += c == '\n' ? 1 : 0;
                cur->push_back(c);
            }
        } else if (c == '"' && cur->empty()) {
            quoted = true;
        } else if (c == ',') {
            cur = &cellAt(n++);
        } else if (c == '\n') {
            ++nextLine_;
            break;
        } else if (c != '\r') {
            cur->push_back(c);
        }
    }
    if (quoted) {
        throw InputError(concat(
            file_.string(), " line ", line_, ": a quoted cell is not closed before the end"));
    }
    cells.resize(n);
    return true;
}

bool CsvReader::next() {
    if (!readRow(cells_)) {
        return false;
    }
    if (cells_.size() != header_.size()) {
        throw InputError(concat(file_.string(),
                                " line ",
                                line_,
                                ": ",
                                cells_.size(),
                                " cells, but the header has ",
                                header_.size(),
                                " columns"));
    }
    return true;
}

std::string_view CsvReader::cell(std::size_t col) const {
    LP_EXPECTS(col < cells_.size(), concat("no cell ", col, " in the current row"));
    return cells_[col];
}

void CsvReader::fail(std::size_t col, std::string_view what) const {
    const std::string name = col < header_.size() ? header_[col] : std::to_string(col);
    throw InputError(concat(file_.string(), " line ", line_, ", column '", name, "': ", what));
}

std::int64_t CsvReader::integer(std::size_t col) const {
    std::int64_t v = 0;
    if (!parseWhole(cell(col), v)) {
        fail(col, concat("'", cell(col), "' is not an integer"));
    }
    return v;
}

double CsvReader::real(std::size_t col) const {
    double v = 0.0;
    if (!parseWhole(cell(col), v)) {
        fail(col, concat("'", cell(col), "' is not a number"));
    }
    return v;
}

float CsvReader::realFloat(std::size_t col) const {
    float v = 0.0F;
    if (!parseWhole(cell(col), v)) {
        fail(col, concat("'", cell(col), "' is not a number"));
    }
    return v;
}

std::optional<double> CsvReader::optionalReal(std::size_t col) const {
    if (cell(col).empty()) {
        return std::nullopt;
    }
    return real(col);
}

}  // namespace lp::core::io
