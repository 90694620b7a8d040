#!/usr/bin/env bash
# Rootless runtime features (issue 14), as an unprivileged user with subuid/subgid ranges
# made here (idempotently, as rootless.sh does), each check through `su`:
# - devices in a loaded layer: a char (/dev/null) and a block device become empty mode-0
#   files that still hide the lower layer's files at their paths;
# - limits: refused on this host without cgroup v2 delegation, naming the controller
#   (the detection itself is unit-tested on fake trees: runtime/cgroup_delegation_test.cpp);
# - networks with /dev/net/tun as this host keeps it: when the user cannot open it, the
#   default network falls back to none with a note, an explicit --network private is
#   refused, and `run -d -p` still serves to the host (the forwarder joins the namespace);
# - networks with a tun device the user may open (0666, Debian's default), bound over
#   /dev/net/tun in a private mount namespace of the test (the host's device is untouched):
#   a RUN and `run --rm` reach an HTTP server on the host's address through slirp4netns,
#   resolv.conf names 10.0.2.3, the host's 127.0.0.1 stays unreachable, and `run -d -p`
#   serves to the host.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
chmod 755 "$TEST_TMP"

[[ $(id -u) == 0 ]] || { echo "skipped: needs root to create the unprivileged test user"; exit 77; }
command -v newuidmap >/dev/null && command -v newgidmap >/dev/null ||
  { echo "skipped: newuidmap/newgidmap not installed (uidmap package)"; exit 77; }

user=imgbuild-rl
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
grep -q "^$user:" /etc/subuid || usermod --add-subuids 300000-365535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 300000-365535 "$user"
sub_start=$(awk -F: -v u="$user" '$1 == u { print $2; exit }' /etc/subuid)

# The binary, the store and the runtime dir (so its own pause process: rootless.sh's is not
# disturbed) where only the user works.
home=$TEST_TMP/home && mkdir -p "$home" && chown "$user:" "$home"
rundir=$TEST_TMP/run && mkdir -m 700 "$rundir" && chown "$user:" "$rundir"
bin=$TEST_TMP/bin && mkdir -p "$bin" && cp "$IMGBUILD" "$bin/imgbuild" && chmod 755 "$bin" "$bin/imgbuild"
I=$bin/imgbuild
user_cmd() {
  printf 'cd %q && ' "$home"
  printf '%q ' env HOME="$home" XDG_DATA_HOME="$home/data" XDG_RUNTIME_DIR="$rundir" PATH="$PATH" "$@"
}
# as_user CMD...: CMD as the unprivileged user.
as_user() { su -s /bin/bash "$user" -c "$(user_cmd "$@")"; }
# as_user_tun CMD...: the same in a mount namespace where /dev/net/tun is a 0666 node.
as_user_tun() {
  unshare -m --propagation private bash -c 'd=$(mktemp -d) && mount -t tmpfs -o mode=755 tmpfs "$d" &&
    mknod -m 666 "$d/tun" c 10 200 && mount --bind "$d/tun" /dev/net/tun && umount -l "$d" && rmdir "$d" &&
    exec su -s /bin/bash "$0" -c "$1"' "$user" "$(user_cmd "$@")"
}
cleanup_user() {
  as_user "$I" rm -f -a >/dev/null 2>&1
  as_user "$I" unshare rm -rf "$home/data"
  local pid
  pid=$(awk '{print $1}' "$rundir/imgbuild/pause.pid" 2>/dev/null) && [[ -n $pid ]] && kill "$pid"
}
at_exit cleanup_user

run as_user bash "$IMGBUILD_SOURCE_DIR/samples/make-busybox-base.sh" "$I" busybox:latest
check "busybox base imported rootless" test "$RC" = 0
run as_user "$I" unshare cat /proc/self/uid_map
expect_match "the user namespace maps the subuid range" "1 +$sub_start " "$(echo $OUT)"

# ======================================================================================
# Device nodes in a loaded image: a lower layer with files at dev/null, disk and dev/sda1,
# an upper one with a char device dev/null, a block device disk and a fifo.
python3 - "$TEST_TMP/devs.tar" <<'PY'
import hashlib, io, json, sys, tarfile
def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, extra in entries:
            ti = tarfile.TarInfo(name); ti.mtime = 0; ti.mode = 0o644; ti.uid = ti.gid = 0
            if kind == "d": ti.type = tarfile.DIRTYPE; ti.mode = 0o755
            elif kind == "c": ti.type = tarfile.CHRTYPE; ti.devmajor, ti.devminor = extra; ti.mode = 0o666
            elif kind == "b": ti.type = tarfile.BLKTYPE; ti.devmajor, ti.devminor = extra; ti.mode = 0o660; ti.gid = 6
            elif kind == "p": ti.type = tarfile.FIFOTYPE
            else: ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if kind == "f" else None)
    return buf.getvalue()
lower = layer([("dev", "d", None, None), ("dev/null", "f", b"lower-null\n", None), ("disk", "f", b"lower-disk\n", None),
               ("keep", "f", b"kept\n", None)])
upper = layer([("dev", "d", None, None), ("dev/null", "c", None, (1, 3)), ("disk", "b", None, (8, 0)),
               ("fifo", "p", None, None)])
diffs = ["sha256:" + hashlib.sha256(l).hexdigest() for l in (lower, upper)]
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cid = hashlib.sha256(cfg).hexdigest()
manifest = json.dumps([{"Config": cid + ".json", "RepoTags": ["devs:1"],
                        "Layers": [d[7:] + "/layer.tar" for d in diffs]}]).encode()
with tarfile.open(sys.argv[1], "w") as t:
    for name, data in [("manifest.json", manifest), (cid + ".json", cfg),
                       (diffs[0][7:] + "/layer.tar", lower), (diffs[1][7:] + "/layer.tar", upper)]:
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
PY
chmod 644 "$TEST_TMP/devs.tar"
run as_user "$I" load -i "$TEST_TMP/devs.tar"
load_rc=$RC load_err=$ERR
check "load rootless: a layer with a char and a block device" test "$load_rc" = 0
expect_match "... a warning names the char device" 'device node "dev/null" cannot be made rootless' "$load_err"
expect_match "... and the block device" 'device node "disk" cannot be made rootless' "$load_err"
cat >"$home/Dockerfile.devs" <<'D'
FROM devs:1
COPY --from=busybox /bin/busybox /bin/busybox
D
chown "$user:" "$home/Dockerfile.devs"
run as_user "$I" build -q -t devs:run -f "$home/Dockerfile.devs" "$home"
check "an image on top of the device layer builds rootless" test "$RC" = 0
# The container's own /dev is a tmpfs: look at the image's dev/null under /image.
run as_user "$I" run --rm --network none -v /dev/null:/dev/null devs:run /bin/busybox sh -c \
  'cd / && for f in disk fifo keep; do /bin/busybox stat -c "%n %F %a %s %u:%g" $f; done; /bin/busybox cat keep'
expect_eq "the block device is an empty mode-0 file owned as in the tar, the fifo a fifo, lower files kept" \
  "disk regular empty file 0 0 0:6
fifo fifo 644 0 0:0
keep regular file 644 5 0:0
kept" "$OUT"
run as_user "$I" run --rm --network none devs:run /bin/busybox cat /disk
expect_ne "the lower layer's disk file does not show through the placeholder" "lower-disk" "$OUT"
# The image's dev/null, beside the container's own /dev: through `imgbuild unshare` in the store.
layers=$(as_user "$I" unshare sh -c 'for d in "$XDG_DATA_HOME"/imgbuild/layers/*/; do [ -e "$d/diff/dev/null" ] && [ -e "$d/diff/disk" ] && echo "$d"; done')
if [[ -n $layers ]]; then
  run as_user "$I" unshare stat -c '%F %a %s' "${layers%%$'\n'*}/diff/dev/null"
  expect_eq "the char device /dev/null is an empty mode-0 file in the layer" "regular empty file 0 0" "$OUT"
else
  run as_user "$I" unshare sh -c 'ls "$XDG_DATA_HOME"/imgbuild/layers/*/'
  fail "the upper layer's dir is found in the store" "$OUT"
fi

# ======================================================================================
# Limits without delegation (this host: hybrid or v1, or v2 with nothing delegated)
run as_user "$I" run --rm --network none -m 64m busybox cat /sys/fs/cgroup/memory.max
if [[ $RC == 0 ]]; then
  expect_eq "rootless -m in the delegated cgroup v2 subtree is applied" 67108864 "$OUT"
else
  expect_match "rootless -m without a delegated memory controller is refused, naming the controller" \
    "memory needs cgroup v2 delegation of the memory controller" "$ERR"
  expect_match "... and why not here" "(only cgroup v1|hybrid|no delegated cgroup v2 subtree|hands its children only)" "$ERR"
  run as_user "$I" run --rm --network none --pids-limit 10 busybox true
  expect_match "rootless --pids-limit likewise" "pids-limit needs cgroup v2 delegation of the pids controller" "$ERR"
fi
run as_user "$I" run --rm --network none --pids-limit -1 busybox true
check "an unlimited --pids-limit asks nothing and runs" test "$RC" = 0

# ======================================================================================
# Networks. Two HTTP services on the host: one on a global address (what a private network
# reaches, as any outside host), one on 127.0.0.1 (must stay unreachable from it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host_ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
www=$TEST_TMP/www && mkdir -p "$www" && echo canary >"$www/index.html" && chmod -R a+rX "$www"
serve() { serve_http "$www" "$@"; }
lo_port=$(free_port)
check "an HTTP service on the host's 127.0.0.1" serve 127.0.0.1 "$lo_port"
ext_port=$(free_port)
[[ -n $host_ip ]] && check "an HTTP service on the host's $host_ip" serve "$host_ip" "$ext_port"
# get HOST PORT in a container: the status line, or "unreachable".
http_get='get() { r=$(printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 "$1" "$2" 2>/dev/null | head -n1); echo "${r:-unreachable}"; }'
# run_published ASUSER NAME: `run -d -p` of an httpd serving /etc, then the host fetches
# /passwd from the published port (sets OUT to what it got).
run_published() {
  local port
  port=$(free_port)
  run "$1" "$I" run -d --name "$2" -p "127.0.0.1:$port:8080" busybox httpd -f -p 8080 -h /etc
  check "$2: run -d -p rootless starts" test "$RC" = 0
  OUT=""
  for _ in $(seq 30); do OUT=$(curl -fsS "http://127.0.0.1:$port/passwd" 2>/dev/null) && break; sleep 0.2; done
  local got=$OUT
  run "$1" "$I" rm -f "$2"
  OUT=$got
}

# ---- /dev/net/tun as this host keeps it
if su -s /bin/sh "$user" -c 'test -r /dev/net/tun -a -w /dev/net/tun'; then
  echo "# /dev/net/tun is open to $user here: the fallback checks are skipped"
else
  run as_user "$I" run --rm busybox ls /sys/class/net
  expect_eq "tun closed to the user: the default network is none (only lo)" lo "$OUT"
  expect_match "... with a note saying why" 'falls back to "none".*/dev/net/tun: EACCES' "$ERR"
  run as_user "$I" run --rm --network private busybox true
  expect_match "an explicit --network private is refused, naming /dev/net/tun" "--network private: /dev/net/tun" "$ERR"
  check "... with a usage error's status" test "$RC" = 125
  run as_user "$I" run -d --name fallback busybox sleep 30
  expect_match "run -d: the note reaches the user's terminal" 'falls back to "none"' "$ERR"
  expect_eq "... and the container is recorded with network none" none \
    "$(as_user "$I" inspect --format '{{.HostConfig.NetworkMode}}' fallback 2>/dev/null)"
  as_user "$I" rm -f fallback >/dev/null 2>&1
  run_published as_user web-none
  expect_match "run -d -p serves to the host over the lo-only network" "^root:x:0:0:" "$OUT"
fi

# ---- a tun device the user may open: slirp4netns
if ! command -v slirp4netns >/dev/null; then
  fail "slirp4netns installed (scripts/install-deps.sh)"
elif [[ -z $host_ip ]]; then
  echo "# no global IPv4 address: the outbound checks are skipped"
else
  run as_user_tun "$I" run --rm busybox sh -c "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' '; cat /etc/resolv.conf; $http_get; get $host_ip $ext_port; get 10.0.2.2 $lo_port"
  expect_match "run --rm rootless: lo and tap0" "^lo tap0 " "$OUT"
  expect_match "... resolv.conf names slirp4netns' DNS" "nameserver 10\.0\.2\.3" "$OUT"
  expect_match "... reaches the host's $host_ip" "HTTP/1\.0 200" "$OUT"
  expect_match "... but not the host's 127.0.0.1 (via 10.0.2.2)" "unreachable$" "$OUT"
  mkdir -p "$home/ctx" && cat >"$home/ctx/Dockerfile" <<D
FROM busybox
RUN wget -qO /fetched http://$host_ip:$ext_port/ && grep -q nameserver /etc/resolv.conf
D
  chown -R "$user:" "$home/ctx"
  run as_user_tun "$I" build --no-cache -q -t fetched "$home/ctx"
  check "a rootless RUN fetches from the host over the private network" test "$RC" = 0
  run as_user "$I" run --rm --network none fetched cat /fetched
  expect_eq "... what it fetched" canary "$OUT"
  run_published as_user_tun web-slirp
  expect_match "run -d -p rootless on the private network serves to the host" "^root:x:0:0:" "$OUT"
fi
finish
