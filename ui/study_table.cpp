// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/study_table.hpp"

#include "ui/palette.hpp"

#include <QBrush>
#include <QColor>

#include <array>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

namespace lp::ui {

namespace {

using core::io::StudyCell;
using core::io::studyColumn;

enum class Format : std::uint8_t { Text, Percent, MiB, Integer, Real };

struct Column {
    std::string_view name;  // in results.csv
    const char* header;     // in the table
    Format format;
};

// What the study is about first (accuracy, memory, bubble, speed), then what the run was.
constexpr std::array<Column, 32> kColumns = {{
    {"label", "run", Format::Text},
    {"policy", "policy", Format::Text},
    {"final_top1", "test top-1", Format::Percent},
    {"best_top1", "best top-1", Format::Percent},
    {"final_loss", "test loss", Format::Real},
    {"history_bytes", "weight history", Format::MiB},
    {"history_forecast_bytes", "forecast", Format::MiB},
    {"recon_error_mean", "recon. error (mean)", Format::Real},
    {"bubble", "bubble", Format::Percent},
    {"mean_staleness", "mean staleness", Format::Real},
    {"images_per_second", "images/s", Format::Real},
    {"wall_seconds", "wall time (s)", Format::Real},
    {"diverged", "diverged", Format::Text},
    {"stages", "K", Format::Integer},
    {"delays", "delays", Format::Text},
    {"delay_schedule", "delay schedule", Format::Text},
    {"schedule", "schedule", Format::Text},
    {"optimizer", "optimizer", Format::Text},
    {"lr", "lr", Format::Real},
    {"seed", "seed", Format::Integer},
    {"width", "width", Format::Integer},
    {"dataset", "dataset", Format::Text},
    {"epochs", "epochs", Format::Integer},
    {"steps", "steps", Format::Integer},
    {"final_top5", "test top-5", Format::Percent},
    {"best_top5", "best top-5", Format::Percent},
    {"best_loss", "best loss", Format::Real},
    {"final_recal_top1", "top-1 (BN recal.)", Format::Percent},
    {"recon_error_max", "recon. error (max)", Format::Real},
    {"utilisation", "utilisation", Format::Percent},
    {"run_id", "run id", Format::Text},
    {"folder", "folder", Format::Text},
}};

const Column* columnSpec(std::size_t studyCol) {
    for (const Column& c : kColumns) {
        if (c.name == core::io::kStudyColumns[studyCol]) {
            return &c;
        }
    }
    return nullptr;
}

QString realText(double v) {
    const double a = std::abs(v);
    if (a != 0.0 && (a < 1e-3 || a >= 1e6)) {
        return QString::number(v, 'g', 3);
    }
    return QString::number(v, 'f', a >= 100.0 ? 0 : a >= 10.0 ? 1 : 3);
}

}  // namespace

StudyTableModel::StudyTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void StudyTableModel::setRows(std::vector<core::io::StudyRow> rows) {
    beginResetModel();
    rows_ = std::move(rows);
    endResetModel();
}

int StudyTableModel::studyColumnOf(int column) {
    if (column < 0 || column >= static_cast<int>(kColumns.size())) {
        return -1;
    }
    return static_cast<int>(studyColumn(kColumns[static_cast<std::size_t>(column)].name));
}

int StudyTableModel::columnOf(const QString& name) {
    for (std::size_t i = 0; i < kColumns.size(); ++i) {
        if (name == QLatin1String(kColumns[i].name.data(),
                                  static_cast<qsizetype>(kColumns[i].name.size()))) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

QString StudyTableModel::displayText(std::size_t studyCol, const StudyCell& cell) {
    const Column* spec = columnSpec(studyCol);
    if (spec == nullptr || !cell.number) {
        return QString::fromStdString(cell.text);
    }
    const double v = *cell.number;
    if (!std::isfinite(v)) {
        return QString::fromStdString(cell.text);  // "nan", "inf": as the study wrote it
    }
    switch (spec->format) {
        case Format::Percent:
            return QStringLiteral("%1 %").arg(100.0 * v, 0, 'f', 1);
        case Format::MiB:
            return QStringLiteral("%1 MiB").arg(v / (1024.0 * 1024.0), 0, 'f', 2);
        case Format::Integer:
            return QString::fromStdString(cell.text);
        case Format::Real:
            return realText(v);
        case Format::Text:
            break;
    }
    return QString::fromStdString(cell.text);
}

int StudyTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int StudyTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(kColumns.size());
}

QVariant StudyTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) {
        return {};
    }
    const core::io::StudyRow& row = rows_[static_cast<std::size_t>(index.row())];
    const auto studyCol = static_cast<std::size_t>(studyColumnOf(index.column()));
    const StudyCell& cell = row.cells[studyCol];
    switch (role) {
        case Qt::DisplayRole:
            return displayText(studyCol, cell);
        case kSortRole:
            if (core::io::studyColumnIsNumeric(studyCol)) {
                // Empty (not applicable) and NaN below every number, in either sort order's end.
                const double v = cell.number.value_or(std::numeric_limits<double>::quiet_NaN());
                return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
            }
            return QString::fromStdString(cell.text);
        case Qt::TextAlignmentRole:
            return QVariant::fromValue(core::io::studyColumnIsNumeric(studyCol)
                                           ? Qt::AlignRight | Qt::AlignVCenter
                                           : Qt::AlignLeft | Qt::AlignVCenter);
        case Qt::BackgroundRole:
            if (row.diverged()) {
                return QBrush(palette::withAlpha(palette::okabeIto(3), 45));
            }
            return {};
        case Qt::ToolTipRole: {
            QString tip = QStringLiteral("%1 = %2 (results.csv line %3)")
                              .arg(QLatin1String(core::io::kStudyColumns[studyCol].data()),
                                   QString::fromStdString(cell.text),
                                   QString::number(row.line));
            if (row.diverged()) {
                tip += QStringLiteral("\nThis run diverged (a non-finite loss).");
            }
            return tip + QStringLiteral("\nDouble click or Enter: open the run in the charts.");
        }
        default:
            return {};
    }
}

QVariant StudyTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= columnCount()) {
        return QAbstractTableModel::headerData(section, orientation, role);
    }
    const Column& c = kColumns[static_cast<std::size_t>(section)];
    if (role == Qt::DisplayRole) {
        return QString::fromUtf8(c.header);
    }
    if (role == Qt::ToolTipRole) {
        return QStringLiteral("results.csv column %1").arg(QLatin1String(c.name.data()));
    }
    return {};
}

}  // namespace lp::ui
