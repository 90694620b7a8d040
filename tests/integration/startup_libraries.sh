#!/usr/bin/env bash
# The start-up of imgbuild (issue 13): which shared libraries a command loads. Only libc (and
# libm) are linked; libarchive is dlopen()ed by the verbs that read or write a tar
# (oci/libarchive_library.cpp) and libcurl by those that speak HTTP (registry/curl_library.h).
# With libarchive unloadable (an empty file bind-mounted over it in a private mount namespace),
# the other verbs work and a tar verb fails with a clear error. Needs root (unshare -m).
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

needed=$(readelf -d "$IMGBUILD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
expect_match "the binary links only libc, libm, libgcc_s and the loader (got: $needed)" '^(ld-linux[-a-z0-9_.]*\.so\.2 |libc\.so\.6 |libgcc_s\.so\.1 |libm\.so\.6 )+$' "$needed"

libs=$(loaded_libraries "$IMGBUILD" version)
expect_no_match "version loads neither libarchive nor libcrypto nor libstdc++" 'libarchive|libcrypto|libstdc|libcurl' "$libs"

check "import of a rootfs tar" ib import "$TEST_TMP/rootfs.tar" startup:1
for verb in "images" "inspect startup:1" "history startup:1"; do
  libs=$(loaded_libraries "$IMGBUILD" --root "$STORE" $verb)
  expect_no_match "$verb does not load libarchive or libcurl" 'libarchive|libcurl' "$libs"
done
libs=$(loaded_libraries "$IMGBUILD" --root "$STORE" save -o "$TEST_TMP/saved.tar" startup:1)
expect_match "save loads libarchive when it writes the tar" 'libarchive\.so\.13' "$libs"
run tar -tf "$TEST_TMP/saved.tar"
expect_match "the saved archive is a tar with an index.json" '^(\./)?index\.json$' "$OUT"

if [[ $(id -u) != 0 ]]; then
  echo "# the missing-libarchive checks need root (unshare -m): not run"
  finish
fi
real=$(ldconfig -p | sed -n 's/.*libarchive\.so\.13 .*=> //p' | head -n 1)
real=$(readlink -f "$real")
: >"$TEST_TMP/empty.so"
# without_libarchive CMD...: CMD with libarchive.so.13 an empty file.
without_libarchive() { unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$TEST_TMP/empty.so" "$real" "$@"; }
run without_libarchive "$IMGBUILD" version
expect_eq "version works without libarchive" "0 $("$IMGBUILD" version)" "$RC $OUT"
run without_libarchive "$IMGBUILD" --root "$STORE" images
expect_match "images works without libarchive" '^startup +1 ' "$OUT"
run without_libarchive "$IMGBUILD" --root "$STORE" import "$TEST_TMP/rootfs.tar" startup:2
expect_eq "import without libarchive exits 1" 1 "$RC"
expect_match "... naming the library and what to install" "^imgbuild: .*load libarchive\.so\.13: .*libarchive\.so\.13[^:]*: .*\(install libarchive13\)" "$ERR"
run ib images
expect_no_match "... and adds no image" '^startup +2 ' "$OUT"
finish
