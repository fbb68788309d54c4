// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/share_dir.hpp"

#include "core/error.hpp"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace lp::ui {

QString shareDir() {
    // applicationDirPath() follows /proc/self/exe, so a symlink to the program (e.g. from
    // /usr/local/bin) still finds the data beside the real binary.
    return QDir::cleanPath(QCoreApplication::applicationDirPath() +
                           QStringLiteral("/../share/layerpipe"));
}

QString requireShareSubdir(const QString& sub, const QString& what) {
    QString dir = shareDir() + QLatin1Char('/') + sub;
    if (QFileInfo(dir).isDir()) {
        return dir;
    }
    throw core::InputError(
        core::concat("cannot find ",
                     what.toStdString(),
                     ": the folder ",
                     dir.toStdString(),
                     " does not exist (looked in <program folder>/../share/layerpipe/",
                     sub.toStdString(),
                     " for the program ",
                     QCoreApplication::applicationFilePath().toStdString(),
                     "). Reinstall the package; in a build tree, build the target lp_share "
                     "(cmake --build <build dir>) to stage the files."));
}

}  // namespace lp::ui
