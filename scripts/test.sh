#!/usr/bin/env bash
# The README's second command: the whole test suite (unit, parser golden and conformance,
# runtime and store integration against real kernels and peer tools, a bounded fuzz run).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh" --test
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)"
(cd "$here/build" && ctest --output-on-failure --timeout 900)
if [[ -x "$here/tests/fuzz/run_parser_fuzz.sh" ]]; then
  "$here/tests/fuzz/run_parser_fuzz.sh" "${IMGBUILD_FUZZ_SECONDS:-60}"
fi
