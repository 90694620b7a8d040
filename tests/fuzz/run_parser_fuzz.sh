#!/usr/bin/env bash
# Builds the Dockerfile parser fuzzer (clang, libFuzzer, ASan+UBSan) in build-fuzz and runs it
# for SECONDS over a corpus seeded from the golden and conformance Dockerfiles.
# Exit status: 0 when no crash was found, non-zero otherwise (the crash input is kept in
# build-fuzz/parser-crashes/).
set -euo pipefail
seconds=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build="$src/build-fuzz"
CXX=${CXX:-clang++} cmake -S "$src" -B "$build" -DIMGBUILD_FUZZ=ON -DIMGBUILD_SANITIZE=ON >/dev/null
cmake --build "$build" -j2 --target parser_fuzz
corpus="$build/parser-corpus"
crashes="$build/parser-crashes"
mkdir -p "$corpus" "$crashes"
i=0
for f in "$src"/tests/parser/testfiles*/*/Dockerfile "$src"/../shared/conformance/buildkit-dockerfile/parser/testfiles*/*/Dockerfile; do
    [ -f "$f" ] || continue
    cp "$f" "$corpus/seed-$i"
    i=$((i + 1))
done
exec "$build/parser/parser_fuzz" "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1
