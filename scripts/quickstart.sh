#!/usr/bin/env bash
# The README's first command: install, build, make the busybox base, build samples/helloworld
# and run it. Uses the default store (/var/lib/imgbuild).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)" --target imgbuild
imgbuild=$here/build/cli/imgbuild
"$here/samples/make-busybox-base.sh" "$imgbuild" busybox:latest >/dev/null
"$imgbuild" -t helloworld "$here/samples/helloworld"
"$imgbuild" run --rm helloworld
