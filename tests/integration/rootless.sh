#!/usr/bin/env bash
# Rootless (issue 14): imgbuild as an unprivileged user with subuid/subgid ranges, created
# here (idempotently). Runs as root (it makes the user); the checks run as that user through
# `su`, against a copy of the binary it can execute and a store under its XDG_DATA_HOME.
# Covers build + run --rm, layers byte-identical to root's (same image id with
# SOURCE_DATE_EPOCH), run -d/exec/commit, save/load, push/pull through a real registry,
# no gain beyond the user (a root-owned host file bound in stays unwritable, uid_map), a
# limit refused clearly, and the commands of docs/ci/kubernetes-rootless.yaml.
# Then runtime.sh, build.sh, lifecycle.sh and registry.sh as the user.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The user reads the test's files through TEST_TMP: traversable, whatever TMPDIR's mode.
chmod 755 "$TEST_TMP"

[[ $(id -u) == 0 ]] || { echo "skipped: needs root to create the unprivileged test user"; exit 77; }
command -v newuidmap >/dev/null && command -v newgidmap >/dev/null ||
  { echo "skipped: newuidmap/newgidmap not installed (uidmap package)"; exit 77; }
command -v docker-registry >/dev/null || { echo "skipped: docker-registry not installed"; exit 77; }

# The user and its ranges, made here when missing (a fresh machine has neither; useradd may
# or may not allocate ranges itself). IMGBUILD_TEST_USER picks another user (parallel runs).
user=${IMGBUILD_TEST_USER:-imgbuild-rl}
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
touch /etc/subuid /etc/subgid
grep -q "^$user:" /etc/subuid || usermod --add-subuids 300000-365535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 300000-365535 "$user"
uid=$(id -u "$user")
sub_start=$(awk -F: -v u="$user" '$1 == u { print $2; exit }' /etc/subuid)
sub_count=$(awk -F: -v u="$user" '$1 == u { print $3; exit }' /etc/subuid)

# The binary and the sources the user runs (scripts, samples, the recipe) copied where it
# can read them: a fresh clone or its build dir may sit below a directory it cannot enter.
home=$TEST_TMP/home && mkdir -p "$home" && chown "$user:" "$home"
bin=$TEST_TMP/bin && mkdir -p "$bin" && cp "$IMGBUILD" "$bin/imgbuild" && chmod 755 "$bin" "$bin/imgbuild"
I=$bin/imgbuild
src=$TEST_TMP/src && mkdir -p "$src/tests" "$src/docs"
cp -r "$IMGBUILD_SOURCE_DIR/samples" "$src/" && cp -r "$IMGBUILD_SOURCE_DIR/tests/integration" "$src/tests/" &&
  cp -r "$IMGBUILD_SOURCE_DIR/docs/ci" "$src/docs/" && chmod -R a+rX "$src"
# A pause process left by an earlier run may hold a mapping from other ranges: end it.
old_pause=$(awk '{print $1}' "/tmp/imgbuild-$uid/pause.pid" 2>/dev/null)
[[ -n $old_pause && $(cat "/proc/$old_pause/comm" 2>/dev/null) == imgbuild-pause ]] && kill "$old_pause"
# as_user CMD...: CMD as the unprivileged user, its store in $home, in a clean environment
# (root's XDG_RUNTIME_DIR, TMPDIR or IMGBUILD_ROOT must not leak into the user's run).
as_user() {
  su -s /bin/bash "$user" -c "cd $(printf %q "$home") && $(printf '%q ' env -i HOME="$home" USER="$user" LOGNAME="$user" \
    XDG_DATA_HOME="$home/data" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    IMGBUILD="$I" IMGBUILD_SOURCE_DIR="$src" "$@")"
}
cleanup_user() {
  as_user "$I" unshare rm -rf "$home/data"
  local pid
  pid=$(awk '{print $1}' "/tmp/imgbuild-$uid/pause.pid" 2>/dev/null) && [[ -n $pid ]] && kill "$pid"
  rm -rf "/tmp/imgbuild-$uid"
}
at_exit cleanup_user

run as_user bash "$src/samples/make-busybox-base.sh" "$I" busybox:latest
check "busybox base imported rootless" test "$RC" = 0
run as_user "$I" unshare cat /proc/self/uid_map
expect_match "the user namespace maps root to the user and 1.. to the subuid range" \
  "^ *0 +$uid +1 +1 +$sub_start +$sub_count" "$(echo $OUT)"
check "the store is under XDG_DATA_HOME" test -d "$home/data/imgbuild/layers"
check "the pause process is recorded in /tmp/imgbuild-<uid> (0700)" test "$(stat -c %a "/tmp/imgbuild-$uid")" = 700

ctx=$home/ctx && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && mkdir -p /home/app /opq && echo hi > /home/app/f && chown -R 1000:1000 /home/app && touch /opq/old
RUN rm -rf /opq && mkdir /opq && touch /opq/new && rm /etc/group
USER app
RUN id > /home/app/id && chmod 600 /home/app/id
D
chown -R "$user:" "$ctx"
run as_user env SOURCE_DATE_EPOCH=0 "$I" build -t rl "$ctx"
check "build rootless (chown to another user, whiteout, opaque dir)" test "$RC" = 0
rootless_id=$(as_user "$I" inspect --format '{{.Id}}' rl)
root_store=$(new_store)
make_busybox_base "$root_store" >/dev/null
SOURCE_DATE_EPOCH=0 "$IMGBUILD" --root "$root_store" build -q -t rl "$ctx" >/dev/null
root_id=$("$IMGBUILD" --root "$root_store" inspect --format '{{.Id}}' rl)
expect_eq "the image built rootless is the one built as root (same config and diffIDs)" "$root_id" "$rootless_id"

run as_user "$I" run --rm --network none rl sh -c 'id -u; cat /home/app/id; ls /opq; stat -c %u /home/app/f'
expect_eq "run --rm rootless: the container sees the image's owners" "1000
uid=1000(app) gid=1000 groups=1000
new
1000" "$OUT"
echo "host secret" >"$TEST_TMP/rootfile" && chmod 644 "$TEST_TMP/rootfile"
run as_user "$I" run --rm --network none --user 0 -v "$TEST_TMP/rootfile:/f" rl sh -c 'echo x >> /f'
check "root in a rootless container cannot write a root-owned host file" test "$RC" != 0
expect_eq "the host file is unchanged" "host secret" "$(cat "$TEST_TMP/rootfile")"
run as_user "$I" run --rm --network none rl cat /proc/self/uid_map
expect_match "/proc/self/uid_map in the container shows the mapping" "1 +$sub_start +$sub_count" "$(echo $OUT)"
run as_user "$I" run --rm --network none -m 64m rl true
expect_match "a memory limit rootless without delegation is refused clearly" "memory needs cgroup v2 delegation" "$ERR"
check "... and the run fails" test "$RC" != 0

run as_user "$I" run -d --name c1 --network none rl sh -c 'echo made > /tmp/made; exec sleep 60'
check "run -d rootless" test "$RC" = 0
sleep 0.3
run as_user "$I" exec c1 sh -c 'cat /tmp/made; id -u'
expect_eq "exec joins the detached rootless container" "made
1000" "$OUT"
run as_user "$I" commit c1 rl:committed
check "commit of a running rootless container" test "$RC" = 0
run as_user "$I" run --rm --network none rl:committed cat /tmp/made
expect_eq "the commit holds the container's file" "made" "$OUT"
run as_user "$I" rm -f c1
check "rm -f the rootless container" test "$RC" = 0

run as_user "$I" save -o "$home/rl.tar" rl
check "save rootless" test "$RC" = 0
run as_user "$I" rmi rl
run as_user "$I" load -i "$home/rl.tar"
check "load rootless" test "$RC" = 0
run as_user "$I" run --rm --network none rl cat /home/app/id
expect_eq "the loaded image runs with its owners" "uid=1000(app) gid=1000 groups=1000" "$OUT"
rm -f "$home/rl.tar"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TEST_TMP/registry"
cat >"$TEST_TMP/registry/config.yml" <<Y
version: 0.1
storage:
  filesystem:
    rootdirectory: $TEST_TMP/registry/data
http:
  addr: 127.0.0.1:$port
Y
docker-registry serve "$TEST_TMP/registry/config.yml" >"$TEST_TMP/registry.log" 2>&1 &
at_exit kill $!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done

# The Kubernetes-Job recipe, its very commands.
recipe=$(sed -n '/# BEGIN rootless-build/,/# END rootless-build/p' "$src/docs/ci/kubernetes-rootless.yaml" | sed 's/^ *//')
check "the recipe has its commands" test "$(printf '%s\n' "$recipe" | grep -c IMGBUILD)" -ge 3
printf '%s\n' "$recipe" >"$home/recipe.sh" && chmod 644 "$home/recipe.sh"
run as_user env CONTEXT="$ctx" REGISTRY="127.0.0.1:$port" SOURCE_DATE_EPOCH=0 sh -e "$home/recipe.sh"
recipe_out=$OUT
check "docs/ci/kubernetes-rootless.yaml: build, run, push as the user" test "$RC" = 0
expect_match "... its run shows the mapping" "$sub_start" "$(echo $recipe_out)"
run as_user "$I" rmi "127.0.0.1:$port/ci/app:latest"
run as_user "$I" pull --tls-verify=false "127.0.0.1:$port/ci/app:latest"
check "pull rootless" test "$RC" = 0
run as_user "$I" run --rm --network none "127.0.0.1:$port/ci/app:latest" stat -c %u /home/app/f
expect_eq "the pulled image keeps its owners" "1000" "$OUT"
run "$IMGBUILD" --root "$root_store" pull --tls-verify=false "127.0.0.1:$port/ci/app:latest"
run "$IMGBUILD" --root "$root_store" inspect --format '{{.Id}}' "127.0.0.1:$port/ci/app:latest"
expect_eq "root pulls the rootless push as the image root built" "$root_id" "$OUT"

# The runtime, builder, lifecycle and registry suites as the user (their root-only checks
# skipped with the reason, limits checked to be refused; registry.sh starts its registries as
# the user). IMGBUILD_ROOTLESS_SUITES="a b" picks others.
read -ra scripts <<<"${IMGBUILD_ROOTLESS_SUITES:-runtime build lifecycle registry}"
if true; then
  for script in "${scripts[@]}"; do
    mkdir -p "$home/tmp" "$home/run" && chown "$user:" "$home/tmp" "$home/run" && chmod 700 "$home/run"  # its leftovers go with $TEST_TMP, removed as root
    # (its own XDG_RUNTIME_DIR: the pause processes it makes, imgbuild's and podman's, are found and ended)
    run as_user env IMGBUILD_ROOTLESS=1 TMPDIR="$home/tmp" XDG_RUNTIME_DIR="$home/run" bash "$src/tests/integration/$script.sh"
    script_out=$OUT
    kill_rootless_pauses "$home/run"
    check "$script.sh as the unprivileged user (exit 0 or 77)" test "$RC" = 0 -o "$RC" = 77
    printf '%s\n' "$script_out" | grep -E '^(not ok|[0-9]+ passed)|# skip' | sed 's/^/#   /'
  done
fi
finish
