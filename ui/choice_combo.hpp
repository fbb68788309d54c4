// Combo boxes of experiment choices, filled from core/choices.hpp's tables: each item shows the
// table's label and carries the table's name as its data (what findData and tests look up), so
// the studio's choices are the config's choices. The studio's own vocabularies (compare variants,
// themes) have ChoiceTables too and read their names and labels through the same functions.
// GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/choices.hpp"

#include <QComboBox>
#include <QString>

#include <algorithm>
#include <span>
#include <string_view>

namespace lp::ui {

// A table's UTF-8 text as a QString.
inline QString tableText(std::string_view text) {
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

// value's name ("ema") as a QString, e.g. for palette::policyColor.
template <core::ChoiceEnum E>
QString choiceKey(E value) {
    return tableText(core::choiceName(value));
}

// value's label ("EMA reconstruction (LayerPipe2)") as a QString; its name when it has none.
template <core::ChoiceEnum E>
QString choiceText(E value) {
    return tableText(core::choiceLabel(value));
}

// A combo box (child of parent) listing `order` (default: every value of E, in table order).
template <core::ChoiceEnum E>
QComboBox* makeChoiceCombo(QWidget* parent, std::span<const E> order = {}) {
    auto* combo = new QComboBox(parent);
    static constexpr auto kAll = core::choiceValues<E>();
    for (const E value : order.empty() ? std::span<const E>(kAll) : order) {
        combo->addItem(choiceText(value), choiceKey(value));
    }
    return combo;
}

// The choice the combo shows (E's first value when it shows none of E's names).
template <core::ChoiceEnum E>
E choiceOf(const QComboBox* combo) {
    return core::parseChoice<E>(combo->currentData().toString().toStdString())
        .value_or(core::choices<E>().front().value);
}

// Shows `value` (the first item when the combo does not list it).
template <core::ChoiceEnum E>
void selectChoice(QComboBox* combo, E value) {
    combo->setCurrentIndex(std::max(combo->findData(choiceKey(value)), 0));
}

}  // namespace lp::ui
