#!/usr/bin/env bash
# The differential test against Docker's classic builder (issue 5, "Compatibility"): every
# case folder tests/integration/docker-diff/<case>/ is built by `DOCKER_BUILDKIT=0 docker
# build` and by imgbuild from the same base image, and the results must agree on
#   - the config fields issue 5 lists (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
#     Volumes, Labels, StopSignal, Healthcheck, OnBuild; Shell and Author too), and
#   - the file tree (path, type, mode, owner, symlink target, size, sha256, hardlink groups;
#     whiteouts applied): docker's from `docker export` of a created container, ours from
#     umoci's unpack of `imgbuild save --format oci`.
#
# A case folder holds a Dockerfile and the context files, and optionally:
#   build-args         one K=V a line, given to both as --build-arg
#   target             the stage to build (--target)
#   prepare.sh         run (bash, cwd = the case's context copy) to make what git cannot keep:
#                      modes, hardlinks, tarballs, empty dirs
#   Dockerfile.classic what docker builds instead, when the classic builder lacks a feature
#                      the Dockerfile uses (its comment says which); the results must agree
#   expected-diff      a deliberate difference (we follow BuildKit where it differs from the
#                      classic builder): '#' lines give the reason, the other lines are the
#                      exact difference lines this script prints; the case passes when the
#                      differences are exactly those. Each one has a line in README.md's
#                      "Where imgbuild differs from Docker".
# These files are taken out of the context before the builds.
#
# Needs root and dockerd (../shared/peers/setup.sh --with-docker starts it on a private
# socket); without dockerd the script fails: it is the compatibility check, not an extra.
# DOCKER_DIFF_CASES="a b" runs only those cases.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cases_dir=$IMGBUILD_SOURCE_DIR/tests/integration/docker-diff
compare=$cases_dir/compare.py
started=$(now)

# ---- dockerd and the shared base image
peers_setup=$IMGBUILD_SOURCE_DIR/../shared/peers/setup.sh
export DOCKER_HOST=unix:///run/imgbuild-peers/docker.sock
if ! bash "$peers_setup" --with-docker >"$TEST_TMP/peers-setup.log" 2>&1; then
  fail "peers setup.sh --with-docker" "$(tail -n 20 "$TEST_TMP/peers-setup.log")"
  finish
fi
if ! docker info >/dev/null 2>"$TEST_TMP/docker-info.err"; then
  fail "dockerd is up on $DOCKER_HOST (the differential test needs it)" "$(cat "$TEST_TMP/docker-info.err")" \
    "$(tail -n 20 /run/imgbuild-peers/dockerd.log 2>/dev/null)"
  finish
fi
pass "dockerd is up on $DOCKER_HOST ($(docker version --format '{{.Server.Version}}'))"
require_tools docker umoci python3 tar

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }
run bash -c "'$IMGBUILD' --root '$store' save --format docker busybox:latest | docker load"
if ((RC != 0)); then fail "docker load of our busybox base" "$(_last_command_diag)"; finish; fi
pass "the same busybox base in both"
expect_eq "the base has the same config id in both" "$(ib inspect --format '{{.Id}}' busybox:latest)" \
  "$(docker image inspect --format '{{.Id}}' busybox:latest)"

# At exit: any container left by an interrupted case (named <image>-<our pid>), then every
# image of our builds, children first: the busybox base and what was built on it, and the
# chains of the tags we made (FROM scratch): the classic builder keeps intermediate images
# as parents (a failed build leaves them untagged).
docker_images=()
base_id=$(docker image inspect --format '{{.Id}}' busybox:latest)
our_docker_images() {
  local roots=("$base_id") i
  for i in "${docker_images[@]}"; do roots+=("$(docker image inspect --format '{{.Id}}' "$i" 2>/dev/null)"); done
  docker image ls -a -q --no-trunc | sort -u | xargs -r docker image inspect --format '{{.Id}} {{.Parent}}' |
    python3 -c 'import sys
parent = {}
for line in sys.stdin:
    f = line.split()
    if f: parent[f[0]] = f[1] if len(f) > 1 else ""
def chain(i):
    out = []
    while i:
        out.append(i)
        i = parent.get(i, "")
    return out
roots = {c[-1] for c in map(chain, sys.argv[1:]) if c}
ours = [(len(chain(i)), i) for i in parent if chain(i)[-1] in roots]
print("\n".join(i for _, i in sorted(ours, reverse=True)))' "${roots[@]}"
}
cleanup_docker() {
  local i
  for i in "${docker_images[@]}"; do docker rm -f -v "$i-$$" >/dev/null 2>&1; done
  our_docker_images | xargs -r docker rmi -f >/dev/null 2>&1
}
at_exit cleanup_docker

# ---- one case

# The lines that tell the two builds apart (config fields, then the tree), or nothing.
differences() {
  local case=$1 work=$2 name=$3
  docker image inspect "$name" >"$work/docker-inspect.json"
  ib inspect "$name" >"$work/imgbuild-inspect.json"
  python3 "$compare" config "$work/docker-inspect.json" "$work/imgbuild-inspect.json"

  local cid=$name-$$
  mkdir -p "$work/docker-root" "$work/oci"
  # Every image here has files (busybox at least): an empty export is the same dockerd flake
  # as above (an empty view of the image), so it is taken again, at most three times.
  local attempt
  for attempt in 1 2 3; do
    docker create --name "$cid" "$name" /true >/dev/null &&
      docker export "$cid" | tar --numeric-owner -xpf - -C "$work/docker-root" ||
      echo "error: docker create/export of $name failed"
    docker rm -f -v "$cid" >/dev/null 2>&1
    [[ -n $(ls -A "$work/docker-root") ]] && break
    echo "# $name: docker export gave an empty tree (attempt $attempt of 3)" >&2
  done
  ib save --format oci -o "$work/oci.tar" "$name" && tar -C "$work/oci" -xf "$work/oci.tar" &&
    umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null 2>"$work/umoci.err" ||
    echo "error: imgbuild save + umoci unpack of $name failed: $(cat "$work/umoci.err" 2>/dev/null)"
  python3 "$compare" tree "$work/bundle/rootfs" >"$work/imgbuild.tree"
  # The container's init layer makes /dev, /proc, /sys and /etc (for its mounts) when the
  # image has none (FROM scratch): those are not in the image.
  local skip=() d
  for d in dev proc sys etc; do grep -q "^$d"$'\t' "$work/imgbuild.tree" || skip+=(-e "^$d"$'\td\t0755\t0\t0$'); done
  python3 "$compare" tree "$work/docker-root" | { if ((${#skip[@]})); then grep -v "${skip[@]}"; else cat; fi; } >"$work/docker.tree"
  diff --unchanged-line-format= --old-line-format='tree: docker   %L' --new-line-format='tree: imgbuild %L' \
    "$work/docker.tree" "$work/imgbuild.tree"
  rm -rf "$work/docker-root" "$work/bundle" "$work/oci" "$work/oci.tar"
}

run_case() {
  local case=$1 src=$cases_dir/$1 t0
  t0=$(now)
  local work=$TEST_TMP/cases/$case ctx=$TEST_TMP/cases/$case/context name=diff-$case
  mkdir -p "$work"
  cp -a "$src" "$ctx"
  local meta
  for meta in build-args target prepare.sh Dockerfile.classic expected-diff; do
    [[ -e $ctx/$meta ]] && mv "$ctx/$meta" "$work/$meta"
  done
  if [[ -f $work/prepare.sh ]] && ! (cd "$ctx" && bash "$work/prepare.sh") >"$work/prepare.log" 2>&1; then
    fail "$case: prepare.sh" "$(cat "$work/prepare.log")"
    return
  fi
  local args=() kv
  if [[ -f $work/build-args ]]; then
    while IFS= read -r kv; do [[ -n $kv && $kv != \#* ]] && args+=(--build-arg "$kv"); done <"$work/build-args"
  fi
  [[ -f $work/target ]] && args+=(--target "$(<"$work/target")")
  local docker_file=$ctx/Dockerfile
  [[ -f $work/Dockerfile.classic ]] && docker_file=$work/Dockerfile.classic

  docker_images+=("$name")
  # dockerd here sometimes starts a build step's container on an empty rootfs under load
  # ("OCI runtime create failed ... stat /bin/sh", "Error processing tar file"): the peer's
  # own failure, retried twice; any other docker failure fails the case at once.
  local attempt
  for attempt in 1 2 3; do
    run env DOCKER_BUILDKIT=0 docker build --force-rm --network none -t "$name" -f "$docker_file" "${args[@]}" "$ctx"
    ((RC == 0)) && break
    grep -q -e 'OCI runtime create failed' -e 'Error processing tar file' <<<"$ERR" || break
    echo "# $case: dockerd's runtime failed (attempt $attempt of 3): $(grep -m1 -e 'OCI runtime' -e 'Error processing' <<<"$ERR")"
  done
  if ((RC != 0)); then fail "$case: docker build" "$(_last_command_diag)"; return; fi
  run ib build --network none -t "$name" "${args[@]}" "$ctx"
  if ((RC != 0)); then fail "$case: imgbuild build" "$(_last_command_diag)"; return; fi

  local got want=""
  got=$(differences "$case" "$work" "$name")
  [[ -f $work/expected-diff ]] && want=$(grep -v '^#' "$work/expected-diff" | grep -v '^[[:space:]]*$')
  local secs
  secs=$(elapsed "$t0")
  if [[ -z $want && -z $got ]]; then
    pass "$case: same config and tree as docker build (${secs}s)"
  elif [[ -n $want && $got == "$want" ]]; then
    pass "$case: differs from docker build only as expected: $(grep -m1 '^#' "$work/expected-diff" | sed 's/^# *//') (${secs}s)"
  elif [[ -n $want ]]; then
    fail "$case: differs from docker build otherwise than expected-diff says" "$(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | sed 's/^</expected but missing:/; s/^>/unexpected:/')"
  else
    fail "$case: differs from docker build" "$got"
  fi
}

cases=()
if [[ -n ${DOCKER_DIFF_CASES:-} ]]; then
  read -ra cases <<<"$DOCKER_DIFF_CASES"
else
  for d in "$cases_dir"/*/; do [[ -f $d/Dockerfile ]] && cases+=("$(basename "$d")"); done
fi
for c in "${cases[@]}"; do run_case "$c"; done

echo "# ${#cases[@]} cases in $(elapsed "$started")s"
finish
