// The studio's decimal input fields (learning rate, EMA β, adaptive drift): one place that sets a
// QDoubleSpinBox's range, precision, step and prefix. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QDoubleSpinBox>
#include <QString>

namespace lp::ui {

struct DecimalField {
    double lo = 0.0;  // the range [lo, hi]
    double hi = 1.0;
    int decimals = 2;    // digits after the point
    double step = 0.01;  // one arrow key or wheel step
    QString prefix;      // shown before the value: "lr ", "τ = "
};

// A spin box (child of parent) for field.
inline QDoubleSpinBox* makeDecimalField(QWidget* parent, const DecimalField& field) {
    auto* spin = new QDoubleSpinBox(parent);
    spin->setRange(field.lo, field.hi);
    spin->setDecimals(field.decimals);
    spin->setSingleStep(field.step);
    spin->setPrefix(field.prefix);
    return spin;
}

}  // namespace lp::ui
