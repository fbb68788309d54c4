// Help > Shortcuts (issue 13): every keyboard shortcut of the window, read from its actions (so
// the page cannot go stale), grouped by menu, plus the gestures that are not actions (chart mouse
// gestures, keys a widget handles itself). GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QDialog>
#include <QString>

class QTextBrowser;

namespace lp::ui {

// Adds an entry that no QAction carries (e.g. a widget's own keys) under section. Entries with
// keys that an action already lists are not repeated.
void registerGesture(const QString& section, const QString& keys, const QString& what);

// The page as HTML: one table row per shortcut or gesture.
QString shortcutsHtml(const QWidget* window);

class ShortcutsDialog : public QDialog {
    Q_OBJECT

public:
    // Reads window's actions each time it is shown.
    explicit ShortcutsDialog(QWidget* window);

    QTextBrowser* page() const { return page_; }

protected:
    void showEvent(QShowEvent* event) override;

private:
    QWidget* window_ = nullptr;
    QTextBrowser* page_ = nullptr;
};

}  // namespace lp::ui
