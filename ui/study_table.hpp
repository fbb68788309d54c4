// The Study view's table: a study's results.csv (core/io/study_results.hpp), one row per run, the
// guaranteed columns only (extra ones are not shown), the figures that answer the study's
// question first. Top-1, top-5, utilisation and bubble are shown as percentages, bytes as MiB;
// kSortRole gives numbers as numbers (an empty or NaN cell sorts below every number), so a
// QSortFilterProxyModel sorts them numerically. Diverged runs get a tinted row and a tooltip.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/io/study_results.hpp"

#include <QAbstractTableModel>
#include <QString>

#include <vector>

namespace lp::ui {

class StudyTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    // Role of the value to sort by: a double for numeric columns, the text otherwise.
    static constexpr int kSortRole = Qt::UserRole + 1;

    explicit StudyTableModel(QObject* parent = nullptr);

    // Replaces every row (a model reset).
    void setRows(std::vector<core::io::StudyRow> rows);

    const std::vector<core::io::StudyRow>& rows() const { return rows_; }

    // The results.csv column (a kStudyColumns name) that table column `column` shows; -1 if none.
    static int studyColumnOf(int column);
    // Table column showing the results.csv column `name`; -1 if it is not shown.
    static int columnOf(const QString& name);

    // The text shown for cell of the guaranteed column `studyColumn`: "87.1 %", "1.25 MiB", ...
    static QString displayText(std::size_t studyColumn, const core::io::StudyCell& cell);

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section,
                        Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    std::vector<core::io::StudyRow> rows_;
};

}  // namespace lp::ui
