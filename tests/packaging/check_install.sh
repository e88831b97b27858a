#!/usr/bin/env bash
# Installs caboose from a build tree (cmake --install), builds the outside project
# tests/packaging/consumer against it with find_package(caboose), runs it; then makes the Debian
# packages (cpack), checks what they hold and builds the outside project against their
# unpacked contents. Usage: check_install.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

consumer() {  # consumer <prefix> <name>
  cmake -S "$src/tests/packaging/consumer" -B "$work/$2" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$1" >/dev/null
  cmake --build "$work/$2" >/dev/null
  mkdir -p "$work/$2-run"
  out=$("$work/$2/consumer" "$work/$2-run")
  echo "$out"
  grep -qx "job consumed" <<<"$out"
  grep -qx 'greet: "hello, outside project"' <<<"$out"
}

echo "== cmake --install"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
"$work/prefix/bin/caboose" --version
test -f "$work/prefix/include/caboose/conductors/conductor.h"
test -f "$work/prefix/lib/cmake/caboose/caboose-config.cmake"
consumer "$work/prefix" installed

echo "== cpack"
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
runtime=$(ls "$work"/deb/caboose_*.deb)
dev=$(ls "$work"/deb/caboose-dev_*.deb)
dpkg-deb -f "$runtime" Package Version Depends
dpkg-deb -f "$dev" Package Version Depends
runtime_files=$(dpkg-deb -c "$runtime")
dev_files=$(dpkg-deb -c "$dev")
grep -q '\./usr/bin/caboose$' <<<"$runtime_files"
grep -q '\./usr/lib/cmake/caboose/caboose-config.cmake$' <<<"$dev_files"
grep -q '\./usr/include/caboose/conductors/conductor.h$' <<<"$dev_files"
grep -q 'libc6' <<<"$(dpkg-deb -f "$runtime" Depends)"  # dpkg-shlibdeps read the binary
mkdir -p "$work/root"
dpkg-deb -x "$runtime" "$work/root"
dpkg-deb -x "$dev" "$work/root"
"$work/root/usr/bin/caboose" --version
consumer "$work/root/usr" unpacked
echo "ok"
