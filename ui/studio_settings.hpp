// Where the studio keeps what it remembers between runs (issue 13): window geometry and dock
// layout, dashboard, theme, chart zoom, legends, recent experiments. QSettings in the user's
// scope (~/.config/LayerPipe/LayerPipe Studio.conf) unless redirected: the UI tests point it at a
// scratch file or switch it off, so they never depend on (or change) a user's settings, and
// --screenshot switches it off so that scripted pictures are reproducible. GUI thread only.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QStringList>

#include <memory>

class QSettings;

namespace lp::ui::settings {

// Read and write this INI file instead of the user's settings.
void useFile(const QString& path);

// Read nothing, write nothing (open() returns nullptr) until useFile() or useUserSettings().
void disable();

// Back to the user's settings.
void useUserSettings();

bool enabled();

// The settings to read or write now; nullptr when disabled.
std::unique_ptr<QSettings> open();

// Recent experiment files, newest first, at most kMaxRecent, kept in the settings (and in memory
// while they are disabled, for this process).
constexpr int kMaxRecent = 8;
QStringList recentFiles();
void addRecentFile(const QString& path);
void removeRecentFile(const QString& path);
void clearRecentFiles();

}  // namespace lp::ui::settings
