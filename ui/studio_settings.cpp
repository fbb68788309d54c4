// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/studio_settings.hpp"

#include <QFileInfo>
#include <QSettings>

namespace lp::ui::settings {

namespace {

enum class Mode { User, File, Off };

Mode gMode = Mode::User;
QString gFile;
QStringList gRecentInMemory;  // while disabled

const char* const kRecentKey = "recentExperiments";

void storeRecent(const QStringList& list) {
    if (auto s = open()) {
        s->setValue(QLatin1String(kRecentKey), list);
    } else {
        gRecentInMemory = list;
    }
}

}  // namespace

void useFile(const QString& path) {
    gMode = Mode::File;
    gFile = path;
}

void disable() {
    gMode = Mode::Off;
}

void useUserSettings() {
    gMode = Mode::User;
}

bool enabled() {
    return gMode != Mode::Off;
}

std::unique_ptr<QSettings> open() {
    switch (gMode) {
        case Mode::Off:
            return nullptr;
        case Mode::File:
            return std::make_unique<QSettings>(gFile, QSettings::IniFormat);
        case Mode::User:
            break;
    }
    return std::make_unique<QSettings>(QStringLiteral("LayerPipe"),
                                       QStringLiteral("LayerPipe Studio"));
}

QStringList recentFiles() {
    if (auto s = open()) {
        return s->value(QLatin1String(kRecentKey)).toStringList();
    }
    return gRecentInMemory;
}

void addRecentFile(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList list = recentFiles();
    list.removeAll(absolute);
    list.prepend(absolute);
    while (list.size() > kMaxRecent) {
        list.removeLast();
    }
    storeRecent(list);
}

void removeRecentFile(const QString& path) {
    QStringList list = recentFiles();
    list.removeAll(path);
    storeRecent(list);
}

void clearRecentFiles() {
    storeRecent({});
}

}  // namespace lp::ui::settings
