#!/usr/bin/env bash
# The builder end to end: samples/helloworld, every instruction's effect on the config and
# the tree, whiteouts, cache hits and misses, multi-stage, failures, reproducibility, and
# interop (podman runs what we build; umoci unpacks it).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# IMGBUILD_ROOTLESS=1 (tests/integration/rootless.sh): the same checks as an unprivileged user;
# umoci unpacks with --rootless, podman runs rootless in its own store (--net none).
rootless=0
[[ $(id -u) != 0 ]] && rootless=1
if ((rootless)) && [[ ${IMGBUILD_ROOTLESS:-0} != 1 ]]; then echo "skipped: build.sh needs root (or IMGBUILD_ROOTLESS=1)"; exit 77; fi
umoci_opts=()
((rootless)) && umoci_opts=(--rootless)

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }

# ---- the sample
check "build samples/helloworld" ib -t helloworld --progress plain "$IMGBUILD_SOURCE_DIR/samples/helloworld"
first_id=$(ib inspect --format '{{.Id}}' helloworld)
check "run helloworld" ib run --rm helloworld
expect_match "helloworld prints Hello World!" '^Hello World!$' "$OUT"
check "run -e NAME=you" ib run --rm -e NAME=you helloworld
expect_match "-e overrides ENV" '^Hello you!$' "$OUT"
check "rebuild of helloworld" ib -t helloworld --progress plain "$IMGBUILD_SOURCE_DIR/samples/helloworld"
expect_eq "a rebuild hits the cache on every step" 6 "$(grep -c CACHED <<<"$OUT")"
expect_eq "a fully cached rebuild gives the same image id" "$first_id" "$(ib inspect --format '{{.Id}}' helloworld)"
expect_eq "WorkingDir" /app "$(ib inspect --format '{{.Config.WorkingDir}}' helloworld)"
expect_eq "Cmd" '["/app/app.sh"]' "$(ib inspect --format '{{json .Config.Cmd}}' helloworld)"
expect_eq "ExposedPorts" '{"80/tcp":{}}' "$(ib inspect --format '{{json .Config.ExposedPorts}}' helloworld)"
expect_match "Env has NAME" 'NAME=World' "$(ib inspect --format '{{json .Config.Env}}' helloworld)"
check ".dockerignore keeps the Dockerfile out" ib run --rm helloworld ls /app
expect_no_match "no Dockerfile in /app" '^Dockerfile$' "$OUT"

# ---- config instructions
ctx=$TEST_TMP/config && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
ARG GREETING=hi
ENV A=1 B="two words"
LABEL org.example.k=v other="x y"
EXPOSE 8080/udp 9000-9001
USER nobody
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["true"]
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo", "$GREETING"]
ONBUILD RUN echo child
MAINTAINER someone
D
check "build config-only instructions" ib -t cfg -q "$ctx"
expect_eq "-q prints only the id" "$(ib inspect --format '{{.Id}}' cfg)" "$OUT"
cfgjson=$(ib inspect --format '{{json .Config}}' cfg)
for want in '"A=1"' '"B=two words"' '"org.example.k":"v"' '"other":"x y"' '"8080/udp":\{\}' '"9000/tcp":\{\}' \
            '"9001/tcp":\{\}' '"User":"nobody"' '"/data":\{\}' '"StopSignal":"SIGTERM"' '"Retries":2' \
            '"Interval":30000000000' '"Shell":\["/bin/sh","-ec"\]' '"OnBuild":\["RUN echo child"\]' \
            '"Entrypoint":\["/bin/echo","\$GREETING"\]'; do
  expect_match "config has $want" "$want" "$cfgjson"
done
expect_no_match "ARG is not persisted in Env" 'GREETING' "$(ib inspect --format '{{json .Config.Env}}' cfg)"

# ---- ONBUILD: the base's triggers run in the child build, right after FROM
ctx=$TEST_TMP/onbuild && mkdir -p "$ctx"
printf 'FROM busybox\nONBUILD RUN echo triggered > /t\nONBUILD ENV FROM_TRIGGER=1\n' >"$ctx/Dockerfile"
check "build an image with ONBUILD triggers" ib -t obparent "$ctx"
printf 'FROM obparent\nRUN cat /t\n' >"$ctx/Dockerfile"
check "build its child" ib -t obchild --progress plain "$ctx"
expect_match "the trigger's RUN ran before the child's own steps" '^\[[0-9]+\] \| triggered$' "$OUT"
expect_match "the trigger's ENV is in the child" 'FROM_TRIGGER=1' "$(ib inspect --format '{{json .Config.Env}}' obchild)"
expect_eq "triggers are not inherited by grandchildren" null "$(ib inspect --format '{{json .Config.OnBuild}}' obchild)"

# ---- RUN, ARG, build args, whiteouts, opaque dirs, special files
ctx=$TEST_TMP/fs && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
ARG WHO=nobody
RUN mkdir -p /d && echo old > /d/old && echo "$WHO" > /who
RUN rm /bin/ls && rm -rf /d && mkdir /d && echo new > /d/new
RUN echo x > /f && chmod 4755 /f && ln /f /hard && ln -s /f /sym && mkfifo /fifo
RUN echo visible-output
D
check "build with RUN steps" ib -t fs --build-arg WHO=builder --progress plain "$ctx"
expect_match "RUN output is shown, prefixed" '^\[6\] \| visible-output$' "$OUT"
expect_eq "a RUN that changes nothing makes no layer" 4 "$(ib inspect --format '{{json .RootFS.Layers}}' fs | tr ',' '\n' | wc -l)"
check "run fs image" ib run --rm fs sh -c 'cat /who; ls /d; test -e /bin/ls && echo ls-present; stat -c "%a %h" /f; readlink /sym; test -p /fifo && echo fifo'
expect_match "--build-arg reaches RUN" '^builder$' "$OUT"
expect_match "a dir removed and recreated is opaque: only the new file" '^new$' "$OUT"
expect_no_match "the old file is gone" '^old$' "$OUT"
expect_no_match "a file deleted from a lower layer is gone" 'ls-present' "$OUT"
expect_match "setuid bit and hardlink count survive" '^4755 2$' "$OUT"
expect_match "symlink survives" '^/f$' "$OUT"
expect_match "fifo survives" '^fifo$' "$OUT"

# ---- a stage's plain RUNs share one run dir (builder/run_dir.h): no step's state may reach
# another step's layer, a --mount RUN in between gets its own dir, and the dir goes with the build
ctx=$TEST_TMP/rundir && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN echo one > /tmp/one
RUN test -f /tmp/one && rm /tmp/one /bin/cat
RUN true
RUN test ! -e /tmp/one && test ! -e /bin/cat && echo two > /tmp/two
RUN --mount=type=tmpfs,target=/m test -f /tmp/two && echo m > /m/x
RUN test -f /tmp/two && echo three > /three
D
check "build RUNs sharing the stage's run dir" ib -t rundir --no-cache "$ctx"
check "save rundir" ib save --format docker -o "$TEST_TMP/rundir.tar" rundir
mkdir -p "$TEST_TMP/rundir-x" && tar -C "$TEST_TMP/rundir-x" -xf "$TEST_TMP/rundir.tar"
mapfile -t rundir_layers < <(jq -r '.[0].Layers[]' "$TEST_TMP/rundir-x/manifest.json")
expect_eq "busybox + 4 layers (a RUN that changes nothing or only a tmpfs makes none)" 5 "${#rundir_layers[@]}"
layer_files() { tar -tzf "$TEST_TMP/rundir-x/$1" 2>/dev/null || tar -tf "$TEST_TMP/rundir-x/$1"; }
expect_eq "RUN 1's layer: /tmp/one only" "$(printf 'tmp/\ntmp/one')" "$(layer_files "${rundir_layers[1]}" | sed 's#^\./##' | sort)"
expect_eq "RUN 2's layer: the two whiteouts only" "$(printf 'bin/\nbin/.wh.cat\ntmp/\ntmp/.wh.one')" \
  "$(layer_files "${rundir_layers[2]}" | sed 's#^\./##' | sort)"
expect_eq "RUN 4's layer: /tmp/two only (nothing of RUN 2's upper)" "$(printf 'tmp/\ntmp/two')" \
  "$(layer_files "${rundir_layers[3]}" | sed 's#^\./##' | sort)"
expect_eq "RUN 6's layer: /three only" three "$(layer_files "${rundir_layers[4]}" | sed 's#^\./##' | sort)"
check "run rundir" ib run --rm rundir sh -c 'ls /tmp; test -e /bin/cat || echo no-cat; cat /three; test -e /m/x || echo no-m'
expect_eq "the image: /tmp/two, no cat, /three, no tmpfs file" "$(printf 'two\nno-cat\nthree\nno-m')" "$OUT"
expect_eq "no run dir is left in the store's tmp/" "" "$(ls "$store/tmp" | grep '^run-' || true)"
# A step that changed nothing leaves its upper to the next one only as it was made: a chmod
# or chown of / (no layer entry: the root is not in a layer) must not reach the next step.
ctx=$TEST_TMP/rundir-root && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN stat -c '%a %u %g' / > /before
RUN chmod 700 / && chown 1:2 /
RUN true
RUN stat -c '%a %u %g' / > /after
D
check "build: chmod and chown of / in a step of their own" ib -t rundir-root --no-cache "$ctx"
check "run rundir-root" ib run --rm rundir-root sh -c 'cat /before /after'
expect_eq "the next steps' root is as before the chmod" "$(sed -n 1p <<<"$OUT")" "$(sed -n 2p <<<"$OUT")"

# ---- interop: umoci's unpack of our OCI archive equals our container's root (less the
# runtime's own /etc/hosts, /etc/hostname and /etc/resolv.conf, which are never in a layer)
check "save fs as OCI" ib save --format oci -o "$TEST_TMP/fs-oci.tar" fs
mkdir -p "$TEST_TMP/fs-oci" && tar -C "$TEST_TMP/fs-oci" -xf "$TEST_TMP/fs-oci.tar"
check "umoci unpack" umoci unpack "${umoci_opts[@]}" --image "$TEST_TMP/fs-oci:latest" "$TEST_TMP/fs-bundle"
expect_true "umoci: /bin/ls whited out" test ! -e "$TEST_TMP/fs-bundle/rootfs/bin/ls"
expect_true "umoci: opaque /d has new only" test "$(ls "$TEST_TMP/fs-bundle/rootfs/d")" = new
run ib run --rm fs sh -c 'cd / && find bin d etc f hard sym fifo who | grep -vxE "etc/(hosts|hostname|resolv.conf)" | sort | while read p; do stat -c "%n %A %u %g %s" "$p"; done'
ours=$OUT
list_tree='cd "$1" && find bin d etc f hard sym fifo who | grep -vxE "etc/(hosts|hostname|resolv.conf)" | sort | while read -r p; do stat -c "%n %A %u %g %s" "$p"; done'
# (rootless: umoci --rootless leaves the files the user's; in the user namespace that is root)
if ((rootless)); then theirs=$("$IMGBUILD" unshare bash -c "$list_tree" _ "$TEST_TMP/fs-bundle/rootfs"); else theirs=$(bash -c "$list_tree" _ "$TEST_TMP/fs-bundle/rootfs"); fi
expect_eq "umoci's tree equals the container's root" "$ours" "$theirs"

# ---- podman runs what we build and prints what imgbuild run prints
# (rootless: podman's own rootless store under XDG_DATA_HOME; its default network needs
# /dev/net/tun, closed to the user here, and the output does not depend on the network)
podnet=() && ((rootless)) && podnet=(--net none)
check "save helloworld as docker-archive" ib save --format docker -o "$TEST_TMP/hello-docker.tar" helloworld
check "podman load" podman load -i "$TEST_TMP/hello-docker.tar"
run podman run --rm "${podnet[@]}" --hostname same helloworld:latest
podman_out=$OUT
run ib run --rm --hostname same helloworld
expect_eq "podman run prints what imgbuild run prints" "$OUT" "$podman_out"
podman rmi -f helloworld:latest >/dev/null 2>&1

# ---- cache: content change with the same size and mtime misses
ctx=$TEST_TMP/cache && mkdir -p "$ctx"
printf 'FROM busybox\nCOPY data.txt /data.txt\nRUN cat /data.txt\n' >"$ctx/Dockerfile"
echo AAAA >"$ctx/data.txt" && touch -d @1000000000 "$ctx/data.txt"
check "cache: first build" ib -t cache --progress plain "$ctx"
check "cache: second build" ib -t cache --progress plain "$ctx"
expect_eq "cache: all steps cached" 2 "$(grep -c CACHED <<<"$OUT")"
echo BBBB >"$ctx/data.txt" && touch -d @1000000000 "$ctx/data.txt"
check "cache: after an edit that keeps size and mtime" ib -t cache --progress plain "$ctx"
expect_eq "cache: the COPY and the RUN miss" 0 "$(grep -c CACHED <<<"$OUT")"
check "cache: the new content is in the image" ib run --rm cache cat /data.txt
expect_eq "cache: new content" BBBB "$OUT"
check "cache: --progress json" ib -t cache --progress json "$ctx"
expect_match "json events" '"event":"cache_hit"' "$OUT"
check "cache: --progress json --no-cache" ib -t cache --no-cache --progress json "$ctx"
expect_match "json reports each layer's commit time" '"commit_s":[0-9.e-]+,"event":"layer"' "$OUT"

# ---- multi-stage
ctx=$TEST_TMP/multi && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox AS build
RUN echo built > /artifact
FROM busybox AS unused
RUN false
FROM busybox
COPY --from=build /artifact /app/artifact
CMD ["cat", "/app/artifact"]
D
check "multi-stage build (the unused failing stage is skipped)" ib -t multi "$ctx"
check "run multi" ib run --rm multi
expect_eq "COPY --from a stage" built "$OUT"
check "--target build" ib -t multi-build --target build "$ctx"
check "run --target image" ib run --rm multi-build cat /artifact
expect_eq "--target stops at the stage" built "$OUT"

# ---- failures leave the store as it was
ctx=$TEST_TMP/fail && mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo partial > /p\nRUN exit 3\n' >"$ctx/Dockerfile"
check_exit "a failing RUN fails the build" 1 ib -t failing "$ctx"
expect_match "the error names the step and the exit code" 'step 3/3 RUN exit 3: exit code 3' "$ERR"
check_exit "no tag for a failed build" 1 ib inspect failing
check "fsck after a failed build" ib fsck
printf 'FROM busybox\nRUNN x\n' >"$ctx/Dockerfile"
check_exit "a typo is an error" 1 ib "$ctx"
expect_match "the typo error names the line" 'Dockerfile:2:1: unknown instruction' "$ERR"
printf 'FROM nosuchimage\n' >"$ctx/Dockerfile"
check_exit "an unknown base image is an error" 1 ib "$ctx"
expect_match "the error says so" 'nosuchimage.*not found' "$ERR"

# ---- reproducibility: two stores, same context, same digests
ctx=$TEST_TMP/repro && mkdir -p "$ctx"
printf 'FROM busybox\nCOPY f /f\nRUN echo hi > /g && mkdir /dir\nENV X=1\n' >"$ctx/Dockerfile"
echo content >"$ctx/f"
store2=$(new_store)
make_busybox_base "$store2" >/dev/null
SOURCE_DATE_EPOCH=1700000000 "$IMGBUILD" --root "$store" -t repro -q "$ctx" >"$TEST_TMP/id1"
SOURCE_DATE_EPOCH=1700000000 "$IMGBUILD" --root "$store2" -t repro -q "$ctx" >"$TEST_TMP/id2"
expect_eq "SOURCE_DATE_EPOCH: the same image id in two stores" "$(cat "$TEST_TMP/id1")" "$(cat "$TEST_TMP/id2")"
"$IMGBUILD" --root "$store" save --format oci -o "$TEST_TMP/r1.tar" repro
"$IMGBUILD" --root "$store2" save --format oci -o "$TEST_TMP/r2.tar" repro
expect_same_files "SOURCE_DATE_EPOCH: byte-identical archives" "$TEST_TMP/r1.tar" "$TEST_TMP/r2.tar"

# ---- output options
check "--iidfile and --output" ib -t out --iidfile "$TEST_TMP/iid" --output "type=oci,dest=$TEST_TMP/out.tar" "$ctx"
expect_eq "--iidfile holds the id" "$(ib inspect --format '{{.Id}}' out)" "$(cat "$TEST_TMP/iid")"
check "skopeo reads --output" skopeo inspect "oci-archive:$TEST_TMP/out.tar"
check "-f - reads the Dockerfile from stdin" bash -c "printf 'FROM busybox\nENV FROMSTDIN=1\n' | '$IMGBUILD' --root '$store' -t stdin -f - '$ctx'"
expect_match "-f - content used" FROMSTDIN=1 "$(ib inspect --format '{{json .Config.Env}}' stdin)"
# ---- the terminal view: a live status line (redrawn with elapsed time), output above it
ctx=$TEST_TMP/tty && mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo one; sleep 0.5; echo two\n' >"$ctx/Dockerfile"
check "build on a terminal" script -qec "'$IMGBUILD' --root '$store' -t tty --no-cache --progress tty '$ctx'" /dev/null
expect_match "the terminal view redraws the running step with its elapsed time" $'\r\e\\[K.*RUN echo one.*  0\\.[1-9]s' "$OUT"
expect_match "the step's output is shown" 'two' "$OUT"
expect_match "the step ends with DONE" 'DONE [0-9.]+s' "$OUT"
check "fsck at the end" ib fsck

finish
