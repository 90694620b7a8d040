#!/usr/bin/env bash
# The start-up of imgbuild (issue 13): which shared libraries a command loads. Only libc (and
# libm) are linked; libarchive is linked statically with just its tar formats and filters
# (cmake/libraries.cmake: no libxml2, ICU, nettle or acl), and libcurl is dlopen()ed by the
# verbs that speak HTTP (registry/curl_library.h). With the system's libarchive.so.13 unloadable
# (an empty file bind-mounted over it in a private mount namespace), the tar verbs still work.
# Needs root for that part (unshare -m).
# By hand: IMGBUILD=build/cli/imgbuild bash tests/integration/startup_libraries.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A sanitizer build (cmake -DIMGBUILD_SANITIZE=ON) links the shared libraries on purpose
# (cmake/libraries.cmake: the sanitizer runtimes want the shared C++ runtime): what this
# checks is the shipped build's start-up.
# (grep without -q: it reads nm's output to the end, so pipefail sees no SIGPIPE)
if nm -D "$IMGBUILD" 2>/dev/null | grep ' __asan_init$' >/dev/null; then
  echo "skipped: $IMGBUILD is a sanitizer build (its libraries are shared on purpose)"
  exit 77
fi

STORE=$(new_store)
ib() { "$IMGBUILD" --root "$STORE" "$@"; }
# loaded_libraries CMD...: the shared objects the dynamic loader maps for CMD, one per line.
loaded_libraries() { LD_DEBUG=files "$@" 2>&1 >/dev/null | sed -n 's/.*file=\([^ ]*\) .*generating link map.*/\1/p' | sort -u; }

rootfs=$TEST_TMP/rootfs
mkdir -p "$rootfs/etc" && echo hello >"$rootfs/etc/hello"
tar -C "$rootfs" -cf "$TEST_TMP/rootfs.tar" .

# libgcc is linked statically, and then an exception that crosses pthread_once's C frame aborts
# (cmake/libraries.cmake). std::call_once is pthread_once: the sources use none (a
# function-local static or a mutex and a flag instead). Comments may name it.
uses=$(grep -rn --include='*.cpp' --include='*.h' 'call_once *(' "$IMGBUILD_SOURCE_DIR"/{builder,cli,common,layerstore,oci,parser,registry,runtime} |
  grep -v '^[^:]*:[0-9]*: *//' || true)
expect_eq "no std::call_once in the sources (an exception through pthread_once aborts)" "" "$uses"

needed=$(readelf -d "$IMGBUILD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
expect_match "the binary links only libc, libm and the loader (got: $needed)" '^(ld-linux[-a-z0-9_.]*\.so\.2 |libc\.so\.6 |libm\.so\.6 )+$' "$needed"

libs=$(loaded_libraries "$IMGBUILD" version)
expect_no_match "version loads neither libarchive nor libcrypto nor libstdc++ nor libgcc_s" 'libarchive|libcrypto|libstdc|libcurl|libgcc_s' "$libs"

check "import of a rootfs tar" ib import "$TEST_TMP/rootfs.tar" startup:1
for verb in "images" "inspect startup:1" "history startup:1"; do
  libs=$(loaded_libraries "$IMGBUILD" --root "$STORE" $verb)
  expect_no_match "$verb does not load libarchive or libcurl" 'libarchive|libcurl' "$libs"
done
libs=$(loaded_libraries "$IMGBUILD" --root "$STORE" save -o "$TEST_TMP/saved.tar" startup:1)
expect_no_match "save writes the tar without loading a shared libarchive (or libxml2, ICU)" 'libarchive|libxml2|libicu|libnettle|libcurl' "$libs"
run tar -tf "$TEST_TMP/saved.tar"
expect_match "the saved archive is a tar with an index.json" '^(\./)?index\.json$' "$OUT"

if [[ $(id -u) != 0 ]]; then
  echo "# the missing-libarchive checks need root (unshare -m): not run"
  finish
fi
real=$(ldconfig -p | sed -n 's/.*libarchive\.so\.13 .*=> //p' | head -n 1)
if [[ -z $real ]]; then
  echo "# no system libarchive.so.13 to hide: the static-link checks below are not run"
  finish
fi
real=$(readlink -f "$real")
: >"$TEST_TMP/empty.so"
# without_libarchive CMD...: CMD with the system's libarchive.so.13 an empty file.
without_libarchive() { unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$TEST_TMP/empty.so" "$real" "$@"; }
run without_libarchive "$IMGBUILD" version
expect_eq "version works without libarchive.so" "0 $("$IMGBUILD" version)" "$RC $OUT"
run without_libarchive "$IMGBUILD" --root "$STORE" import "$TEST_TMP/rootfs.tar" startup:2
expect_eq "import (a tar read) works without libarchive.so: it is linked in" 0 "$RC"
run without_libarchive "$IMGBUILD" --root "$STORE" save -o "$TEST_TMP/saved2.tar" startup:2
expect_eq "save (a tar written) works without libarchive.so" 0 "$RC"
run tar -tf "$TEST_TMP/saved2.tar"
expect_match "... and writes a tar with an index.json" '^(\./)?index\.json$' "$OUT"
run ib images
expect_match "... and the imported image is listed" '^startup +2 ' "$OUT"

# libcurl is dlopen()ed: without it a registry verb fails with a clear error. That error is an
# exception thrown from the library's one-time load; with the static unwinder it must reach
# main and not abort in a libc frame (cmake/libraries.cmake: no std::call_once around it).
curl_real=$(ldconfig -p | sed -n 's/.*libcurl\.so\.4 .*=> //p' | head -n 1)
if [[ -n $curl_real ]]; then
  curl_real=$(readlink -f "$curl_real")
  run unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$TEST_TMP/empty.so" "$curl_real" \
    "$IMGBUILD" --root "$STORE" pull 127.0.0.1:1/none:latest
  expect_eq "pull without libcurl.so exits 1 (not an abort)" 1 "$RC"
  expect_match "... and says why" 'load libcurl\.so\.4: .*install libcurl4' "$ERR"
else
  echo "# no system libcurl.so.4 to hide: the missing-libcurl check is not run"
fi
finish
