#!/usr/bin/env bash
# Install test (CTest label install, issue 13): installs the build into a fresh DESTDIR with
# prefix /usr, as the .deb lays it out, and checks what a user of the package gets: every file in
# place, both programs running from there with their data from the DESTDIR's share/layerpipe (the
# test hides that folder once and the studio must name it: no fallback to the source or build
# tree), man pages true to the programs' --help, and the desktop and AppStream files valid
# (desktop-file-validate and appstreamcli, when installed). Exits non-zero at the first failure.
# Usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR APP_ID VERSION RELEASE_DATE HAVE_STUDIO(0|1)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cmake=$1 build=$2 src=$3 id=$4 version=$5 date=$6 studio=$7

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lp-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
share=$root/usr/share
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
step() { echo "--- $*"; }

step "cmake --install $build --prefix /usr with DESTDIR=$root"
DESTDIR=$root "$cmake" --install "$build" --prefix /usr >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "cmake --install failed"; }

step "installed files"
doc=usr/share/doc/layerpipe-studio
expect=(usr/bin/layerpipe usr/share/man/man1/layerpipe.1.gz "$doc/copyright" "$doc/changelog.Debian.gz")
if [ "$studio" = 1 ]; then
    expect+=(usr/bin/layerpipe-studio usr/share/man/man1/layerpipe-studio.1.gz
             "usr/share/applications/$id.desktop" "usr/share/metainfo/$id.metainfo.xml"
             "usr/share/icons/hicolor/scalable/apps/$id.svg")
fi
for f in "${expect[@]}"; do
    [ -s "$root/$f" ] || fail "$f is not installed"
done
for f in usr/bin/layerpipe usr/bin/layerpipe-studio; do
    [ ! -e "$root/$f" ] || [ -x "$root/$f" ] || fail "$f is not executable"
done
top=$(gzip -dc "$root/$doc/changelog.Debian.gz" | sed -n 1p)
[[ "$top" == "layerpipe-studio ($version-1) "* ]] ||
    fail "packaging/changelog.Debian starts with [$top], not an entry for $version-1"
# Every preset of the source tree, and nothing else (a file missing from resources/CMakeLists.txt).
want=$(cd "$src/resources/presets" && echo *.json)
got=$(cd "$share/layerpipe/presets" && echo *.json)
[ "$want" = "$got" ] || fail "installed presets differ from resources/presets: got [$got], want [$want]"
if [ "$studio" = 1 ]; then
    for size in 16 24 32 48 64 128 256 512; do
        png=$share/icons/hicolor/${size}x${size}/apps/$id.png
        [ -s "$png" ] || fail "$png is not installed"
        # PNG signature, then IHDR's width and height (big-endian, bytes 16..23).
        [ "$(od -An -tx1 -N8 "$png" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
        read -r w0 w1 w2 w3 h0 h1 h2 h3 < <(od -An -tu1 -j16 -N8 "$png")
        w=$(((w0 << 24) | (w1 << 16) | (w2 << 8) | w3)) h=$(((h0 << 24) | (h1 << 16) | (h2 << 8) | h3))
        if [ "$w" != "$size" ] || [ "$h" != "$size" ]; then
            fail "$png is ${w}x$h, not ${size}x$size"
        fi
    done
fi

# The programs run from a scratch folder with a scratch HOME: nothing of the source or build tree
# is the current folder, and no user settings are read or written.
mkdir -p "$tmp/work" "$tmp/home"
cd "$tmp/work"
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_CACHE_HOME=$tmp/home/.cache
unset LAYERPIPE_DATA LP_ISA

step "installed layerpipe --version"
out=$("$root/usr/bin/layerpipe" --version) || fail "layerpipe --version exited $?"
grep -qx "layerpipe $version" <<<"$out" || fail "layerpipe --version says [$out], want layerpipe $version"

step "installed layerpipe run, with a lesson preset from the DESTDIR as --config"
presets=("$share"/layerpipe/presets/*.json)
preset=$share/layerpipe/presets/03-ema-saves-memory.json
[ -f "$preset" ] || preset=${presets[0]}
"$root/usr/bin/layerpipe" run --config "$preset" --dataset synthetic --width 4 --batch-size 8 \
    --epochs 1 --max-steps 12 --set data.syntheticTrain=96 --set data.syntheticTest=16 \
    --set model.inputSize=16 --threads 2 --out "$tmp/run" >"$tmp/run.log" 2>&1 ||
    { cat "$tmp/run.log"; fail "layerpipe run exited non-zero"; }
for f in train.csv ops.csv run.json trace.json experiment.json; do
    [ -s "$tmp/run/$f" ] || { cat "$tmp/run.log"; fail "layerpipe run wrote no $f"; }
done
name=$(sed -n 's/^ *"name": *"\(.*\)",\{0,1\}$/\1/p;T;q' "$preset")
grep -qF "\"name\": \"$name\"" "$tmp/run/experiment.json" ||
    fail "the run's experiment.json does not carry the preset's name [$name]"

if [ "$studio" = 1 ]; then
    studio_bin=$root/usr/bin/layerpipe-studio
    export QT_QPA_PLATFORM=offscreen
    step "installed layerpipe-studio --lesson 3 --screenshot (offscreen)"
    "$studio_bin" --lesson 3 --screenshot "$tmp/shot.png" --after 1 >"$tmp/studio.log" 2>&1 ||
        { cat "$tmp/studio.log"; fail "layerpipe-studio exited non-zero"; }
    if grep -E "could not be loaded|no lesson|cannot find" "$tmp/studio.log"; then
        fail "layerpipe-studio did not find its lessons in $share/layerpipe/presets"
    fi
    [ "$(od -An -tx1 -N8 "$tmp/shot.png" | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "the screenshot is not a PNG"
    [ "$(wc -c <"$tmp/shot.png")" -gt 20000 ] || fail "the screenshot is nearly empty"

    step "layerpipe-studio with the DESTDIR's presets hidden names the folder it looked in"
    mv "$share/layerpipe/presets" "$share/layerpipe/presets.hidden"
    "$studio_bin" --lesson 3 --screenshot "$tmp/shot2.png" --after 0.2 >"$tmp/studio2.log" 2>&1 || true
    mv "$share/layerpipe/presets.hidden" "$share/layerpipe/presets"
    grep -qF "$share/layerpipe/presets does not exist" "$tmp/studio2.log" ||
        { cat "$tmp/studio2.log"; fail "no error naming $share/layerpipe/presets"; }
    grep -qF "there is no lesson 3" "$tmp/studio2.log" ||
        { cat "$tmp/studio2.log"; fail "the studio found lessons elsewhere than $share/layerpipe"; }
fi

# Flags as --help lists them (CLI11 and QCommandLineParser), one per line.
help_flags() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
man_flags() { gzip -dc "$1" | grep -v '^\.\\"' | sed 's/\\-/-/g' | help_flags; }
check_man() {  # check_man PAGE HELP_FLAGS
    local page=$share/man/man1/$1.1.gz documented missing unknown warnings
    documented=$(man_flags "$page")
    missing=$(comm -23 <(echo "$2") <(echo "$documented") | tr '\n' ' ')
    [ -z "$missing" ] || fail "$1.1 does not describe $missing(see $1 --help)"
    unknown=$(comm -13 <(echo "$2") <(echo "$documented") | tr '\n' ' ')
    [ -z "$unknown" ] || fail "$1.1 describes ${unknown}which $1 --help does not list"
    if command -v groff >/dev/null; then
        warnings=$(gzip -dc "$page" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1)
        [ -z "$warnings" ] || fail "$1.1 renders with warnings: $warnings"
    fi
}
step "man pages against --help"
cli_help=$(for cmd in "" train run eval bench study; do "$root/usr/bin/layerpipe" $cmd --help; done | help_flags)
check_man layerpipe "$cli_help"
if [ "$studio" = 1 ]; then
    check_man layerpipe-studio "$("$studio_bin" --help | help_flags)"
fi

if [ "$studio" = 1 ]; then
    step "desktop entry and AppStream metainfo"
    desktop=$share/applications/$id.desktop
    metainfo=$share/metainfo/$id.metainfo.xml
    exec_bin=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$desktop")
    [ -x "$root/usr/bin/$exec_bin" ] || fail "$desktop runs $exec_bin, which is not installed"
    grep -qx "Icon=$id" "$desktop" || fail "$desktop does not name the icon $id"
    grep -qF "<id>$id</id>" "$metainfo" || fail "$metainfo does not have the id $id"
    grep -qF "<launchable type=\"desktop-id\">$id.desktop</launchable>" "$metainfo" ||
        fail "$metainfo does not launch $id.desktop"
    grep -qF "<release version=\"$version\" date=\"$date\"" "$metainfo" ||
        fail "$metainfo has no release $version dated $date (packaging/CMakeLists.txt)"
    if command -v desktop-file-validate >/dev/null; then
        out=$(desktop-file-validate "$desktop" 2>&1) || fail "desktop-file-validate: $out"
        [ -z "$out" ] || fail "desktop-file-validate: $out"
    else
        echo "desktop-file-validate not installed (desktop-file-utils): skipped"
    fi
    if command -v appstreamcli >/dev/null; then
        appstreamcli validate --no-net "$metainfo" >"$tmp/appstream.log" 2>&1 ||
            { cat "$tmp/appstream.log"; fail "appstreamcli validate --no-net failed"; }
    else
        echo "appstreamcli not installed (appstream): skipped"
    fi
fi
echo "install test passed: $root"
