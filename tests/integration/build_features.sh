#!/usr/bin/env bash
# The builder's instructions and flags one by one, beyond build.sh: ADD (local archives by
# content, URLs with --checksum), COPY (--chown, --chmod, wildcards, directory and slash
# rules, errors, symlinks in the image and in the context, --from, heredocs, .dockerignore,
# --link), xattrs and file capabilities, RUN (exec form, SHELL, USER, WORKDIR, ENV/ARG,
# --network), ARG before FROM, the cache (build args, --no-cache, probing on after a miss,
# ignored files, a large context), the command line (-q, --progress json, --label, -t,
# usage errors), and what a failing or killed build leaves behind.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }

image_id() { ib inspect --format '{{.Id}}' "$1" 2>/dev/null; }

# ======================================================================================
# ADD: local archives are extracted when their CONTENT is a tar, whatever their name
ctx=$TEST_TMP/add && mkdir -p "$ctx/payload/sub"
echo alpha >"$ctx/payload/a.txt" && echo beta >"$ctx/payload/sub/b.txt"
tar -C "$ctx/payload" -cf "$ctx/p.tar" .
gzip -c "$ctx/p.tar" >"$ctx/p.tar.gz"
bzip2 -c "$ctx/p.tar" >"$ctx/p.tar.bz2"
xz -c "$ctx/p.tar" >"$ctx/p.tar.xz"
zstd -q -c "$ctx/p.tar" >"$ctx/p.tar.zst"
cp "$ctx/p.tar.gz" "$ctx/data.bin"
echo "not a tar at all" >"$ctx/x.tar"
rm -rf "$ctx/payload"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
ADD p.tar /plain/
ADD p.tar.gz /gz/
ADD p.tar.bz2 /bz2/
ADD p.tar.xz /xz/
ADD p.tar.zst /zst
ADD data.bin /named-bin/
ADD x.tar /notar/
COPY p.tar.gz /copied/
D
check "ADD: build with local archives" ib -t add-local "$ctx"
for d in plain gz bz2 xz zst named-bin; do
  in_image add-local "cat /$d/a.txt /$d/sub/b.txt"
  expect_eq "ADD: /$d extracted" "alpha
beta" "$OUT"
done
in_image add-local 'cat /notar/x.tar'
expect_eq "ADD: a file named .tar that is no tar is copied as is" "not a tar at all" "$OUT"
in_image add-local 'ls /copied; test -f /copied/p.tar.gz && echo file'
expect_eq "COPY never extracts" "p.tar.gz
file" "$OUT"

# ======================================================================================
# ADD <url> from a local HTTP server
www=$TEST_TMP/www && mkdir -p "$www"
echo "hello over http" >"$www/hello.txt"
touch -d @1000000000 "$www/hello.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$www" "$port" >"$TEST_TMP/http.log" 2>&1 &
http_pid=$!
at_exit kill "$http_pid"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/hello.txt" >/dev/null 2>&1 && break; sleep 0.1; done
url=http://127.0.0.1:$port/hello.txt
sum=$(sha256sum <"$www/hello.txt" | cut -d' ' -f1)
ctx=$TEST_TMP/addurl && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<D
FROM busybox
ADD --checksum=sha256:$sum $url /dl/
ADD $url /named.txt
ADD $url /tmp
D
check "ADD URL: build (right --checksum, dest with and without a slash)" ib -t add-url "$ctx"
in_image add-url 'cat /dl/hello.txt; cat /named.txt; cat /tmp/hello.txt; stat -c "%a %u %g" /dl/hello.txt /named.txt'
expect_eq "ADD URL: dest/ takes the name from the URL, dest is the file, an existing dir gets the URL's name" "hello over http
hello over http
hello over http
600 0 0
600 0 0" "$OUT"
in_image add-url 'stat -c %Y /dl/hello.txt'
expect_eq "ADD URL: mtime from Last-Modified" 1000000000 "$OUT"
bad=0000000000000000000000000000000000000000000000000000000000000000
printf 'FROM busybox\nADD --checksum=sha256:%s %s /x\n' "$bad" "$url" >"$ctx/Dockerfile"
check_exit "ADD URL: a wrong --checksum fails the build" 1 ib -t add-url-bad "$ctx"
expect_match "ADD URL: the error names the URL" "$url" "$ERR"
expect_match "ADD URL: the error names the expected checksum" "sha256:$bad" "$ERR"
expect_match "ADD URL: the error names the actual checksum" "sha256:$sum" "$ERR"
check_exit "ADD URL: no tag for the failed build" 1 ib inspect add-url-bad
printf 'FROM busybox\nADD %s /c.txt\n' "$url" >"$ctx/Dockerfile"
check "ADD URL: cache build 1" ib -t add-url-cache "$ctx"
echo "changed content" >"$www/hello.txt"
check "ADD URL: build after the served file changed" ib -t add-url-cache --progress plain "$ctx"
expect_eq "ADD URL: changed content misses the cache" 0 "$(grep -c CACHED <<<"$OUT")"
in_image add-url-cache 'cat /c.txt'
expect_eq "ADD URL: the new content is in the image" "changed content" "$OUT"
printf 'FROM busybox\nADD http://127.0.0.1:%s/missing.txt /m\n' "$port" >"$ctx/Dockerfile"
check_exit "ADD URL: a 404 fails the build" 1 ib "$ctx"
expect_match "ADD URL: the 404 error names the URL" "missing.txt.*404|404.*missing.txt" "$ERR"

# ======================================================================================
# COPY: ownership, modes, wildcards, directory and slash rules
ctx=$TEST_TMP/copy && mkdir -p "$ctx/dir/sub"
echo A >"$ctx/a.txt" && echo B >"$ctx/b.txt" && echo C >"$ctx/c.md"
echo X >"$ctx/dir/sub/x" && echo Y >"$ctx/dir/y"
chmod 0755 "$ctx/dir" "$ctx/dir/sub" && chmod 0644 "$ctx/a.txt"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
COPY --chown=nobody a.txt /own/name
COPY --chown=www-data:users a.txt /own/namegroup
COPY --chown=1234:5678 a.txt /own/numeric
COPY --chown=www-data dir /own/dir/
COPY --chmod=0751 a.txt /mode/a
COPY --chmod=640 dir /modedir/
COPY *.txt /wild/
COPY dir /contents
COPY dir/ /contents2/
COPY a.txt /newfile
COPY a.txt /newdir/
COPY a.txt b.txt /multi/
COPY --link a.txt /linked
WORKDIR /wd
COPY a.txt rel
COPY a.txt ./
D
check "COPY: build" ib -t copy "$ctx"
in_image copy 'stat -c "%n %u:%g" /own/name /own/namegroup /own/numeric /own/dir/y /own/dir/sub/x'
expect_eq "COPY --chown: name, name:group, uid:gid (a dir's contents too)" "/own/name 65534:65534
/own/namegroup 33:100
/own/numeric 1234:5678
/own/dir/y 33:33
/own/dir/sub/x 33:33" "$OUT"
in_image copy 'stat -c "%n %a" /mode/a /modedir/y /modedir/sub/x'
expect_eq "COPY --chmod on a file and on a directory's files" "/mode/a 751
/modedir/y 640
/modedir/sub/x 640" "$OUT"
in_image copy 'ls /wild'
expect_eq "COPY *.txt /wild/: only the matches" "a.txt
b.txt" "$OUT"
in_image copy 'cd /contents && find . | sort; cd /contents2 && find . | sort'
expect_eq "COPY dir: the CONTENTS, not the dir itself (with and without a slash)" ".
./sub
./sub/x
./y
.
./sub
./sub/x
./y" "$OUT"
in_image copy 'test -f /newfile && echo file; ls /newdir; ls /multi; cat /linked; cat /wd/rel /wd/a.txt'
expect_eq "COPY: a file to dest, to dest/, several to dest/, --link, relative to WORKDIR" "file
a.txt
a.txt
b.txt
A
A
A" "$OUT"

# Errors
printf 'FROM busybox\nCOPY a.txt b.txt /notadir\n' >"$ctx/Dockerfile"
check_exit "COPY: several sources to a dest without / fails" 1 ib "$ctx"
expect_match "COPY: Docker's message" 'When using COPY with more than one source file, the destination must be a directory and end with a /' "$ERR"
printf 'FROM busybox\nCOPY *.txt /notadir\n' >"$ctx/Dockerfile"
check_exit "COPY: a wildcard matching several files to a dest without / fails" 1 ib "$ctx"
printf 'FROM busybox\nCOPY a.txt missing-file.txt /d/\n' >"$ctx/Dockerfile"
check_exit "COPY: a missing source fails" 1 ib "$ctx"
expect_match "COPY: the error names the missing file" 'missing-file.txt' "$ERR"
printf 'FROM busybox\nCOPY ../x /x\n' >"$ctx/Dockerfile"
check_exit "COPY ../x fails" 1 ib "$ctx"
expect_match "COPY ../x: outside the build context" 'outside the build context' "$ERR"
ln -s /etc/passwd "$ctx/abs-escape" && ln -s ../../../../../../etc/passwd "$ctx/rel-escape"
for link in abs-escape rel-escape; do
  printf 'FROM busybox\nCOPY %s /escaped\n' "$link" >"$ctx/Dockerfile"
  check_exit "COPY of a symlink leading out of the context ($link) fails" 1 ib -t escaped "$ctx"
  expect_no_match "COPY $link: no host file content in the output" '^root:x:0:0' "$OUT$ERR"
done
rm -f "$ctx/abs-escape" "$ctx/rel-escape"

# An absolute symlink in the image: resolved in the image's root, never the host's
marker=imgbuild-marker-$$-$RANDOM
echo in-image >"$ctx/marker"
cat >"$ctx/Dockerfile" <<D
FROM busybox
RUN mkdir -p /run /var && rm -rf /var/run && ln -s /run /var/run
COPY marker /var/run/$marker
COPY marker /var/run/sub/$marker
D
check "COPY through an image symlink /var/run -> /run" ib -t symlink-dest "$ctx"
in_image symlink-dest "cat /run/$marker /run/sub/$marker; readlink /var/run"
expect_eq "COPY: the file is in the image's /run, /var/run still a symlink" "in-image
in-image
/run" "$OUT"
expect_true "COPY: nothing written to the host's /run" test ! -e "/run/$marker" -a ! -e "/run/sub/$marker"
rm -f "/run/$marker"

# COPY --from a stage index and an image in the store
ib tag copy copy-src >/dev/null
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN echo from-stage-0 > /s0
FROM busybox
COPY --from=0 /s0 /from-index
COPY --from=copy-src /own/numeric /from-image
COPY --from=busybox /etc/group /from-base-group
D
check "COPY --from=<index> and --from=<image>" ib -t copy-from "$ctx"
in_image copy-from 'cat /from-index /from-image; stat -c %u:%g /from-image; grep -c ^www-data /from-base-group'
expect_eq "COPY --from: contents, owners kept from the image" "from-stage-0
A
1234:5678
1" "$OUT"

# Heredocs
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
COPY <<EOF /heredoc.txt
hello heredoc
EOF
COPY <<one <<two /hdir/
first
one
second
two
RUN <<EOF
echo script-line-1 > /hd1
echo script-line-2 >> /hd1
EOF
RUN cat <<A > /hdA && cat <<B > /hdB
aaa
A
bbb
B
D
check "heredocs: build" ib -t heredoc "$ctx"
in_image heredoc 'cat /heredoc.txt /hdir/one /hdir/two /hd1 /hdA /hdB'
expect_eq "heredocs: COPY <<EOF, two COPY heredocs, RUN <<EOF script, two heredocs on one RUN" "hello heredoc
first
second
script-line-1
script-line-2
aaa
bbb" "$OUT"

# .dockerignore with ** and ! exceptions
ctx=$TEST_TMP/ignore && mkdir -p "$ctx/deep/x" "$ctx/secret" "$ctx/logs"
for f in a.log keep.log top.tmp deep/x/y.tmp deep/x/z.txt secret/s logs/1.log logs/important.log; do echo "$f" >"$ctx/$f"; done
cat >"$ctx/.dockerignore" <<'I'
*.log
**/*.tmp
!keep.log
secret/
logs
!logs/important.log
I
printf 'FROM busybox\nCOPY . /ctx/\n' >"$ctx/Dockerfile"
check ".dockerignore: build" ib -t ignore --progress plain "$ctx"
in_image ignore 'cd /ctx && find . -type f | sort'
expect_eq ".dockerignore: excluded files absent, the exceptions present" "./.dockerignore
./Dockerfile
./deep/x/z.txt
./keep.log
./logs/important.log" "$OUT"
echo changed >>"$ctx/a.log" && echo changed >>"$ctx/deep/x/y.tmp"
check ".dockerignore: rebuild after editing excluded files" ib -t ignore --progress plain "$ctx"
expect_eq ".dockerignore: editing an excluded file does not miss" 1 "$(grep -c CACHED <<<"$OUT")"
echo changed >>"$ctx/keep.log"
check ".dockerignore: rebuild after editing an exception" ib -t ignore --progress plain "$ctx"
expect_eq ".dockerignore: editing a re-included file misses" 0 "$(grep -c CACHED <<<"$OUT")"

# ======================================================================================
# xattrs and file capabilities survive COPY and the layer tar
if ! command -v setfattr >/dev/null || ! command -v setcap >/dev/null; then
  fail "xattr tools present (setfattr, getfattr, setcap, getcap)" "apt-get install attr libcap2-bin (scripts/install-deps.sh --test)"
else
  ctx=$TEST_TMP/xattr && mkdir -p "$ctx/d"
  echo x >"$ctx/withxattr" && echo c >"$ctx/withcap" && echo y >"$ctx/d/inner"
  if setfattr -n user.test -v hello "$ctx/withxattr" 2>/dev/null && setfattr -n user.inner -v deep "$ctx/d/inner"; then
    setcap cap_net_raw+ep "$ctx/withcap"
    printf 'FROM busybox\nCOPY withxattr withcap /x/\nCOPY d /xd/\nCOPY --chown=33:33 withcap /x/chowned-cap\n' >"$ctx/Dockerfile"
    check "xattrs: build" ib -t xattr "$ctx"
    check "xattrs: save as OCI" ib save --format oci -o "$TEST_TMP/xattr-oci.tar" xattr
    oci=$TEST_TMP/xattr-oci && rootfs=$TEST_TMP/xattr-rootfs && mkdir -p "$oci" "$rootfs"
    tar -C "$oci" -xf "$TEST_TMP/xattr-oci.tar"
    manifest=$(jq -r '.manifests[0].digest' "$oci/index.json" | sed 's/sha256://')
    for layer in $(jq -r '.layers[].digest' "$oci/blobs/sha256/$manifest" | sed 's/sha256://'); do
      tar --xattrs --xattrs-include='*' -xpf "$oci/blobs/sha256/$layer" -C "$rootfs" 2>/dev/null
    done
    expect_eq "xattrs: user.test kept" hello "$(getfattr --only-values -n user.test "$rootfs/x/withxattr" 2>/dev/null)"
    expect_eq "xattrs: user.* below a copied dir kept" deep "$(getfattr --only-values -n user.inner "$rootfs/xd/inner" 2>/dev/null)"
    expect_match "capabilities: cap_net_raw kept" 'cap_net_raw[=+]ep' "$(getcap "$rootfs/x/withcap" 2>&1)"
    expect_match "capabilities: kept across --chown" 'cap_net_raw[=+]ep' "$(getcap "$rootfs/x/chowned-cap" 2>&1)"
    # The same through a docker-archive that podman loads (podman's own overlay storage)
    ptag=localhost/imgbuild-it-xattr-$$:latest
    ib tag xattr "$ptag" >/dev/null
    check "xattrs: save --format docker" ib save --format docker -o "$TEST_TMP/xattr-docker.tar" "$ptag"
    at_exit podman rmi -f "$ptag"
    check "xattrs: podman load" podman load -i "$TEST_TMP/xattr-docker.tar"
    at_exit podman image unmount "$ptag"
    if mnt=$(podman image mount "$ptag" 2>&1); then
      pass "xattrs: podman image mount"
      expect_eq "podman: user.test kept" hello "$(getfattr --only-values -n user.test "$mnt/x/withxattr" 2>/dev/null)"
      expect_match "podman: cap_net_raw kept" 'cap_net_raw[=+]ep' "$(getcap "$mnt/x/withcap" 2>&1)"
      podman image unmount "$ptag" >/dev/null 2>&1
    else
      fail "xattrs: podman image mount" "$mnt"
    fi
  else
    fail "xattrs: setfattr user.* on $TEST_TMP" "the filesystem of TMPDIR does not take user xattrs"
  fi
fi

# ======================================================================================
# RUN: exec form, WORKDIR, ENV/ARG, USER, SHELL, layers only for changes, --network
ctx=$TEST_TMP/run && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN ["/bin/sh", "-c", "echo exec-form > /exec"]
RUN ["/bin/echo", "exec-no-shell $HOME"]
WORKDIR /work/dir
RUN pwd > /pwd
ENV E1=from-env
ARG A1=from-arg
RUN echo "$E1 $A1" > /vars
USER nobody
RUN id -u > /tmp/uid && id -g >> /tmp/uid
USER 1234:5678
RUN id -u > /tmp/uid2 && id -g >> /tmp/uid2
USER root
ENV DEST=/from-env
COPY Dockerfile $DEST/
SHELL ["/bin/sh", "-xc"]
RUN echo traced
D
check "RUN: build" ib -t runs --progress plain "$ctx"
expect_match "RUN exec form runs without a shell (no expansion)" '\| exec-no-shell \$HOME$' "$OUT"
expect_match "SHELL [\"/bin/sh\",\"-xc\"] shows trace lines" '\| \+ echo traced$' "$OUT"
in_image runs 'cat /exec /pwd /vars /tmp/uid /tmp/uid2; ls /from-env'
expect_eq "RUN: exec form, WORKDIR, ENV and ARG, USER name and uid:gid, ENV in a COPY dest" "exec-form
/work/dir
from-env from-arg
65534
65534
1234
5678
Dockerfile" "$OUT"
before=$(layer_count runs)
printf 'FROM runs\nRUN cat /etc/passwd >/dev/null && ls / >/dev/null\n' >"$ctx/Dockerfile.ro"
check "RUN that only reads: build" ib -t runs-ro -f "$ctx/Dockerfile.ro" "$ctx"
expect_eq "a RUN that only reads makes no layer" "$before" "$(layer_count runs-ro)"

host_ifaces=$(awk -F: 'NR>2 {gsub(/ /,"",$1); print $1}' /proc/net/dev | grep -vx lo | head -n1)
printf 'FROM busybox\nRUN cat /proc/net/dev\n' >"$ctx/Dockerfile.net"
check "--network none: build" ib --progress plain --no-cache --network none -f "$ctx/Dockerfile.net" "$ctx"
expect_eq "--network none: the RUN sees only lo" lo "$(grep -E '^\[2\] \| *[a-z0-9]+:' <<<"$OUT" | sed -E 's/^\[2\] \| *([^:]+):.*/\1/' | tr '\n' ' ' | sed 's/ $//')"
printf 'FROM busybox\nRUN --network=none cat /proc/net/dev\n' >"$ctx/Dockerfile.net2"
check "RUN --network=none: build" ib --progress plain --no-cache -f "$ctx/Dockerfile.net2" "$ctx"
expect_eq "RUN --network=none: only lo" lo "$(grep -E '^\[2\] \| *[a-z0-9]+:' <<<"$OUT" | sed -E 's/^\[2\] \| *([^:]+):.*/\1/' | tr '\n' ' ' | sed 's/ $//')"
# Without slirp4netns the private network falls back to none (one note on stderr).
want_ifaces="lo tap0" && ! command -v slirp4netns >/dev/null && want_ifaces=lo
check "default network: build" ib --progress plain --no-cache -f "$ctx/Dockerfile.net" "$ctx"
expect_eq "default network (private): the RUN sees $want_ifaces only" "$want_ifaces" "$(grep -E '^\[2\] \| *[a-z0-9]+:' <<<"$OUT" | sed -E 's/^\[2\] \| *([^:]+):.*/\1/' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
if [[ -n $host_ifaces ]]; then
  printf 'FROM busybox\nRUN --network=host cat /proc/net/dev\n' >"$ctx/Dockerfile.net3"
  check "RUN --network=host --allow network.host: build" ib --progress plain --no-cache --allow network.host -f "$ctx/Dockerfile.net3" "$ctx"
  expect_match "RUN --network=host: the RUN sees the host's $host_ifaces" "^\[2\] \| *$host_ifaces:" "$OUT"
fi

# ======================================================================================
# ARG before FROM, --build-arg, undeclared build args
ctx=$TEST_TMP/args && mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'D'
ARG BASE=busybox
FROM $BASE
ARG BASE
RUN echo "base=$BASE" > /base
D
check "ARG before FROM: build" ib -t args "$ctx"
in_image args 'cat /base'
expect_eq "ARG before FROM: used in FROM and redeclared inside" base=busybox "$OUT"
ib tag busybox altbase >/dev/null
check "--build-arg overrides ARG before FROM" ib -t args-alt --build-arg BASE=altbase "$ctx"
in_image args-alt 'cat /base'
expect_eq "--build-arg BASE=altbase reaches FROM and RUN" base=altbase "$OUT"
check "an undeclared --build-arg is harmless" ib -t args-undeclared --build-arg NOT_DECLARED=1 "$ctx"
in_image args-undeclared 'echo "[$NOT_DECLARED]"'
expect_eq "an undeclared build arg is not in the image" "[]" "$OUT"

# ======================================================================================
# Cache
ctx=$TEST_TMP/cachex && mkdir -p "$ctx"
printf 'FROM busybox\nARG V=1\nRUN echo "$V" > /v\nENV DONE=1\n' >"$ctx/Dockerfile"
check "cache: build V=1" ib -t cv --build-arg V=1 --progress plain "$ctx"
check "cache: build V=2" ib -t cv --build-arg V=2 --progress plain "$ctx"
expect_no_match "cache: a changed build arg used by RUN misses" '^\[3/4\] CACHED' "$OUT"
in_image cv 'cat /v'
expect_eq "cache: the RUN saw V=2" 2 "$OUT"
check "cache: build V=1 again" ib -t cv --build-arg V=1 --progress plain "$ctx"
expect_eq "cache: back to V=1 hits every step" 3 "$(grep -c CACHED <<<"$OUT")"
check "cache: --no-cache" ib -t cv --build-arg V=1 --no-cache --progress plain "$ctx"
expect_eq "cache: --no-cache rebuilds everything" 0 "$(grep -c CACHED <<<"$OUT")"
check "cache: a normal build after --no-cache" ib -t cv --build-arg V=1 --progress plain "$ctx"
expect_eq "cache: it hits every step again" 3 "$(grep -c CACHED <<<"$OUT")"

# Probing goes on after a miss: a changed RUN that makes the same layer lets later steps hit.
export SOURCE_DATE_EPOCH=1700000000
printf 'FROM busybox\nRUN echo x > /f\nENV AFTER=1\nLABEL l=1\n' >"$ctx/Dockerfile"
check "cache probing: build 1" ib -t probe --progress plain "$ctx"
printf 'FROM busybox\nRUN echo x >/f\nENV AFTER=1\nLABEL l=1\n' >"$ctx/Dockerfile"
check "cache probing: the RUN changed, its layer did not" ib -t probe --progress plain "$ctx"
expect_match "cache probing: the changed RUN misses" '^\[2/4\] DONE' "$OUT"
expect_match "cache probing: the ENV after it hits" '^\[3/4\] CACHED' "$OUT"
expect_match "cache probing: and the LABEL" '^\[4/4\] CACHED' "$OUT"
expect_match "cache probing: the history names the new RUN" 'RUN echo x >/f' "$(ib history probe 2>&1)"
expect_no_match "cache probing: and not the old one" 'RUN echo x > /f' "$(ib history probe 2>&1)"
unset SOURCE_DATE_EPOCH

# A no-op rebuild of a large context only stats files
ctx=$TEST_TMP/big && mkdir -p "$ctx"
(cd "$ctx" && for d in $(seq 50); do mkdir "d$d"; for f in $(seq 100); do echo "$d/$f" >"d$d/f$f"; done; done)
printf 'FROM busybox\nCOPY . /big/\n' >"$ctx/Dockerfile"
check "big context (5000 files): first build" ib -t big "$ctx"
t0=$(now)
check "big context: no-op rebuild" ib -t big --progress plain "$ctx"
secs=$(elapsed "$t0")
echo "# no-op rebuild of a 5000-file context: ${secs}s"
expect_eq "big context: the rebuild hits" 1 "$(grep -c CACHED <<<"$OUT")"
expect_true "big context: the no-op rebuild takes < 2 s (${secs}s)" awk -v s="$secs" 'BEGIN { exit !(s < 2) }'

# ======================================================================================
# Command line
ctx=$TEST_TMP/cli && mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo out-line\nENV X=1\n' >"$ctx/Dockerfile"
check "-q" ib -q -t cli1 -t cli2:v2 -t localhost/cli3 --label org.test.a=1 --label b=two "$ctx"
expect_match "-q prints only the id" '^sha256:[0-9a-f]{64}$' "$OUT"
expect_eq "-q prints one line" 1 "$(wc -l <<<"$OUT")"
id=$OUT
expect_eq "-t cli1 points at the image" "$id" "$(image_id cli1)"
expect_eq "-t cli2:v2 points at the image" "$id" "$(image_id cli2:v2)"
expect_eq "-t localhost/cli3 points at the image" "$id" "$(image_id localhost/cli3)"
expect_eq "--label lands in Labels" '{"b":"two","org.test.a":"1"}' "$(ib inspect --format '{{json .Config.Labels}}' cli1)"
check "--progress json" ib build --progress json --no-cache "$ctx"
json_out=$OUT
expect_true "--progress json: every line is JSON" jq -e . <<<"$json_out"
for ev in step_start step_end output done; do
  expect_match "--progress json: $ev events" "\"event\":\"$ev\"" "$json_out"
done
expect_match "--progress json: the output line" '"line":"out-line"' "$json_out"
check "--progress json (cached)" ib build --progress json "$ctx"
expect_match "--progress json: cache_hit events" '"event":"cache_hit"' "$OUT"
check "without the build verb" ib -q -t noverb "$ctx"
check "the explicit build verb" ib build -t verb "$ctx"
expect_eq "build verb: same image as without it" "$(image_id noverb)" "$(image_id verb)"
check_exit "a bad --build-arg is a usage error" 2 ib --build-arg =x "$ctx"
check_exit "a bad --output is a usage error" 2 ib --output type=tarball,dest=x "$ctx"
check_exit "a bad --output key is a usage error" 2 ib --output type=oci,where=x "$ctx"
check_exit "a bad --progress is a usage error" 2 ib --progress fancy "$ctx"
check_exit "a bad --network is a usage error" 2 ib --network bridge "$ctx"
check_exit "a bad --compression is a usage error" 2 ib --compression lz4 "$ctx"

# ======================================================================================
# A failing RUN leaves the store as it was
ctx=$TEST_TMP/failstore && mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo good > /g\n' >"$ctx/Dockerfile"
check "failing build: the good build" ib -t keep "$ctx"
good=$(image_id keep)
images_before=$(ib images)
printf 'FROM busybox\nRUN echo partial > /p && mkdir -p /d/e\nRUN echo more > /m; exit 7\n' >"$ctx/Dockerfile"
check_exit "failing build: fails" 1 ib -t keep "$ctx"
expect_match "failing build: the error names the step" 'RUN echo more.*exit code 7' "$ERR"
expect_eq "failing build: the old tag still points at the old image" "$good" "$(image_id keep)"
expect_eq "failing build: images unchanged" "$images_before" "$(ib images)"
check "failing build: fsck" ib fsck
expect_eq "failing build: nothing left in the store's tmp" "" "$(ls -A "$store/tmp" 2>/dev/null)"
expect_no_match "failing build: no mount under the store" "$store" "$(cat /proc/self/mountinfo)"
printf 'FROM busybox\nCOPY nosuch /x\n' >"$ctx/Dockerfile"
check_exit "failing COPY: fails" 1 ib -t keep "$ctx"
expect_eq "failing COPY: nothing left in tmp" "" "$(ls -A "$store/tmp" 2>/dev/null)"
expect_eq "failing COPY: the old tag stays" "$good" "$(image_id keep)"

# ======================================================================================
# kill -9 during a long RUN
ctx=$TEST_TMP/kill && mkdir -p "$ctx"
kill_marker=kill-marker-$$-$RANDOM
printf 'FROM busybox\nRUN echo started %s && sleep 5 && echo finished > /f\n' "$kill_marker" >"$ctx/Dockerfile"
"$IMGBUILD" --root "$store" -t killed --progress plain "$ctx" >"$TEST_TMP/kill.out" 2>&1 &
build_pid=$!
for _ in $(seq 100); do grep -q '| started' "$TEST_TMP/kill.out" && break; sleep 0.1; done
kill -9 "$build_pid"
wait "$build_pid" 2>/dev/null
expect_match "kill -9: the RUN had started" '\| started' "$(cat "$TEST_TMP/kill.out")"
sleep 0.5
check_exit "kill -9: no tag" 1 ib inspect killed
check "kill -9: fsck passes" ib fsck
expect_no_match "kill -9: no mount under the store" "$store" "$(cat /proc/self/mountinfo)"
expect_no_match "kill -9: the RUN's command is not left running" "$kill_marker" "$(ps -eo args | grep -v grep)"
printf 'FROM busybox\nRUN echo after-kill > /f\n' >"$ctx/Dockerfile"
check "kill -9: the next build works" ib -t after-kill "$ctx"
expect_eq "kill -9: the killed build's staging dirs are gone after the next build" "" "$(ls -A "$store/tmp" 2>/dev/null)"
in_image after-kill 'cat /f'
expect_eq "kill -9: and its image is right" after-kill "$OUT"
check "fsck at the end" ib fsck

finish
