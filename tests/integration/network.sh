#!/usr/bin/env bash
# Networks of RUN steps and of `run` (issue 8, findings 4 and 8): the default private
# network (slirp4netns: lo + tap0, outbound TCP and DNS, the host's loopback unreachable),
# the network.host entitlement (--allow network.host, line:col errors without it, build
# --network none winning over RUN --network=host), run --network private|none|host, the
# fallback to none without slirp4netns, and no slirp4netns left behind (after a build, a
# failing RUN, and kill -9 of imgbuild).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "network.sh needs root (namespaces, overlayfs)"
check "slirp4netns installed (scripts/install-deps.sh)" command -v slirp4netns

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
check "busybox base image" make_busybox_base "$store"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host_ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
host_iface=$(awk -F: 'NR>2 {gsub(/ /,"",$1); print $1}' /proc/net/dev | grep -vx lo | head -n1)

# Two HTTP services on the host: one on its loopback (must stay unreachable), one on a
# non-loopback address (reachable as any outside host would be).
www=$TEST_TMP/www && mkdir -p "$www" && echo canary >"$www/index.html"
serve() { serve_http "$www" "$@"; }
lo_port=$(free_port)
check "an HTTP service on the host's 127.0.0.1" serve 127.0.0.1 "$lo_port"
if [[ -n $host_ip ]]; then
  ext_port=$(free_port)
  check "an HTTP service on the host's $host_ip" serve "$host_ip" "$ext_port"
fi

# http_get HOST PORT (in the container): prints the status line, or "unreachable".
http_get='get() { r=$(printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 "$1" "$2" 2>/dev/null | head -n1); echo "${r:-unreachable}"; }'
ifaces_of() { grep -E "^\[$1\] \| *[a-z0-9]+:" <<<"$OUT" | sed -E "s/^\[$1\] \| *([^:]+):.*/\1/" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }
# The slirp4netns processes of this script's store: their stderr is a log file in it
# (other imgbuild runs on the machine have their own).
slirps() {
  local p
  for p in $(pgrep -x slirp4netns); do
    [[ $(readlink "/proc/$p/fd/2" 2>/dev/null) == "$store"/* ]] && echo "$p"
  done
}
# no_slirps_left: ok when, within 3 s, no slirp4netns of this store runs (a killed one
# may take a few ms to exit and be reaped by init).
no_slirps_left() {
  local left
  for _ in $(seq 30); do
    left=$(slirps)
    [[ -z $left ]] && return 0
    sleep 0.1
  done
  ps -o pid,ppid,stat,args -p "$(echo $left | tr ' ' ,)"
  return 1
}

ctx=$TEST_TMP/ctx && mkdir -p "$ctx"
# ======================================================================================
# RUN on the default (private) network
cat >"$ctx/Dockerfile" <<EOF
FROM busybox
RUN cat /proc/net/dev
RUN $http_get; echo "loopback127: \$(get 127.0.0.1 $lo_port)"; echo "loopback-gw: \$(get 10.0.2.2 $lo_port)"
RUN cat /etc/resolv.conf
EOF
check "RUN on the default network: build" ib --progress plain --no-cache "$ctx"
expect_eq "RUN sees lo and tap0 only (no host interface)" "lo tap0" "$(ifaces_of 2)"
expect_match "RUN cannot reach the host's 127.0.0.1" "^\[3\] \| loopback127: unreachable$" "$OUT"
expect_match "RUN cannot reach the host's loopback through 10.0.2.2" "^\[3\] \| loopback-gw: unreachable$" "$OUT"
expect_match "RUN's resolv.conf names slirp4netns' DNS 10.0.2.3" "^\[4\] \| nameserver 10\.0\.2\.3$" "$OUT"
expect_eq "RUN's resolv.conf has no other nameserver" 1 "$(grep -c '^\[4\] | nameserver' <<<"$OUT")"
check "no slirp4netns left after the build" no_slirps_left

# A stage's RUN steps join one kept network namespace per mode (docs/architecture.md):
# each still gets the whole private network, a --network=none step in between gets only lo,
# and a RUN cannot change the namespace for the next one (no CAP_NET_ADMIN).
cat >"$ctx/Dockerfile.kept" <<'EOF'
FROM busybox
RUN cat /proc/net/dev; ls /sys/class/net
RUN --network=none cat /proc/net/dev
RUN ip link set lo down 2>/dev/null || echo "lo-down: refused"; ip addr add 10.9.9.9/32 dev lo 2>/dev/null || echo "addr-add: refused"
RUN cat /proc/net/dev; ip -4 addr show tap0 | grep -o "inet [0-9.]*"; echo "lo-addrs: $(ip -4 addr show lo | grep -c inet)"; echo "lo-flags: $(cat /sys/class/net/lo/flags)"
EOF
check "RUN steps joining the stage's kept network: build" ib --progress plain --no-cache -f "$ctx/Dockerfile.kept" "$ctx"
expect_eq "first RUN: lo and tap0" "lo tap0" "$(ifaces_of 2)"
expect_match "... and its /sys shows the joined namespace" "^\[2\] \| tap0$" "$OUT"
expect_eq "RUN --network=none between them: only lo" "lo" "$(ifaces_of 3)"
expect_match "a RUN cannot take lo down" "^\[4\] \| lo-down: refused$" "$OUT"
expect_match "... nor add an address" "^\[4\] \| addr-add: refused$" "$OUT"
expect_eq "a later RUN: lo and tap0 again" "lo tap0" "$(ifaces_of 5)"
expect_match "... tap0 configured as for the first" "^\[5\] \| inet 10\.0\.2\.100$" "$OUT"
expect_match "... lo with its one address" "^\[5\] \| lo-addrs: 1$" "$OUT"
expect_match "... and up (IFF_UP)" "^\[5\] \| lo-flags: 0x[0-9a-f]*[13579bdf]$" "$OUT"
check "no slirp4netns left after the kept-network build" no_slirps_left

# The stage's networks start at its first cache miss, ahead of its first RUN, and come up
# while WORKDIR and COPY work (builder/stage_networks.h); a fully cached build starts none.
# A slirp4netns first on PATH counts the starts, and lists the store's tmp/ as it starts: a
# network started ahead comes before the RUN's run-* dir (builder/run_step.cpp makes it first).
shim=$TEST_TMP/slirp-shim && mkdir -p "$shim"
real_slirp=$(command -v slirp4netns)
cat >"$shim/slirp4netns" <<EOF
#!/bin/sh
echo started >>"$TEST_TMP/slirp-starts"
ls "$store/tmp" >"$TEST_TMP/slirp-saw"
exec "$real_slirp" "\$@"
EOF
chmod +x "$shim/slirp4netns"
starts() { cat "$TEST_TMP/slirp-starts" 2>/dev/null | wc -l; }
echo m >"$ctx/marker"
cat >"$ctx/Dockerfile.ahead" <<'EOF'
FROM busybox
WORKDIR /w
COPY marker /w/
RUN cat /proc/net/dev; ls /w
EXPOSE 80
EOF
check "a RUN after WORKDIR and COPY, its network started ahead: build" \
  env PATH="$shim:$PATH" "$IMGBUILD" --root "$store" build --progress plain --no-cache -t ahead -f "$ctx/Dockerfile.ahead" "$ctx"
expect_eq "... the RUN sees lo and tap0" "lo tap0" "$(ifaces_of 4)"
expect_match "... and the COPY's file" "^\[4\] \| marker$" "$OUT"
expect_eq "... one slirp4netns started" 1 "$(starts)"
expect_no_match "... before the RUN began (ahead of it)" '^run-' "$(cat "$TEST_TMP/slirp-saw")"
check "the same build again, every step cached" \
  env PATH="$shim:$PATH" "$IMGBUILD" --root "$store" build --progress plain -t ahead -f "$ctx/Dockerfile.ahead" "$ctx"
expect_eq "... starts no slirp4netns" 1 "$(starts)"
sed -i 's/^EXPOSE 80$/EXPOSE 81/' "$ctx/Dockerfile.ahead"
check "a miss after the last RUN only" \
  env PATH="$shim:$PATH" "$IMGBUILD" --root "$store" build --progress plain -t ahead -f "$ctx/Dockerfile.ahead" "$ctx"
expect_eq "... starts no slirp4netns either (no RUN ahead)" 1 "$(starts)"
check "no slirp4netns left after those builds" no_slirps_left

if [[ -n $host_ip ]]; then
  printf 'FROM busybox\nRUN %s; echo "external: $(get %s %s)"\n' "$http_get" "$host_ip" "$ext_port" >"$ctx/Dockerfile.ext"
  check "RUN outbound TCP: build" ib --progress plain --no-cache -f "$ctx/Dockerfile.ext" "$ctx"
  expect_match "RUN reaches a non-loopback host address ($host_ip) by TCP" "^\[2\] \| external: HTTP/1\.0 200" "$OUT"
fi
if getent hosts deb.debian.org >/dev/null 2>&1; then
  printf 'FROM busybox\nRUN nslookup deb.debian.org\n' >"$ctx/Dockerfile.dns"
  check "RUN resolves deb.debian.org through 10.0.2.3" ib --progress plain --no-cache -f "$ctx/Dockerfile.dns" "$ctx"
  expect_match "RUN: nslookup answers with an address" "^\[2\] \| Address: [0-9]" "$OUT"
else
  echo "# skipped: DNS in RUN (the host itself cannot resolve deb.debian.org)"
fi

# ======================================================================================
# The network.host entitlement
cat >"$ctx/Dockerfile.host" <<EOF
FROM busybox
RUN echo step-two-ran
RUN --network=host cat /proc/net/dev; $http_get; echo "loopback127: \$(get 127.0.0.1 $lo_port)"
EOF
check_exit "RUN --network=host without --allow network.host fails" 1 ib --progress plain --no-cache -f "$ctx/Dockerfile.host" "$ctx"
expect_match "... naming the Dockerfile line" "Dockerfile.host:3:1: RUN --network=host needs --allow network.host" "$ERR"
expect_no_match "... before any step runs" "step-two-ran" "$OUT"
check "RUN --network=host with --allow network.host" ib --progress plain --no-cache --allow network.host -f "$ctx/Dockerfile.host" "$ctx"
[[ -n $host_iface ]] && expect_match "... sees the host's $host_iface" "^\[3\] \| *$host_iface:" "$OUT"
expect_match "... and reaches the host's 127.0.0.1" "^\[3\] \| loopback127: HTTP/1\.0 200" "$OUT"
check_exit "build --network none + RUN --network=host fails (even with --allow)" 1 ib --progress plain --no-cache --network none --allow network.host -f "$ctx/Dockerfile.host" "$ctx"
expect_match "... naming the line" "Dockerfile.host:3:1: RUN --network=host in a build with --network none" "$ERR"
printf 'FROM busybox\nRUN --network=default cat /proc/net/dev\nRUN --network=none cat /proc/net/dev\n' >"$ctx/Dockerfile.none"
check "build --network none with RUN --network=default and none" ib --progress plain --no-cache --network none -f "$ctx/Dockerfile.none" "$ctx"
expect_eq "... RUN --network=default gets none" lo "$(ifaces_of 2)"
expect_eq "... RUN --network=none gets none" lo "$(ifaces_of 3)"
printf 'FROM busybox\nRUN cat /proc/net/dev\n' >"$ctx/Dockerfile.plain"
check_exit "build --network host needs --allow network.host" 2 ib --progress plain --no-cache --network host -f "$ctx/Dockerfile.plain" "$ctx"
expect_match "... and says so" "--network host needs --allow network.host" "$ERR"
check "build --network host --allow network.host" ib --progress plain --no-cache --network host --allow network.host -f "$ctx/Dockerfile.plain" "$ctx"
[[ -n $host_iface ]] && expect_match "... the RUN sees the host's $host_iface" "^\[2\] \| *$host_iface:" "$OUT"
check_exit "--allow security.insecure is refused" 2 ib --allow security.insecure "$ctx"
expect_match "... as not supported" "security.insecure: not supported" "$ERR"
check_exit "--allow of an unknown entitlement is a usage error" 2 ib --allow network.bridge "$ctx"
printf 'FROM busybox\nONBUILD RUN --network=host true\n' >"$ctx/Dockerfile.onbuild"
check "a base image with ONBUILD RUN --network=host" ib -q -t onbuild-host -f "$ctx/Dockerfile.onbuild" "$ctx"
printf 'FROM onbuild-host\nRUN true\n' >"$ctx/Dockerfile.child"
check_exit "its trigger needs --allow network.host too" 1 ib -q -f "$ctx/Dockerfile.child" "$ctx"
expect_match "... naming the trigger" "ONBUILD trigger of the base image:2:1: RUN --network=host needs --allow network.host" "$ERR"
check "... and runs with it" ib -q --allow network.host -f "$ctx/Dockerfile.child" "$ctx"
printf 'FROM busybox\nRUN true\nRUN --security=insecure true\n' >"$ctx/Dockerfile.insecure"
check_exit "RUN --security=insecure is refused" 1 ib -f "$ctx/Dockerfile.insecure" "$ctx"
expect_match "... naming the line" "Dockerfile.insecure:3:1: RUN --security=insecure" "$ERR"

# ======================================================================================
# run --network private (the default) | none | host
check "run (private network by default)" ib run --rm busybox cat /proc/net/dev
OUT=$(awk -F: 'NR>2 {gsub(/ /,"",$1); print "[1] | " $1 ":"}' <<<"$OUT")
expect_eq "run: lo and tap0 only" "lo tap0" "$(ifaces_of 1)"
if [[ -n $host_ip ]]; then
  check "run --network private: outbound TCP" ib run --rm --network private busybox sh -c "$http_get; get $host_ip $ext_port"
  expect_match "run --network private reaches $host_ip" "^HTTP/1\.0 200" "$OUT"
fi
check "run --network private: the host's 127.0.0.1" ib run --rm busybox sh -c "$http_get; get 127.0.0.1 $lo_port"
expect_eq "run --network private cannot reach the host's 127.0.0.1" unreachable "$OUT"
check "run --network none" ib run --rm --network none busybox ls /sys/class/net
expect_eq "run --network none: only lo" lo "$OUT"
check "run --network host (no entitlement needed)" ib run --rm --network host busybox sh -c "$http_get; get 127.0.0.1 $lo_port"
expect_match "run --network host reaches the host's 127.0.0.1" "^HTTP/1\.0 200" "$OUT"
check "no slirp4netns left after run" no_slirps_left

# The helper holds no fd of imgbuild or of the container: only its own.
check "run a container that sleeps" bash -c "'$IMGBUILD' --root '$store' run --rm busybox sleep 3 >/dev/null 2>&1 & echo \$! >'$TEST_TMP/ib.pid'"
helper=""
for _ in $(seq 50); do
  helper=$(pgrep -x -P "$(cat "$TEST_TMP/ib.pid")" slirp4netns) && break
  sleep 0.1
done
if [[ -n $helper ]]; then
  pass "slirp4netns runs as a child of imgbuild while the container runs"
  fds=$(for f in /proc/"$helper"/fd/*; do readlink "$f"; done)
  fds=$(sed "s|^$store/containers/[0-9a-f]*/init/slirp4netns\.log$|LOG|" <<<"$fds")
  expect_no_match "slirp4netns holds nothing of the store but its log" "$store" "$fds"
  expect_match "... whose log is its stderr" "^LOG$" "$fds"
  expect_eq "slirp4netns: stdin and stdout are /dev/null" "/dev/null /dev/null" "$(readlink /proc/"$helper"/fd/0) $(readlink /proc/"$helper"/fd/1)"
  expect_eq "slirp4netns has its own process group (a terminal's Ctrl-C is not for it)" "$helper" "$(ps -o pgid= -p "$helper" | tr -d ' ')"
  expect_match "slirp4netns runs with --disable-host-loopback" "--disable-host-loopback" "$(tr '\0' ' ' </proc/"$helper"/cmdline)"
else
  fail "slirp4netns runs as a child of imgbuild while the container runs"
fi
wait_gone() { for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "... and is gone after it" wait_gone "$helper"

# ======================================================================================
# No helper left after a failing RUN, nor after kill -9 of imgbuild
printf 'FROM busybox\nRUN exit 3\n' >"$ctx/Dockerfile.fail"
check_exit "a failing RUN fails the build" 1 ib --no-cache -f "$ctx/Dockerfile.fail" "$ctx"
check "no slirp4netns left after a failing RUN" no_slirps_left

printf 'FROM busybox\nRUN sleep 30\n' >"$ctx/Dockerfile.sleep"
"$IMGBUILD" --root "$store" build --no-cache -f "$ctx/Dockerfile.sleep" "$ctx" >/dev/null 2>&1 &
ib_pid=$!
helper=""
for _ in $(seq 100); do
  helper=$(pgrep -x -P "$ib_pid" slirp4netns) && break
  sleep 0.1
done
sleeper=$(pgrep -f -x "sleep 30" | head -n1)
if [[ -n $helper ]]; then pass "kill -9: slirp4netns runs for the RUN"; else fail "kill -9: slirp4netns runs for the RUN"; fi
kill -9 "$ib_pid"
wait "$ib_pid" 2>/dev/null
check "kill -9 of imgbuild: its slirp4netns dies too" wait_gone "$helper"
[[ -n $sleeper ]] && check "kill -9 of imgbuild: the RUN's command dies too" wait_gone "$sleeper"
check "kill -9 of imgbuild: no slirp4netns left" no_slirps_left

# ======================================================================================
# Without slirp4netns: one note, and the network is none
nopath=$TEST_TMP/empty-path && mkdir -p "$nopath"
printf 'FROM busybox\nRUN cat /proc/net/dev\nRUN --network=default cat /proc/net/dev\n' >"$ctx/Dockerfile.fallback"
run env PATH="$nopath" "$IMGBUILD" --root "$store" --progress plain --no-cache -f "$ctx/Dockerfile.fallback" "$ctx"
expect_eq "without slirp4netns the build still works" 0 "$RC"
expect_eq "... with one note" 1 "$(grep -c "slirp4netns not found" <<<"$ERR")"
expect_eq "... and RUN gets only lo" "lo" "$(ifaces_of 2)"
run env PATH="$nopath" "$IMGBUILD" --root "$store" run --rm busybox ls /sys/class/net
expect_eq "without slirp4netns run --network private gets only lo" "0 lo" "$RC $OUT"
expect_match "... with the note" "slirp4netns not found" "$ERR"

finish
