#!/usr/bin/env bash
# RUN --mount (BuildKit's reference): for each type what the RUN sees, that the layer holds
# nothing of the mount, and what the cache key holds (a changed secret hits, a changed bind
# source misses); cache dirs persist across builds and --no-cache, sharing=locked
# serializes two builds, private gives a separate dir; secrets are nowhere in the store,
# the logs or the history; ssh forwarding to a real ssh-agent; prune and system df.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) != 0 ]]; then
  echo "skipped: run_mounts.sh needs root (namespaces, overlayfs, tmpfs)"
  exit 77
fi

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }

# last_layer_files IMAGE: the paths in the image's top layer, sorted (from a docker save).
last_layer_files() {
  local d=$TEST_TMP/save.$RANDOM
  mkdir -p "$d" && ib save --format docker -o "$d/i.tar" "$1" && tar -C "$d" -xf "$d/i.tar" &&
    tar -tf "$d/$(jq -r '.[0].Layers[-1]' "$d/manifest.json")" | sed 's#/$##' | LC_ALL=C sort
  rm -rf "$d"
}

# ======================================================================================
# type=cache: persists across builds and --no-cache, nothing of it in the layer
ctx=$TEST_TMP/cache && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
ARG N=1
RUN --mount=type=cache,target=/var/cache/app \
    echo "run $N" >> /var/cache/app/log && cat /var/cache/app/log > /seen && ls -ld /var/cache/app | cut -c1-10 > /mode
D
check "build with a cache mount" ib -t cache1 --progress plain "$ctx"
run ib run --rm cache1 cat /seen
expect_eq "the first RUN sees an empty cache" "run 1" "$OUT"
run ib run --rm cache1 cat /mode
expect_eq "a cache dir is 0755 by default" "drwxr-xr-x" "$OUT"
expect_eq "the layer holds /seen and /mode only (no /var/cache/app, no /var)" $'mode\nseen' "$(last_layer_files cache1)"
hex=$(printf %s /var/cache/app | sha256sum | cut -d' ' -f1)
check "cache-mounts/<sha256 of id>/data holds what the RUN wrote" test -f "$store/cache-mounts/$hex/data/log"
expect_eq "meta.json names the id" "/var/cache/app" "$(jq -r .id "$store/cache-mounts/$hex/meta.json")"
check "meta.json has created and last_used" jq -e '.created and .last_used' "$store/cache-mounts/$hex/meta.json"
check "second build (another ARG value)" ib -t cache2 --build-arg N=2 "$ctx"
run ib run --rm cache2 cat /seen
expect_eq "the second build sees the first build's cache" $'run 1\nrun 2' "$OUT"
check "--no-cache build" ib -t cache3 --no-cache --build-arg N=3 "$ctx"
run ib run --rm cache3 cat /seen
expect_eq "--no-cache keeps the cache mount's contents" $'run 1\nrun 2\nrun 3' "$OUT"
check "same build again" ib -t cache2b --build-arg N=2 --progress plain "$ctx"
expect_match "a cache mount does not break the step cache" 'CACHED' "$OUT"

# id, mode, uid, gid, from (seeds an empty cache), ro
cat >"$ctx/Dockerfile" <<'D'
FROM busybox AS seed
RUN mkdir -p /out && echo seeded > /out/s
FROM busybox
RUN --mount=type=cache,id=owned,target=/c,mode=0700,uid=1234,gid=99 stat -c '%a %u %g' /c > /owned
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/out cat /c/s > /seeded
RUN --mount=type=cache,id=seeded,target=/c,ro sh -c 'touch /c/x 2>/dev/null && echo writable || echo read-only' > /ro
D
check "cache mounts with id, mode, uid, gid, from, ro" ib -t cache-opts "$ctx"
run ib run --rm cache-opts cat /owned /seeded /ro
expect_eq "mode/uid/gid apply to a new cache; from= seeds it; ro is read-only" $'700 1234 99\nseeded\nread-only' "$OUT"

# sharing=locked serializes two concurrent builds; sharing=private gives another dir
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
ARG WHO
RUN --mount=type=cache,id=lk,target=/c,sharing=locked \
    sh -c 'echo "$WHO start $(date +%s.%N)" >> /c/log; sleep 2; echo "$WHO end $(date +%s.%N)" >> /c/log'
D
# two_builds NAME: builds NAME-a and NAME-b (WHO=a, b) at once, b half a second later.
two_builds() {
  ib -t "$1-a" --build-arg WHO=a "$ctx" >/dev/null 2>&1 &
  local pid_a=$!
  sleep 0.5
  ib -t "$1-b" --build-arg WHO=b "$ctx" >/dev/null 2>&1 &
  local pid_b=$!
  wait $pid_a && wait $pid_b
}
two_builds lk
expect_eq "two concurrent builds with sharing=locked both succeed" 0 $?
log=$store/cache-mounts/$(printf lk | sha256sum | cut -d' ' -f1)/data/log
order=$(awk '{print $2}' "$log" | tr '\n' ' ')
expect_eq "sharing=locked: one RUN ends before the other starts" "start end start end " "$order"

cat >"$ctx/Dockerfile" <<'D'
FROM busybox
ARG WHO
RUN --mount=type=cache,id=pv,target=/c,sharing=private \
    sh -c 'echo "$WHO" >> /c/who; sleep 2; cat /c/who > /who'
D
two_builds pv
expect_eq "two concurrent builds with sharing=private both succeed" 0 $?
run ib run --rm pv-b cat /who
expect_eq "sharing=private: the second build got a dir of its own" "b" "$OUT"
pvdir=$store/cache-mounts/$(printf pv | sha256sum | cut -d' ' -f1)
check "the private instance lives under private/" test -f "$pvdir/private/0/data/who"

# ======================================================================================
# type=secret: file and env, never in the layer, key, store, logs or history
ctx=$TEST_TMP/secret && mkdir -p "$ctx"
secret_value="S3cr3t-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf %s "$secret_value" >"$TEST_TMP/token"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN --mount=type=secret,id=tok \
    --mount=type=secret,id=tok,env=TOKEN,target=/etc/tok \
    sh -c 'stat -c "%a %u" /run/secrets/tok; [ "$(cat /run/secrets/tok)" = "$TOKEN" ] && echo env-matches; [ "$(cat /etc/tok)" = "$TOKEN" ] && echo file-matches; echo "len $(cat /run/secrets/tok | wc -c)"; cat /run/secrets/tok' > /out
D
check "build with a secret" ib -t sec --secret id=tok,src="$TEST_TMP/token" --progress plain "$ctx"
build_log=$OUT$ERR
run ib run --rm sec head -n 4 /out
expect_eq "the RUN reads the secret as a 0400 root file and as an env var" $'400 0\nenv-matches\nfile-matches\nlen '"${#secret_value}" "$OUT"
expect_eq "the layer holds /out only (no /run/secrets, no /etc/tok)" "out" "$(last_layer_files sec)"
rm -f "$TEST_TMP/out" && ib run --rm sec cat /out >"$TEST_TMP/out"
# The RUN printed the secret into /out itself (a user's choice): the check is that imgbuild
# put it nowhere else. Remove that image's own layer from the search.
ib rmi sec >/dev/null && ib prune >/dev/null
printf %s "another-$secret_value" >"$TEST_TMP/token"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN --mount=type=secret,id=tok,required cat /run/secrets/tok > /dev/null && echo used > /used
D
check "build with a secret (no copy of it in the image)" ib -t sec2 --secret id=tok,src="$TEST_TMP/token" --progress plain "$ctx"
build_log+=$OUT$ERR
printf %s "changed-$secret_value" >"$TEST_TMP/token"
check "rebuild after the secret changed" ib -t sec2 --secret id=tok,src="$TEST_TMP/token" --progress plain "$ctx"
expect_match "a changed secret does not invalidate the step" 'CACHED' "$OUT"
build_log+=$OUT$ERR
run grep -rl --binary-files=text -- "$secret_value" "$store"
expect_eq "the secret's value is nowhere in the store" "" "$OUT"
expect_no_match "the secret's value is not in the build logs" "$secret_value" "$build_log"
run ib history --no-trunc sec2
expect_no_match "nor in the history" "$secret_value" "$OUT"
check_exit "a required secret that is not given fails" 1 ib -t sec3 --no-cache "$ctx"
expect_match "naming the secret and the flag" 'secret tok is required but not given \(build --secret id=tok' "$ERR"
printf 'FROM busybox\nRUN --mount=type=secret,id=nope ls /run/secrets > /l 2>&1 || echo absent > /l\n' >"$ctx/Dockerfile"
check "an optional secret that is not given is not mounted" ib -t sec4 "$ctx"
run ib run --rm sec4 cat /l
expect_eq "the RUN sees no secret file" "absent" "$OUT"
export IMGBUILD_IT_SECRET=$secret_value
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN --mount=type=secret,id=s,env=S sh -c 'echo -n "$S" | wc -c > /n'
D
check "--secret id=s,env=VAR" ib -t sec5 --secret id=s,env=IMGBUILD_IT_SECRET "$ctx"
run ib run --rm sec5 cat /n
expect_eq "the env form reads the caller's variable" "${#secret_value}" "$(tr -d ' ' <<<"$OUT")"
unset IMGBUILD_IT_SECRET
check_exit "a secret file that does not exist is an error" nonzero ib -t x --secret id=a,src="$TEST_TMP/no-such-file" "$ctx"
expect_match "naming the id and the file" "secret a: open $TEST_TMP/no-such-file" "$ERR"

# ======================================================================================
# type=ssh: a real ssh-agent; ssh-add -l in the RUN lists its key
ctx=$TEST_TMP/ssh && mkdir -p "$ctx/tools"
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null; then
  eval "$(ssh-agent -s -a "$TEST_TMP/agent.sock")" >/dev/null
  at_exit kill "$SSH_AGENT_PID"
  ssh-keygen -q -t ed25519 -N '' -C imgbuild-it-key -f "$TEST_TMP/key" && ssh-add -q "$TEST_TMP/key" 2>/dev/null
  # ssh-add and its libraries from the host, so that a busybox image can run it.
  for f in /usr/bin/ssh-add $(ldd /usr/bin/ssh-add | grep -o '/[^ ]*'); do cp --parents -L "$f" "$ctx/tools/"; done
  cat >"$ctx/Dockerfile" <<'D'
FROM busybox
COPY tools/ /
RUN --mount=type=ssh sh -c 'echo "$SSH_AUTH_SOCK"; stat -c "%a %u" "$SSH_AUTH_SOCK"; ssh-add -l' > /ssh.txt
RUN --mount=type=ssh,id=other,target=/tmp/agent,mode=0666,uid=7 sh -c 'stat -c "%a %u" /tmp/agent; SSH_AUTH_SOCK=/tmp/agent ssh-add -l' > /ssh2.txt
D
  check "build with --ssh default and --ssh other=SOCKET" ib -t sshimg --ssh default --ssh other="$TEST_TMP/agent.sock" "$ctx"
  run ib run --rm sshimg cat /ssh.txt
  expect_match "SSH_AUTH_SOCK names the default target" '^/run/buildkit/ssh_agent\.0$' "$OUT"
  expect_match "the socket is 0600 root" '^600 0$' "$OUT"
  expect_match "ssh-add -l in the RUN lists the agent's key" 'imgbuild-it-key \(ED25519\)' "$OUT"
  run ib run --rm sshimg cat /ssh2.txt
  expect_match "target, mode and uid of an ssh mount" '^666 7$' "$OUT"
  expect_match "the second agent answers too" 'imgbuild-it-key' "$OUT"
  expect_eq "the layer holds /ssh2.txt only" "ssh2.txt" "$(last_layer_files sshimg)"
  printf 'FROM busybox\nRUN --mount=type=ssh,required true\n' >"$ctx/Dockerfile"
  check_exit "a required ssh agent that is not given fails" 1 env -u SSH_AUTH_SOCK "$IMGBUILD" --root "$store" -t x "$ctx"
  expect_match "naming it" 'ssh agent default is required but not given' "$ERR"
else
  fail "ssh-agent, ssh-add, ssh-keygen present (openssh-client; scripts/install-deps.sh --test)"
fi

# ======================================================================================
# type=bind: the context (default; .dockerignore, rw writes discarded), a stage, an image
ctx=$TEST_TMP/bind && mkdir -p "$ctx/src"
echo one >"$ctx/src/a.txt"
echo hidden >"$ctx/src/ignored.txt"
echo "src/ignored.txt" >"$ctx/.dockerignore"
ln -s /etc/passwd "$ctx/src/outside"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox AS build
RUN mkdir /out && echo built > /out/artifact
FROM busybox
RUN --mount=target=/ctx sh -c 'cat /ctx/src/a.txt; ls /ctx/src; readlink /ctx/src/outside; touch /ctx/x 2>/dev/null || echo ro' > /from-context
RUN --mount=type=bind,source=src,target=/w,rw sh -c 'echo changed > /w/a.txt; rm /w/outside; cat /w/a.txt' > /rw
RUN --mount=type=bind,from=build,source=/out,target=/art cat /art/artifact > /from-stage
RUN --mount=type=bind,from=busybox,source=/bin,target=/bb ls /bb/busybox > /from-image
D
check "bind mounts from the context, a stage and an image" ib -t bindimg --progress plain "$ctx"
run ib run --rm bindimg cat /from-context
expect_eq "the context bind: read-only, .dockerignore applied, a symlink kept as a symlink" \
  $'one\na.txt\noutside\n/etc/passwd\nro' "$OUT"
run ib run --rm bindimg cat /rw /from-stage /from-image
expect_eq "rw writes seen in the RUN; from a stage; from an image" $'changed\nbuilt\n/bb/busybox' "$OUT"
expect_eq "rw writes never reach the context" "one" "$(cat "$ctx/src/a.txt")"
check "the context's symlink is still there" test -L "$ctx/src/outside"
expect_eq "the layer holds /from-image only (no /bb)" "from-image" "$(last_layer_files bindimg)"
check "rebuild unchanged" ib -t bindimg --progress plain "$ctx"
expect_eq "every step cached" 5 "$(grep -c CACHED <<<"$OUT")"
echo two >"$ctx/src/a.txt"
check "rebuild after a bound file changed" ib -t bindimg --progress plain "$ctx"
run ib run --rm bindimg cat /from-context
expect_match "a changed bind source is a miss" '^two$' "$OUT"
echo hidden-changed >"$ctx/src/ignored.txt"
check "rebuild after an ignored file changed" ib -t bindimg --progress plain "$ctx"
expect_eq "an ignored file does not count" 5 "$(grep -c CACHED <<<"$OUT")"
printf 'FROM busybox\nRUN --mount=target=/x,source=../ true\n' >"$ctx/Dockerfile"
check_exit "a bind source outside the context is refused" 1 ib -t x "$ctx"
expect_match "as COPY refuses it" 'outside the build context' "$ERR"
printf 'FROM busybox\nRUN --mount=target=/x,source=src/outside true\n' >"$ctx/Dockerfile"
check_exit "a bind through a symlink out of the context is refused" 1 ib -t x "$ctx"

# ======================================================================================
# type=tmpfs: size, nothing in the layer
ctx=$TEST_TMP/tmpfs && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN --mount=type=tmpfs,target=/scratch,size=1m \
    sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f3; df -k /scratch | tail -1 | awk "{print \$2}"; echo x > /scratch/f; dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo full' > /t
D
check "build with a tmpfs mount" ib -t tmpimg "$ctx"
run ib run --rm tmpimg cat /t
expect_eq "a 1 MiB tmpfs that fills up" $'tmpfs\n1024\nfull' "$OUT"
expect_eq "the layer holds /t only" "t" "$(last_layer_files tmpimg)"
printf 'FROM busybox\nRUN --mount=type=tmpfs,target=/s,id=x true\n' >"$ctx/Dockerfile"
check_exit "a field the type does not take is refused" 1 ib -t x "$ctx"
expect_match "naming the mount" 'mount type tmpfs takes no id' "$ERR"

# A mount point the RUN creates itself stays in the layer (it is the RUN's own dir).
printf 'FROM busybox\nRUN mkdir -p /made && touch /made/keep\nRUN --mount=type=tmpfs,target=/made/t touch /marker\n' >"$ctx/Dockerfile"
check "a mount below a dir of the image" ib -t mp "$ctx"
expect_eq "the top layer holds the marker only" "marker" "$(last_layer_files mp)"

# ======================================================================================
# prune and system df
run ib system df
expect_match "system df has a Cache Mounts row" '^Cache Mounts +[0-9]+' "$OUT"
before=$(ls "$store/cache-mounts" | wc -l)
check "prune (without -a)" ib prune
expect_eq "plain prune keeps the cache mounts" "$before" "$(ls "$store/cache-mounts" | wc -l)"
check "builder prune" ib builder prune -f
expect_match "builder prune removes cache mounts" "Deleted cache mounts: $before" "$OUT"
expect_eq "cache-mounts/ is empty" 0 "$(ls "$store/cache-mounts" | wc -l)"
check "fsck" ib fsck
finish
