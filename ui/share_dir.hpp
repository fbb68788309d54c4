// Where the programs' data files live: <folder of the executable>/../share/layerpipe. One rule,
// no fallback (docs/packaging.md): installed, /usr/bin/layerpipe-studio reads /usr/share/layerpipe
// (any prefix or DESTDIR, relocatable); in a build tree, build/app/ and build/tests/ read
// build/share/layerpipe, which resources/CMakeLists.txt stages at build time. Never the source
// tree, never a system folder, so an installed program cannot pick up another copy's files.
// Needs a QCoreApplication; thread-safe after that.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

namespace lp::ui {

// <applicationDirPath>/../share/layerpipe as a clean absolute path, whether it exists or not.
QString shareDir();

// shareDir()/sub, e.g. sub "presets", what "the lesson presets". Throws core::InputError saying
// what is missing, the folder it looked for and the executable that folder comes from.
QString requireShareSubdir(const QString& sub, const QString& what);

}  // namespace lp::ui
