// UnitStrip: the model's units as a horizontal strip of blocks coloured by pipeline stage; clicking
// the gap between two units toggles a cut there. From the keyboard (the strip takes focus with Tab
// or a click): Left/Right move between the gaps, Home/End go to the first/last gap, Space or
// Enter toggles a cut at the focused gap. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QStringList>
#include <QWidget>

#include <cstdint>
#include <vector>

namespace lp::ui {

class UnitStrip : public QWidget {
    Q_OBJECT

public:
    explicit UnitStrip(QWidget* parent = nullptr);

    // Unit names and trainable floats (for tooltips); cuts that no longer fit are dropped.
    void setUnits(const QStringList& names, const std::vector<std::int64_t>& params);
    // Cuts c in [1, unitCount − 1] (a cut starts a new stage at unit c); sorted, duplicates and
    // out-of-range entries dropped. Emits cutsChanged when the set changes.
    void setCuts(std::vector<std::int64_t> cuts);
    void toggleCut(std::int64_t cut);

    const std::vector<std::int64_t>& cuts() const { return cuts_; }

    int unitCount() const { return static_cast<int>(names_.size()); }

    int stageCount() const { return static_cast<int>(cuts_.size()) + 1; }

    int stageOfUnit(int unit) const;

    // Widget coordinates of the middle of the gap before unit `cut` (what a click toggles), and
    // of unit u's block.
    QPoint gapCenter(int cut) const;
    QRect blockRect(int unit) const;
    // The cut whose gap is at pos (within a few pixels), or 0 if none.
    int cutAt(const QPoint& pos) const;

    // The gap the keyboard acts on, in [1, unitCount − 1] (0 while there is no gap).
    int focusedGap() const { return focusGap_; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

signals:
    void cutsChanged();

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    bool event(QEvent* event) override;

private:
    static QString shortName(const QString& name);
    double blockWidth() const;

    QStringList names_;
    std::vector<std::int64_t> params_;
    std::vector<std::int64_t> cuts_;
    int hoverCut_ = 0;
    int focusGap_ = 0;
};

}  // namespace lp::ui
