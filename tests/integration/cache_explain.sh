#!/usr/bin/env bash
# build --explain, the cache_miss events of --progress json, and --metadata-file: for each
# kind of input a miss names what changed since the last build of that stage (a build arg,
# an env value, an instruction, a context file changed / added / removed, the parent, the
# base, --no-cache, a first build, a prune); the metadata file has the image digests, every
# step's key, hit or miss with the reason, and timings.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) != 0 ]]; then echo "skipped: needs root (RUN steps)"; exit 77; fi

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }

ctx=$TEST_TMP/ctx && mkdir -p "$ctx/src"
echo 'print("v1")' >"$ctx/src/app.py"
echo 'x = 1' >"$ctx/src/util.py"
write_dockerfile() {
  cat >"$ctx/Dockerfile" <<D
FROM busybox
ARG VERSION=1.2
ENV MODE=$1
RUN echo \$VERSION > /version
COPY src/ /app/src/
RUN cat /app/src/app.py > /out
D
}
write_dockerfile fast

# explain CMD...: builds with --explain (plain progress), the miss lines in OUT.
explain() { run ib build --explain --progress plain "$@" "$ctx"; MISSES=$(grep -E '^step [0-9]+/[0-9]+ [A-Z]+: miss: ' <<<"$OUT"); }

explain -t app
expect_eq "first build: builds" 0 "$RC"
expect_match "first build: every step says so" '^step 2/6 ARG: miss: first build of this stage$' "$MISSES"
expect_eq "first build: five misses (FROM is no cached step)" 5 "$(grep -c . <<<"$MISSES")"

explain -t app
expect_eq "no-op rebuild: no miss" "" "$MISSES"

explain -t app --build-arg VERSION=1.3
expect_match "a build arg: old and new value" '^step 4/6 RUN: miss: build arg VERSION changed 1.2 -> 1.3$' "$MISSES"
expect_match "the ENV before it sees the arg too" '^step 3/6 ENV: miss: build arg VERSION changed 1.2 -> 1.3$' "$MISSES"
expect_match "the step after: the arg and the parent" '^step 5/6 COPY: miss: build arg VERSION changed 1.2 -> 1.3; parent changed \(step 4 missed\)$' "$MISSES"

explain -t app --build-arg VERSION=1.3
expect_eq "the same arg again: all hits" "" "$MISSES"

echo 'print("v2")' >"$ctx/src/app.py"
explain -t app --build-arg VERSION=1.3
expect_eq "a changed file: one COPY miss and its child" 2 "$(grep -c . <<<"$MISSES")"
expect_match "a changed file: named" '^step 5/6 COPY: miss: src/app.py changed$' "$MISSES"
expect_match "after the COPY: parent changed" '^step 6/6 RUN: miss: parent changed \(step 5 missed\)$' "$MISSES"

echo 'y = 2' >"$ctx/src/new.py" && rm "$ctx/src/util.py"
explain -t app --build-arg VERSION=1.3
expect_match "an added and a removed file: both named" '^step 5/6 COPY: miss: src/new.py added; src/util.py removed$' "$MISSES"

touch "$ctx/src/app.py"
explain -t app --build-arg VERSION=1.3
expect_eq "touch (mtime only): still a hit" "" "$MISSES"

write_dockerfile slow
explain -t app --build-arg VERSION=1.3
expect_match "an edited instruction" '^step 3/6 ENV: miss: instruction changed$' "$MISSES"
expect_match "env seen by a later step: its value" '^step 4/6 RUN: miss: env MODE changed fast -> slow; parent changed \(step 3 missed\)$' "$MISSES"

explain -t app --build-arg VERSION=1.3 --no-cache
expect_match "--no-cache says so" '^step 4/6 RUN: miss: --no-cache$' "$MISSES"

# The base: another image under the same name.
ib tag busybox:latest busybox:old >/dev/null
printf 'FROM busybox:old\nRUN echo changed > /base-marker\n' | ib build -q -t busybox:latest -f - "$ctx" >/dev/null
explain -t app --build-arg VERSION=1.3
expect_match "a new base image" '^step 2/6 ARG: miss: base changed \(FROM busybox\)$' "$MISSES"

# A credential-like build arg: named, its values never shown nor kept.
printf 'FROM busybox\nARG API_TOKEN\nRUN test -n "$API_TOKEN"\n' >"$TEST_TMP/Dockerfile.token"
explain -f "$TEST_TMP/Dockerfile.token" --build-arg API_TOKEN=hunter2-old
explain -f "$TEST_TMP/Dockerfile.token" --build-arg API_TOKEN=hunter2-new
expect_match "a token arg: changed, by name only" '^step 3/3 RUN: miss: build arg API_TOKEN changed$' "$MISSES"
expect_no_match "a token arg: no value in the output" 'hunter2' "$OUT"
expect_eq "a token arg: no value in the stage records" "" "$(grep -rl hunter2 "$store/cache/explain" 2>/dev/null)"

# JSON events carry the same reason.
echo 'print("v3")' >"$ctx/src/app.py"
run ib build --progress json --build-arg VERSION=1.3 "$ctx"
expect_match "json: cache_miss names the file" '"event":"cache_miss".*"reason":"src/app.py changed"' "$OUT"

# --metadata-file
meta=$TEST_TMP/meta.json
run ib build -q -t app:meta --iidfile "$TEST_TMP/iid" --metadata-file "$meta" --build-arg VERSION=1.3 "$ctx"
expect_eq "metadata build" 0 "$RC"
expect_eq "metadata: config digest is the image id" "$(cat "$TEST_TMP/iid")" "$(jq -r '."containerimage.config.digest"' "$meta")"
expect_eq "metadata: manifest digest as inspect says" "$(ib inspect --format '{{.Digest}}' app:meta 2>/dev/null || ib images --digests 2>/dev/null | awk '/app/ {print $3; exit}')" "$(jq -r '."containerimage.digest"' "$meta")"
expect_eq "metadata: one entry per step after FROM" 5 "$(jq '."imgbuild.steps" | length' "$meta")"
expect_eq "metadata: all hits" "true true true true true" "$(jq -r '[."imgbuild.steps"[].cached] | join(" ")' "$meta")"
expect_eq "metadata: keys are digests" 5 "$(jq '[."imgbuild.steps"[].key | select(test("^sha256:[0-9a-f]{64}$"))] | length' "$meta")"
expect_eq "metadata: image name" "app:meta" "$(jq -r '."image.name"' "$meta")"
expect_eq "metadata: counts" '{"hits":5,"misses":0,"run_executed":0}' "$(jq -c '."imgbuild.cache"' "$meta")"
echo 'print("v4")' >"$ctx/src/app.py"
run ib build -q --metadata-file "$meta" --build-arg VERSION=1.3 "$ctx"
expect_eq "metadata after an edit: the COPY's reason" "src/app.py changed" "$(jq -r '."imgbuild.steps"[3].reason' "$meta")"
expect_eq "metadata after an edit: one RUN ran" 1 "$(jq '."imgbuild.cache".run_executed' "$meta")"
expect_true "metadata: timings are numbers" jq -e '."imgbuild.duration_s" > 0 and (."imgbuild.steps"[4].duration_s > 0)' "$meta"

# Another Dockerfile is another stage identity; a prune forgets the records.
cp "$ctx/Dockerfile" "$ctx/Dockerfile.other"
explain -f "$ctx/Dockerfile.other" --build-arg VERSION=1.4
expect_match "another Dockerfile is another stage record" '^step 3/6 ENV: miss: first build of this stage$' "$MISSES"
ib builder prune >/dev/null
explain --build-arg VERSION=1.3
expect_match "after builder prune: first build again" '^step 2/6 ARG: miss: first build of this stage$' "$MISSES"

finish
