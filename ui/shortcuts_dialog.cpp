// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/shortcuts_dialog.hpp"

#include <QAction>
#include <QDialogButtonBox>
#include <QMenu>
#include <QTextBrowser>
#include <QToolBar>
#include <QVBoxLayout>

#include <map>
#include <set>
#include <utility>
#include <vector>

namespace lp::ui {

namespace {

struct Entry {
    QString keys;
    QString what;
};

// Sections in the order they are shown; registered gestures come after the menus.
std::vector<std::pair<QString, std::vector<Entry>>>& gestures() {
    static std::vector<std::pair<QString, std::vector<Entry>>> list = {
        {QStringLiteral("Charts (mouse)"),
         {{QStringLiteral("Drag / wheel"),
           QStringLiteral("scroll / zoom the chart (the timeline "
                          "stops following live)")},
          {QStringLiteral("Double click"),
           QStringLiteral("fit the data again (the timeline follows live again)")},
          {QStringLiteral("Double click on a title"),
           QStringLiteral("enlarge the chart alone, or go back")},
          {QStringLiteral("Click a legend entry"), QStringLiteral("hide or show that series")},
          {QStringLiteral("Right click"), QStringLiteral("export the chart (PNG, PDF, SVG)")},
          {QStringLiteral("Hover"),
           QStringLiteral("values (minibatch and weight version on the "
                          "timeline)")}}},
        {QStringLiteral("Pipeline editor"),
         {{QStringLiteral("← / →"), QStringLiteral("move between unit boundaries (strip focused)")},
          {QStringLiteral("Home / End"), QStringLiteral("the first / last boundary")},
          {QStringLiteral("Space / Enter"), QStringLiteral("cut or join at that boundary")},
          {QStringLiteral("Ctrl+Z"),
           QStringLiteral("undo the last pipeline edit (editor focused)")},
          {QStringLiteral("Ctrl+Shift+Z / Ctrl+Y"), QStringLiteral("redo it")}}},
        {QStringLiteral("Lessons"),
         {{QStringLiteral("Double click / Enter"), QStringLiteral("run the lesson")}}},
    };
    return list;
}

QString plain(QString text) {
    text.remove(QLatin1Char('&'));
    text.remove(QStringLiteral("…"));
    return text.trimmed();
}

QString sectionOf(const QAction* action) {
    for (const QObject* o : action->associatedObjects()) {
        if (const auto* menu = qobject_cast<const QMenu*>(o)) {
            // A submenu (Theme) names its parent menu too.
            QString title = plain(menu->title());
            if (const auto* parent = qobject_cast<const QMenu*>(menu->parentWidget())) {
                title = plain(parent->title()) + QStringLiteral(" › ") + title;
            }
            return title;
        }
        if (qobject_cast<const QToolBar*>(o) != nullptr) {
            return QStringLiteral("Run");
        }
    }
    return QStringLiteral("Window");
}

}  // namespace

void registerGesture(const QString& section, const QString& keys, const QString& what) {
    for (auto& [name, entries] : gestures()) {
        if (name == section) {
            entries.push_back({keys, what});
            return;
        }
    }
    gestures().push_back({section, {{keys, what}}});
}

QString shortcutsHtml(const QWidget* window) {
    std::map<QString, std::vector<Entry>> bySection;
    std::vector<QString> order;
    std::set<QString> seenKeys;
    for (const QAction* action : window->findChildren<QAction*>()) {
        if (action->shortcuts().isEmpty()) {
            continue;
        }
        QStringList keys;
        for (const QKeySequence& k : action->shortcuts()) {
            keys << k.toString(QKeySequence::NativeText);
        }
        const QString joined = keys.join(QStringLiteral("  or  "));
        if (!seenKeys.insert(joined).second) {
            continue;
        }
        const QString section = sectionOf(action);
        if (bySection.find(section) == bySection.end()) {
            order.push_back(section);
        }
        const QString what =
            action->toolTip().isEmpty() || action->toolTip() == plain(action->text())
                ? plain(action->text())
                : QStringLiteral("%1 — %2").arg(plain(action->text()), action->toolTip());
        bySection[section].push_back({joined, what});
    }
    QString html = QStringLiteral(
        "<h3>Keyboard shortcuts</h3><table cellspacing='0' "
        "cellpadding='3'>");
    const auto addRows = [&html](const QString& section, const std::vector<Entry>& entries) {
        html += QStringLiteral("<tr><td colspan='2'><br><b>%1</b></td></tr>")
                    .arg(section.toHtmlEscaped());
        for (const Entry& e : entries) {
            html += QStringLiteral(
                        "<tr><td style='white-space:nowrap'><tt>%1</tt>&nbsp;&nbsp;"
                        "</td><td>%2</td></tr>")
                        .arg(e.keys.toHtmlEscaped(), e.what.toHtmlEscaped());
        }
    };
    for (const QString& section : order) {
        addRows(section, bySection[section]);
    }
    for (const auto& [section, entries] : gestures()) {
        std::vector<Entry> fresh;
        for (const Entry& e : entries) {
            if (seenKeys.count(e.keys) == 0) {
                fresh.push_back(e);
            }
        }
        if (!fresh.empty()) {
            addRows(section, fresh);
        }
    }
    html += QStringLiteral("</table>");
    return html;
}

ShortcutsDialog::ShortcutsDialog(QWidget* window) : QDialog(window), window_(window) {
    setWindowTitle(QStringLiteral("Shortcuts — LayerPipe Studio"));
    auto* box = new QVBoxLayout(this);
    page_ = new QTextBrowser(this);
    page_->setOpenLinks(false);
    box->addWidget(page_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::close);
    box->addWidget(buttons);
    resize(620, 640);
}

void ShortcutsDialog::showEvent(QShowEvent* event) {
    page_->setHtml(shortcutsHtml(window_));
    QDialog::showEvent(event);
}

}  // namespace lp::ui
