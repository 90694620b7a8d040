#!/usr/bin/env bash
# The second sample: a Debian base made with mmdebstrap, python3 installed by apt-get in a
# RUN step over the default private network (slirp4netns: outbound only), and the app run
# from the image.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
require_tools mmdebstrap
check "make debian:bookworm with mmdebstrap" bash "$IMGBUILD_SOURCE_DIR/samples/make-debian-base.sh" "$IMGBUILD" debian:bookworm --root "$store"
check "build samples/python-app (apt-get install python3 in RUN)" ib -t python-app --progress plain "$IMGBUILD_SOURCE_DIR/samples/python-app"
check "run python-app" ib run --rm python-app
expect_match "python prints Hello World!" '^Hello World!$' "$OUT"
check "python3 comes from Debian's package" ib run --rm python-app sh -c 'dpkg -s python3 | grep -q "Status: install ok installed" && python3 --version'
expect_match "python3 version" '^Python 3\.' "$OUT"
check "rebuild is fully cached" ib -t python-app --progress plain "$IMGBUILD_SOURCE_DIR/samples/python-app"
expect_eq "every step after FROM cached" 6 "$(grep -c CACHED <<<"$OUT")"
check "fsck" ib fsck
finish
