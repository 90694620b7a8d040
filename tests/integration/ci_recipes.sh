#!/usr/bin/env bash
# The CI recipes of docs/ci/ do what they say: the command between each recipe's
# "# imgbuild-ci: begin" and "# imgbuild-ci: end" markers is extracted from the file as it is
# and run (with the CI system's variables set to a local docker-registry on 127.0.0.1) on two
# fresh stores, two runners in a row: the first builds, pushes and exports the cache; the
# second pushes the same image without running a RUN step.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

source "$IMGBUILD_SOURCE_DIR/tests/integration/registry/start_registry.sh"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || { echo "skipped: no python3-yaml (scripts/install-deps.sh --test)"; exit 77; }
start_one_registry ci
# Reproducible layers: a step rebuilt elsewhere gives the same layer (mtimes clamped).
export SOURCE_DATE_EPOCH=1700000000

base_store=$(new_store)
make_busybox_base "$base_store" >/dev/null || { fail "make busybox base"; finish; }
check "push the base image" "$IMGBUILD" --root "$base_store" push busybox:latest "$reg/base/busybox:1"

ctx=$TEST_TMP/app && mkdir -p "$ctx"
echo 'hello from ci' >"$ctx/greeting.txt"
cat >"$ctx/Dockerfile" <<D
FROM $reg/base/busybox:1
RUN echo built > /built.txt
COPY greeting.txt /app/
RUN cat /app/greeting.txt > /app/out.txt
D

# extract FILE: the command between the markers, as one line (shell continuations and
# YAML's folded list items joined; a leading "- " list marker dropped).
extract() {
  awk '/# imgbuild-ci: end/ {on=0} on {print} /# imgbuild-ci: begin/ {on=1}' "$1" |
    sed -e 's/^[[:space:]]*//' -e 's/^- //' -e 's/[[:space:]]*\\$//' | tr '\n' ' '
}

# What the recipes call: imgbuild on the runner's store; sudo -E as root is the command itself.
imgbuild() { "$IMGBUILD" --root "$STORE" "$@"; }
sudo() { [[ $1 == -E ]] && shift; "$@"; }
export -f imgbuild sudo
export IMGBUILD

# try_recipe NAME FILE IMAGE_TAG_REF CACHE_REF: two runners run the recipe's command.
try_recipe() {
  local name=$1 file=$IMGBUILD_SOURCE_DIR/docs/ci/$2 pushed=$3 cache_ref=$4 cmd
  check "$name: $2 is valid YAML" /usr/bin/python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$file"
  cmd=$(extract "$file")
  expect_match "$name: the recipe has a build command with a registry cache" \
    'imgbuild build .*--cache-from type=registry.*--cache-to type=registry.*--push' "$cmd"
  local runner
  for runner in 1 2; do
    STORE=$(new_store)
    rm -f "$ctx/metadata.json"
    export STORE
    run bash -c "cd $(printf %q "$ctx") && $cmd"
    expect_eq "$name: runner $runner: the recipe's command succeeds" 0 "$RC"
    ((RC == 0)) || { fail "$name: command" "$cmd" "$ERR"; continue; }
    cp "$ctx/metadata.json" "$TEST_TMP/$name-$runner.json"
  done
  [[ -e $TEST_TMP/$name-2.json ]] || return
  expect_eq "$name: the first runner ran the RUN steps" 2 "$(jq '."imgbuild.cache".run_executed' "$TEST_TMP/$name-1.json")"
  expect_eq "$name: the second ran none (all from the cache)" 0 "$(jq '."imgbuild.cache".run_executed' "$TEST_TMP/$name-2.json")"
  expect_eq "$name: both built the same image" "$(jq -r '."containerimage.config.digest"' "$TEST_TMP/$name-1.json")" \
    "$(jq -r '."containerimage.config.digest"' "$TEST_TMP/$name-2.json")"
  check "$name: the image is in the registry" curl -sf -o /dev/null \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/${pushed%:*}/manifests/${pushed##*:}"
  check "$name: so is the cache" curl -sf -o /dev/null \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/${cache_ref%:*}/manifests/${cache_ref##*:}"
}

# GitHub Actions: the job's env (IMAGE, CACHE, BRANCH) and the runner's GITHUB_SHA.
export IMAGE=$reg/gh/app CACHE=$reg/gh/buildcache BRANCH=feature-x GITHUB_SHA=0123abcd
try_recipe github github-actions.yml gh/app:0123abcd gh/buildcache:feature-x

# GitLab CI: the job's CACHE variable and GitLab's predefined ones.
export CI_REGISTRY_IMAGE=$reg/gl/app CI_DEFAULT_BRANCH=main CI_COMMIT_REF_SLUG=feature-x CI_COMMIT_SHA=4567cdef
export CACHE=$CI_REGISTRY_IMAGE/buildcache
try_recipe gitlab gitlab-ci.yml gl/app:4567cdef gl/app/buildcache:feature-x

# Kubernetes Job: the container's env.
export IMAGE=$reg/k8s/app CACHE=$reg/k8s/app/buildcache TAG=1.0.0
try_recipe kubernetes kubernetes-job.yaml k8s/app:1.0.0 k8s/app/buildcache:main

finish
