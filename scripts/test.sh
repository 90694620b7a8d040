#!/usr/bin/env bash
# The README's second command: the whole test suite (unit, parser golden and conformance,
# runtime, store and builder integration against real kernels and peer tools, the docker
# differential test, then the unit tests under ASan+UBSan and a bounded run of every fuzz target).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh" --test
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIMGBUILD_WERROR=ON >/dev/null
cmake --build "$here/build" -j"$(nproc)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$here/build" && ctest --output-on-failure --timeout 900) | tee "$log"
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
"$here/tests/fuzz/run_fuzz.sh" "${IMGBUILD_FUZZ_SECONDS:-30}"
echo "suite: $((total + 1)) passed, 0 failed"
