#!/usr/bin/env bash
# The remote build cache (build --cache-to / --cache-from) as a fleet uses it: two stores on
# this machine are two CI machines sharing one real docker-registry on 127.0.0.1. The second
# machine's first build of the same commit takes every step from the cache (no RUN runs) and
# gives the same image; after one source file changes only the steps that depend on it run;
# type=local (an OCI layout dir) the same way; mode=min vs mode=max; mounts=true.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source "$IMGBUILD_SOURCE_DIR/tests/integration/registry/start_registry.sh"
start_one_registry cache
# Reproducible layers: a step rebuilt elsewhere gives the same layer (mtimes clamped).
export SOURCE_DATE_EPOCH=1700000000

A=$(new_store) B=$(new_store)
ibA() { "$IMGBUILD" --root "$A" "$@"; }
ibB() { "$IMGBUILD" --root "$B" "$@"; }
# The base comes from the registry, as in CI: both machines pull the same manifest.
make_busybox_base "$A" >/dev/null || { fail "make busybox base"; finish; }
check "push the base image" ibA push busybox:latest "$reg/base/busybox:1"

ctx=$TEST_TMP/ctx && mkdir -p "$ctx/src"
echo one >"$ctx/src/a.txt"
echo other >"$ctx/other.txt"
cat >"$ctx/Dockerfile" <<D
FROM $reg/base/busybox:1 AS deps
RUN echo deps > /deps.txt && sleep 0.2
FROM $reg/base/busybox:1
COPY --from=deps /deps.txt /deps.txt
COPY src/ /app/src/
RUN cat /app/src/a.txt > /out-a
COPY other.txt /other.txt
RUN wc -c /other.txt > /out-other
D
cache=type=registry,ref=$reg/cache/app:main

# meta FILE JQ: a field of a metadata file.
meta() { jq -r "$2" "$1"; }
missed() { jq -r '[."imgbuild.steps"[] | select(.cached | not) | .instruction] | join(" | ")' "$1"; }
runs() { jq -r '."imgbuild.cache".run_executed' "$1"; }

# ---- machine A: a cold build exports the cache (every stage: mode=max)
check "A: cold build with --cache-to mode=max" ibA build -q --metadata-file "$TEST_TMP/a1.json" --cache-to "$cache,mode=max" "$ctx"
expect_eq "A: the three RUN steps ran" 3 "$(runs "$TEST_TMP/a1.json")"
check "the cache is an OCI manifest in the registry" curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -o "$TEST_TMP/cache-manifest.json" "http://$reg/v2/cache/app/manifests/main"
expect_eq "its artifact type" application/vnd.imgbuild.cache.v1 "$(jq -r .artifactType "$TEST_TMP/cache-manifest.json")"
expect_eq "its config type" application/vnd.imgbuild.cache.config.v1+json "$(jq -r .config.mediaType "$TEST_TMP/cache-manifest.json")"

# ---- machine B: the same commit, empty store: everything from the cache
run ibB build --progress plain --explain --metadata-file "$TEST_TMP/b1.json" --cache-from "$cache" -t app:b "$ctx"
expect_eq "B: first build of the same commit" 0 "$RC"
expect_eq "B: no RUN step ran" 0 "$(runs "$TEST_TMP/b1.json")"
expect_eq "B: every step hit" "" "$(missed "$TEST_TMP/b1.json")"
expect_match "B: hits say where they came from" "^step 2/8 RUN: hit: cache-from registry $reg/cache/app:main$" "$OUT"
expect_eq "B: each hit came from the registry cache" "cache-from registry $reg/cache/app:main" \
  "$(jq -r '[."imgbuild.steps"[].source] | unique | join(",")' "$TEST_TMP/b1.json")"
expect_eq "B: the same image id as A" "$(meta "$TEST_TMP/a1.json" '."containerimage.config.digest"')" \
  "$(meta "$TEST_TMP/b1.json" '."containerimage.config.digest"')"
check "B: the image runs" ibB run --rm app:b cat /out-a /deps.txt
expect_eq "B: its files are there" "one
deps" "$OUT"
check "A: push" ibA push --digestfile "$TEST_TMP/a.digest" "$(meta "$TEST_TMP/a1.json" '."containerimage.digest"')" "$reg/app:a"
check "B: push" ibB push --digestfile "$TEST_TMP/b.digest" app:b "$reg/app:b"
expect_eq "A and B push the same manifest digest" "$(cat "$TEST_TMP/a.digest")" "$(cat "$TEST_TMP/b.digest")"

# ---- one source file changes: only what depends on it runs
echo "other, edited" >"$ctx/other.txt"
check "B: build after an edit, exporting again" ibB build -q --metadata-file "$TEST_TMP/b2.json" --cache-from "$cache" \
  --cache-to "$cache,mode=max" "$ctx"
expect_eq "B: only the edited file's steps ran" "COPY other.txt /other.txt | RUN wc -c /other.txt > /out-other" \
  "$(missed "$TEST_TMP/b2.json")"
expect_eq "B: one RUN ran" 1 "$(runs "$TEST_TMP/b2.json")"
check "A: the edited commit, from B's export" ibA build -q --metadata-file "$TEST_TMP/a2.json" --cache-from "$cache" "$ctx"
expect_eq "A: nothing ran" 0 "$(runs "$TEST_TMP/a2.json")"
expect_eq "A: the same image as B" "$(meta "$TEST_TMP/b2.json" '."containerimage.config.digest"')" \
  "$(meta "$TEST_TMP/a2.json" '."containerimage.config.digest"')"

# ---- type=local: an OCI layout directory saved between jobs
C=$(new_store) && ibC() { "$IMGBUILD" --root "$C" "$@"; }
check "A: --cache-to type=local" ibA build -q --cache-to "type=local,dest=$TEST_TMP/layout,mode=max" "$ctx"
expect_eq "the layout's index names the cache" cache \
  "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$TEST_TMP/layout/index.json")"
check "C: --cache-from type=local" ibC build -q --metadata-file "$TEST_TMP/c1.json" --cache-from "type=local,src=$TEST_TMP/layout" "$ctx"
expect_eq "C: no RUN step ran" 0 "$(runs "$TEST_TMP/c1.json")"
expect_eq "C: the same image" "$(meta "$TEST_TMP/a2.json" '."containerimage.config.digest"')" "$(meta "$TEST_TMP/c1.json" '."containerimage.config.digest"')"
blobs_before=$(ls "$TEST_TMP/layout/blobs/sha256" | wc -l)
echo "other, edited twice" >"$ctx/other.txt"
check "A: export to the same layout again" ibA build -q --cache-to "type=local,dest=$TEST_TMP/layout,mode=max" "$ctx"
expect_eq "the layout does not grow with stale blobs" "$blobs_before" "$(ls "$TEST_TMP/layout/blobs/sha256" | wc -l)"

# ---- several --cache-from: the first that has a step serves it
D=$(new_store) && ibD() { "$IMGBUILD" --root "$D" "$@"; }
run ibD build -q --metadata-file "$TEST_TMP/d1.json" --cache-from "type=registry,ref=$reg/cache/none:x" \
  --cache-from "type=local,src=$TEST_TMP/layout" "$ctx"
expect_eq "two --cache-from, one empty: builds" 0 "$RC"
expect_eq "two --cache-from: nothing ran" 0 "$(runs "$TEST_TMP/d1.json")"

# ---- mode=min exports the final stage only: the deps stage's RUN runs again elsewhere
E=$(new_store) F=$(new_store) G=$(new_store)
check "E: --cache-to mode=min" "$IMGBUILD" --root "$E" build -q --cache-to "type=registry,ref=$reg/cache/app:min" "$ctx"
check "F: --cache-from the min cache" "$IMGBUILD" --root "$F" build -q --metadata-file "$TEST_TMP/f1.json" \
  --cache-from "type=registry,ref=$reg/cache/app:min" "$ctx"
expect_eq "min: the intermediate stage's RUN ran" "RUN echo deps > /deps.txt && sleep 0.2" "$(missed "$TEST_TMP/f1.json")"
check "E: --cache-to mode=max" "$IMGBUILD" --root "$E" build -q --cache-to "type=registry,ref=$reg/cache/app:max,mode=max" "$ctx"
check "G: --cache-from the max cache" "$IMGBUILD" --root "$G" build -q --metadata-file "$TEST_TMP/g1.json" \
  --cache-from "type=registry,ref=$reg/cache/app:max" "$ctx"
expect_eq "max: nothing ran" "" "$(missed "$TEST_TMP/g1.json")"

# ---- type=local never writes over a layout that holds something else
mkdir -p "$TEST_TMP/notcache" && echo keep >"$TEST_TMP/notcache/file"
check_exit "--cache-to type=local: a non-empty dir that is no cache layout is refused" 1 \
  ibA build -q --cache-to "type=local,dest=$TEST_TMP/notcache" "$ctx"
expect_eq "and is left as it was" keep "$(cat "$TEST_TMP/notcache/file")"

# ---- mounts=true: type=cache mount contents travel, keyed by id
run ibB build --progress plain --cache-to "type=registry,ref=$reg/cache/app:nomounts,mounts=true" "$ctx"
expect_match "mounts=true with no cache mounts says so" 'mounts=true: the store has no type=cache mounts to export' "$OUT"
hex=$(printf %s pip | sha256sum | cut -d' ' -f1)
mkdir -p "$A/cache-mounts/$hex/data/wheels/sub"
printf '{"id":"pip"}' >"$A/cache-mounts/$hex/meta.json"
head -c 100000 /dev/urandom >"$A/cache-mounts/$hex/data/wheels/big.whl"
echo small >"$A/cache-mounts/$hex/data/wheels/sub/small.txt"
chmod 0700 "$A/cache-mounts/$hex/data/wheels/sub"
run ibA build --progress plain --cache-to "type=registry,ref=$reg/cache/app:mounts,mounts=true" "$ctx"
expect_match "mounts=true exports the mount" '1 cache mounts' "$OUT"
H=$(new_store)
run "$IMGBUILD" --root "$H" build --progress plain --cache-from "type=registry,ref=$reg/cache/app:mounts" "$ctx"
expect_match "--cache-from restores it before the steps" 'restored 1 cache mounts' "$OUT"
expect_eq "the mount's files arrive" "$(tree_listing "$A/cache-mounts/$hex/data")" "$(tree_listing "$H/cache-mounts/$hex/data")"
expect_eq "with its id" pip "$(jq -r .id "$H/cache-mounts/$hex/meta.json")"
echo local >"$H/cache-mounts/$hex/data/local.txt"
run "$IMGBUILD" --root "$H" build --progress plain --cache-from "type=registry,ref=$reg/cache/app:mounts" "$ctx"
expect_no_match "a mount the store has is kept (it is newer)" 'restored' "$OUT"
expect_true "its own files stay" test -e "$H/cache-mounts/$hex/data/local.txt"

# ---- bad specs are refused before anything runs
check_exit "--cache-to: unknown type" 2 ibA build --cache-to type=s3,ref=x "$ctx"
expect_match "--cache-to: the error names the type" 'type must be registry or local, not s3' "$ERR"
check_exit "--cache-from type=local needs src=" 2 ibA build --cache-from "type=local,dest=$TEST_TMP/x" "$ctx"
check_exit "--cache-to mode=medium" 2 ibA build --cache-to "$cache,mode=medium" "$ctx"
run ibA build -q --cache-from "type=registry,ref=127.0.0.1:1/none:x" "$ctx"
expect_eq "an unreachable --cache-from is a warning, not a failure" 0 "$RC"

finish
