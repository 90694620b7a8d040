#!/usr/bin/env bash
# Container escapes and host reach, tried as an attacker would from inside a container (and
# through a Dockerfile): each attack must fail inside, and a host canary file and the
# imgbuild binary must be unchanged afterwards. Runtime side of issue 8: CVE-2019-5736,
# CVE-2024-21626 (inherited fd as -w, image WorkingDir, Dockerfile WORKDIR), /dev and /proc
# symlinks (CVE-2025-31133 family), init-file symlinks, shocker open_by_handle_at, cgroup
# release_agent, mknod + open of host devices, a device node shipped in a layer, kill -1,
# mount/unshare, /proc/sys and /sys writes, AF_VSOCK/AF_ALG, AF_PACKET under --network none,
# a FIFO /etc/passwd, pids limit.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "escape.sh needs root (namespaces, overlayfs, cgroups)"

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }

check "busybox base image" make_busybox_base "$store"

# Host canaries: a file whose content must not change and a directory a leaked fd points to.
canary=$TEST_TMP/host-canary
echo "canary $$" >"$canary"
canary_sum=$(sha256sum "$canary" | cut -d' ' -f1)
bin_sum=$(sha256sum "$IMGBUILD" | cut -d' ' -f1)
hostdir=$TEST_TMP/hostdir/a/b/c
mkdir -p "$hostdir" && touch "$TEST_TMP/hostdir/HOST-MARKER"
host_untouched() {
  expect_eq "$1: host canary unchanged" "$canary_sum" "$(sha256sum "$canary" | cut -d' ' -f1)"
  expect_eq "$1: imgbuild binary unchanged" "$bin_sum" "$(sha256sum "$IMGBUILD" | cut -d' ' -f1)"
}

# A static helper for what busybox cannot do (sockets of a family, open_by_handle_at).
helper_dir=$TEST_TMP/helper
mkdir -p "$helper_dir"
cat >"$helper_dir/attack.c" <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "socket")) {
    int family = atoi(argv[2]);
    int s = socket(family, family == 38 ? SOCK_SEQPACKET : SOCK_STREAM, 0);
    if (s < 0) { printf("socket(%d): %s\n", family, strerror(errno)); return 1; }
    printf("socket(%d): created\n", family);
    return 0;
  }
  if (!strcmp(argv[1], "packet")) {  /* AF_PACKET: raw frames of whatever interfaces it can see */
    int s = socket(17 /* AF_PACKET */, SOCK_RAW, htons(0x0003 /* ETH_P_ALL */));
    printf("packet socket: %s\n", s < 0 ? strerror(errno) : "created");
    struct if_nameindex* ifs = if_nameindex();
    printf("interfaces:");
    for (struct if_nameindex* i = ifs; i && i->if_index; ++i) printf(" %s", i->if_name);
    printf("\n");
    return 0;
  }
  if (!strcmp(argv[1], "handle")) {  /* shocker: open the root inode of the host fs by handle */
    struct { struct file_handle h; unsigned char data[128]; } fh;
    fh.h.handle_bytes = 8; fh.h.handle_type = 1;
    unsigned int ino = 2; memset(fh.h.f_handle, 0, 8); memcpy(fh.h.f_handle, &ino, sizeof ino);
    int fd = open_by_handle_at(AT_FDCWD, &fh.h, O_RDONLY);
    if (fd < 0) { printf("open_by_handle_at: %s\n", strerror(errno)); return 1; }
    printf("open_by_handle_at: opened\n");
    return 0;
  }
  return 2;
}
C
have_helper=0
if command -v gcc >/dev/null && gcc -static -O -o "$helper_dir/attack" "$helper_dir/attack.c" 2>"$TEST_TMP/gcc.err"; then
  have_helper=1
else
  fail "compile the static attack helper (gcc -static)" "$(cat "$TEST_TMP/gcc.err" 2>/dev/null)"
fi

# variant NAME SHELL-SNIPPET: an image from the busybox rootfs changed by SNIPPET (run in it).
base_rootfs=$TEST_TMP/base-rootfs
mkdir -p "$base_rootfs"/{bin,etc,tmp,root}
cp /bin/busybox "$base_rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do [[ $applet == busybox ]] || ln -s busybox "$base_rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$base_rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$base_rootfs/etc/group"
printf '127.0.0.1 localhost\n' >"$base_rootfs/etc/hosts"
variant() {
  local name=$1 snippet=$2 dir=$TEST_TMP/variant-$1
  rm -rf "$dir" && cp -a "$base_rootfs" "$dir"
  (cd "$dir" && eval "$snippet")
  tar -C "$dir" -cf "$dir.tar" . && ib import "$dir.tar" "$name:latest" >/dev/null
}

# ---- CVE-2019-5736: overwrite the runtime binary through /proc/*/exe
ib run --rm busybox sh -c 'for f in /proc/1/exe /proc/self/exe; do echo pwned >> $f; echo pwned > $f; done; exit 0' >/dev/null 2>&1
ib run --rm --init busybox sh -c 'for f in /proc/1/exe /proc/self/exe; do echo pwned >> $f; done; exit 0' >/dev/null 2>&1
host_untouched "CVE-2019-5736 /proc/self/exe write"

# ---- CVE-2024-21626: an inherited directory fd as the working dir
run bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' run --rm -w /proc/self/fd/7 busybox sh -c 'ls ../../..'"
expect_no_match "run -w /proc/self/fd/7 does not reach the host dir" "HOST-MARKER" "$OUT"
expect_ne "run -w /proc/self/fd/7 is refused" 0 "$RC"
run bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' run --rm busybox ls /proc/self/fd"
expect_eq "inherited fd 7 is not open in the container" "$(printf '0\n1\n2\n3')" "$OUT"
ctx=$TEST_TMP/ctx-workdir
mkdir -p "$ctx"
printf 'FROM busybox\nWORKDIR /proc/self/fd/7\nRUN ls ../../..\n' >"$ctx/Dockerfile"
run bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' build -t wdfd:1 '$ctx'"
expect_no_match "Dockerfile WORKDIR /proc/self/fd/7 + RUN does not reach the host" "HOST-MARKER" "$OUT$ERR"
expect_ne "Dockerfile WORKDIR /proc/self/fd/7 + RUN fails" 0 "$RC"
expect_match "Dockerfile WORKDIR /proc/self/fd/7 + RUN: refused by the in-root resolver" "/proc/self/fd/7" "$ERR"
printf 'FROM busybox\nWORKDIR /proc/self/fd/7\n' >"$ctx/Dockerfile"
check "build an image whose WorkingDir is /proc/self/fd/7" ib build -q -t wdimg:1 "$ctx"
run bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' run --rm wdimg:1 sh -c 'ls ../../..'"
expect_no_match "image WorkingDir /proc/self/fd/7 does not reach the host" "HOST-MARKER" "$OUT"
expect_eq "image WorkingDir /proc/self/fd/7 is refused (125)" 125 "$RC"
host_untouched "CVE-2024-21626"

# ---- /dev and /proc symlinks in the image (CVE-2025-31133 family)
variant devnull "mkdir -p dev && ln -s '$canary' dev/null && ln -s '$canary' dev/pts"
run ib run --rm devnull sh -c "echo pwned > /dev/null; echo pwned > /dev/pts/x; ls -l /dev/null; cat /proc/kcore | head -c1"
expect_match "an image /dev/null symlink is replaced by the real node" "^c.* /dev/null" "$OUT"
variant procsym "ln -s '$TEST_TMP' proc"
check_exit "an image whose /proc is a symlink is refused" 125 ib run --rm procsym true
variant syssym "ln -s '$TEST_TMP' sys"
check_exit "an image whose /sys is a symlink is refused" 125 ib run --rm syssym true
host_untouched "/dev and /proc symlinks"

# ---- /etc/hosts, hostname, resolv.conf as symlinks: created inside the root, never outside
variant hostsdangling "rm -f etc/hosts && ln -s /run/hosts-target etc/hosts && ln -s /run/missing/dir/resolv.conf etc/resolv.conf"
run ib run --rm hostsdangling sh -c 'cat /etc/hosts; ls /run'
expect_eq "dangling /etc/hosts symlink: the container runs" 0 "$RC"
expect_match "dangling /etc/hosts symlink: target made in the root" "hosts-target" "$OUT"
variant hostsout "rm -f etc/hosts && ln -s ../../../../../../..$canary etc/hosts"
run ib run --rm hostsout cat /etc/hosts
expect_no_match "/etc/hosts -> out of root: the host canary is not mounted over" "canary $$" "$OUT"
variant hostsproc "rm -f etc/hosts && ln -s /proc/sys/kernel/hostname etc/hosts && ln -s /proc/self/fd/1 etc/hostname"
check_exit "/etc/hosts -> /proc/...: refused" 125 ib run --rm hostsproc true
host_untouched "init-file symlinks"

# ---- shocker (open_by_handle_at), cgroup release_agent, mount, unshare, /proc/sys, /sys
if ((have_helper)); then
  run ib run --rm -v "$helper_dir:/h:ro" busybox /h/attack handle
  expect_ne "shocker open_by_handle_at fails" 0 "$RC"
  expect_match "shocker open_by_handle_at: EPERM" "Operation not permitted" "$OUT"
fi
run ib run --rm busybox sh -c "for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/release_agent; do echo '$canary' > \$f && echo WROTE \$f; done; mkdir /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && echo MOUNTED"
expect_no_match "cgroup release_agent cannot be written or mounted" "WROTE|MOUNTED" "$OUT"
run ib run --rm busybox sh -c 'mount -t tmpfs t /mnt && echo MOUNTED; unshare -m true && echo UNSHARED; unshare -U true && echo USERNS; echo 1 > /proc/sys/kernel/sysrq && echo PROCSYS; echo x > /sys/kernel/uevent_helper && echo SYSWRITE; echo c > /proc/sysrq-trigger && echo SYSRQ'
expect_no_match "mount, unshare, /proc/sys, /sys and sysrq writes fail" "MOUNTED|UNSHARED|USERNS|PROCSYS|SYSWRITE|SYSRQ" "$OUT"

# ---- host devices: mknod is allowed (as Docker), open is not
run ib run --rm busybox sh -c 'for n in "b 7 0" "c 1 11" "c 1 1"; do set -- $n; for d in /dev /tmp; do mknod $d/x$2$3 $1 $2 $3 || echo MKNOD-FAILED; head -c 16 $d/x$2$3 >/dev/null 2>&1 && echo READ $n $d; echo pwned 2>/dev/null > $d/x$2$3 && echo WROTE $n $d; done; done; echo done'
expect_match "mknod + open of host devices: the container ran" "^done" "$OUT"
expect_no_match "mknod + open of 7:0, 1:11, 1:1 fails (in /dev and on the overlay root)" "READ|WROTE" "$OUT"
run ib run --rm busybox sh -c 'echo x > /dev/null && head -c 4 /dev/zero >/dev/null && head -c 4 /dev/urandom >/dev/null && echo DEFAULTS-OK'
expect_match "the default devices still work" "DEFAULTS-OK" "$OUT"
variant devlayer "mkdir -p opt && mknod -m 0666 opt/kmsg c 1 11 && mknod -m 0666 opt/mem c 1 1"
for user in root nobody; do
  run ib run --rm -u $user devlayer sh -c 'id -u; echo pwned > /opt/kmsg && echo WROTE-KMSG; head -c 16 /opt/mem >/dev/null && echo READ-MEM; echo end'
  expect_match "a device node from a layer (-u $user): the container ran" "^end" "$OUT"
  expect_no_match "a 0666 device node from a layer cannot be opened (-u $user)" "WROTE|READ" "$OUT"
done
host_untouched "host devices"

# ---- kill -1 stays in the container's pid namespace
sleep 30 &
sleeper=$!
at_exit kill "$sleeper"
ib run --rm busybox sh -c 'kill -9 -1; exit 0' >/dev/null 2>&1
expect_true "kill -1 in a container does not reach host processes" kill -0 "$sleeper"
kill "$sleeper" 2>/dev/null

# ---- AF_VSOCK and AF_ALG (also under --network none)
if ((have_helper)); then
  for family in 40 38; do
    for net in "" "--network none"; do
      run ib run --rm $net -v "$helper_dir:/h:ro" busybox /h/attack socket $family
      expect_match "socket($family) ${net:-(default network)} is refused" "Address family not supported" "$OUT"
    done
  done
  run ib run --rm -v "$helper_dir:/h:ro" busybox /h/attack socket 1
  expect_match "socket(AF_UNIX) still works" "created" "$OUT"
fi
# AF_PACKET under --network none (run and a build's RUN): whatever socket it gets, it sees
# the container's own lo only, never a host interface.
if ((have_helper)); then
  host_ifs=$(ls /sys/class/net | grep -vx lo | tr '\n' ' ')
  run ib run --rm --network none -v "$helper_dir:/h:ro" busybox /h/attack packet
  expect_match "AF_PACKET under run --network none sees only lo (host has: $host_ifs)" "^interfaces: lo$" "$OUT"
  mkdir -p "$TEST_TMP/ctx-packet"
  cp "$helper_dir/attack" "$TEST_TMP/ctx-packet/attack"
  printf 'FROM busybox:latest\nCOPY attack /attack\nRUN /attack packet > /packet.txt\n' >"$TEST_TMP/ctx-packet/Dockerfile"
  check "a build's RUN under --network none opens AF_PACKET" ib build -q --network none -t packet-none "$TEST_TMP/ctx-packet"
  run ib run --rm packet-none cat /packet.txt
  expect_match "AF_PACKET in a RUN under build --network none sees only lo" "^interfaces: lo$" "$OUT"
fi
# The i386 ABI: socket(2) and socketcall(SYS_SOCKET) (whose arguments BPF cannot read).
cat >"$helper_dir/sock32.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int family = atoi(argv[1]);
  unsigned long args[3] = {family, SOCK_STREAM, 0};
  long s = syscall(102 /* socketcall */, 1 /* SYS_SOCKET */, args);
  printf("socketcall(%d): %s\n", family, s < 0 ? strerror(errno) : "created");
  s = syscall(359 /* socket */, family, SOCK_STREAM, 0);
  printf("socket(%d): %s\n", family, s < 0 ? strerror(errno) : "created");
  return 0;
}
C
if gcc -m32 -static -O -o "$helper_dir/sock32" "$helper_dir/sock32.c" 2>/dev/null; then
  run ib run --rm -v "$helper_dir:/h:ro" busybox /h/sock32 40
  expect_no_match "i386: AF_VSOCK through socket and socketcall is refused" "created" "$OUT"
  run ib run --rm -v "$helper_dir:/h:ro" busybox /h/sock32 1
  expect_match "i386: socket(AF_UNIX) through the socket syscall works" "^socket\(1\): created" "$OUT"
else
  echo "# no gcc -m32 (gcc-multilib): the i386 socketcall path is checked by the unit test only"
fi

# ---- a FIFO /etc/passwd does not hang `run -u name`
variant fifopasswd "rm -f etc/passwd && mkfifo etc/passwd"
start=$(now)
run timeout -k 3 20 "$IMGBUILD" --root "$store" run --rm -u nobody fifopasswd true
expect_eq "FIFO /etc/passwd: run -u nobody fails with 125 at once" 125 "$RC"
expect_match "FIFO /etc/passwd: the error names the file" "/etc/passwd.*not a regular file|not a regular file.*/etc/passwd" "$ERR"

# ---- default pids limit (2048) where a pids controller exists
if grep -qw pids /proc/cgroups 2>/dev/null && awk '$1 == "pids" && $2 != 0 { f = 1 } END { exit !f }' /proc/cgroups ||
   grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
  ib run --rm busybox sleep 3 >/dev/null 2>&1 &
  runner=$!
  limit=""
  for _ in $(seq 50); do
    limit=$(cat $(find /sys/fs/cgroup -path "*imgbuild/imgbuild-*" -name pids.max 2>/dev/null) 2>/dev/null | head -n1)
    [[ -n $limit ]] && break
    sleep 0.1
  done
  wait "$runner"
  expect_match "a container gets pids.max 2048 by default" "^2048$" "$limit"
  run ib run --rm --pids-limit 8 busybox sh -c 'for i in $(seq 12); do sleep 2 & done; wait'
  expect_match "--pids-limit 8 still stops forks" "can't fork|Resource temporarily unavailable" "$ERR$OUT"
  run ib run --rm --pids-limit -1 busybox sh -c 'for i in $(seq 12); do sleep 0.5 & done; wait; echo ok'
  expect_match "--pids-limit -1 is unlimited" "^ok" "$OUT"
else
  echo "# no pids controller: default pids limit not checked"
fi

host_untouched "whole suite"
finish
