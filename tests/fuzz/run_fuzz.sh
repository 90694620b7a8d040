#!/usr/bin/env bash
# The sanitizer part of the suite: builds everything with clang, ASan+UBSan and libFuzzer
# coverage in build-fuzz, runs the unit tests there (the whole unit suite under ASan+UBSan),
# then each fuzz target for SECONDS over its committed seed corpus (tests/fuzz/corpus/<target>/,
# the parser's seeds are the golden and conformance Dockerfiles).
# Usage: tests/fuzz/run_fuzz.sh [SECONDS_PER_TARGET]   (default 30)
# Exit status: 0 when the unit tests pass and no target crashed; a crash input is kept in
# build-fuzz/crashes/<target>/.
set -euo pipefail
seconds=${1:-30}
src=$(cd "$(dirname "$0")/../.." && pwd)
build="$src/build-fuzz"
targets=(parser_fuzz layer_tar_fuzz image_fuzz dockerignore_fuzz reference_fuzz)
declare -A module=([parser_fuzz]=parser [layer_tar_fuzz]=oci [image_fuzz]=oci [dockerignore_fuzz]=builder [reference_fuzz]=oci)
declare -A max_len=([parser_fuzz]=4096 [layer_tar_fuzz]=65536 [image_fuzz]=8192 [dockerignore_fuzz]=2048 [reference_fuzz]=1024)

CXX=${CXX:-clang++} cmake -S "$src" -B "$build" -DIMGBUILD_FUZZ=ON -DIMGBUILD_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" \
    $(cd "$build" && ctest -N -R '^unit\.' | sed -n 's/.*unit\.\(.*\)$/test_\1/p')
echo "# unit tests under ASan+UBSan"
(cd "$build" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -R '^unit\.')

for t in "${targets[@]}"; do
    corpus="$build/corpus/$t"
    crashes="$build/crashes/$t"
    mkdir -p "$corpus" "$crashes"
    if [[ $t == parser_fuzz ]]; then
        i=0
        for f in "$src"/tests/parser/testfiles*/*/Dockerfile "$src"/../shared/conformance/buildkit-dockerfile/parser/testfiles*/*/Dockerfile; do
            [[ -f $f ]] && cp "$f" "$corpus/seed-$i" && i=$((i + 1))
        done
    else
        cp "$src/tests/fuzz/corpus/$t"/* "$corpus/"
    fi
    echo "# fuzzing $t for ${seconds}s"
    "$build/${module[$t]}/$t" "$corpus" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | tail -n 12
done
echo "fuzz: ${#targets[@]} targets clean"
