#!/usr/bin/env bash
# Containers that live (issue 10): the Docker-style sequence end to end —
#   build helloworld; run -d --name web --cpu-period/--cpu-quota -p; exec (plain and -it);
#   commit; inspect --format; namespaces of the pid; volumes (anonymous, named, bind, :ro,
#   --mount, VOLUME in the image); published port answered through curl; logs (1 MiB round
#   trip, -f, --tail, -t); stop of a SIGTERM-ignoring process; kill of the CLI and of the
#   monitor; ps/inspect/top/port/pause/unpause/restart/create/start/wait/diff/cp/export;
#   nothing mounted and no cgroup left after rm; podman runs the committed image.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# IMGBUILD_ROOTLESS=1 (tests/integration/rootless.sh): run as an unprivileged user; checks
# that need cgroups or the private network then check the refusal/fallback or are skipped.
[[ ${IMGBUILD_ROOTLESS:-0} == 1 ]] || require_root "lifecycle.sh needs root (namespaces, overlayfs, cgroups)"
rootless=0 && [[ $(id -u) != 0 ]] && rootless=1

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
uniq=$$-$RANDOM
name=web-$uniq
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
state_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$store/containers/$1/state.json" "$2"; }
# Every container this script made is removed at exit, whatever happened.
at_exit bash -c "for c in \$('$IMGBUILD' --root '$store' ps -aq --no-trunc); do '$IMGBUILD' --root '$store' rm -f -v \$c; done"

check "busybox base" make_busybox_base "$store"
check "build samples/helloworld" ib -t helloworld --progress plain "$IMGBUILD_SOURCE_DIR/samples/helloworld"

# ---- usage errors name the option
check_exit "run -d without an image is a usage error" 2 ib run --bogus-flag helloworld
expect_match "the error names the option" "unknown option --bogus-flag" "$ERR"
expect_no_match "never image not found" "image not found" "$ERR"

# ---- run -d: the id at once
port=$(free_port)
t0=$(now)
# Rootless without cgroup v2 delegation the quota is refused: check that, then run without it.
quota=(--cpu-period=100000 --cpu-quota=20000)
if [[ $rootless == 1 ]]; then
  run ib run -d --name "$name" --cpu-period=100000 --cpu-quota=20000 helloworld
  expect_match "rootless: --cpu-quota is refused without cgroup v2 delegation" 'cpu-quota needs cgroup v2' "$ERR"
  expect_eq "... and no container is made" "" "$(ib ps -aq)"
  quota=()
fi
check "run -d --name web ${quota[*]} -p" ib run -d --name "$name" -e PORT=80 "${quota[@]}" -p "$port:80" helloworld
echo "# run -d took $(elapsed "$t0") s"
id=$OUT
expect_match "run -d prints a 64-hex id" '^[0-9a-f]{64}$' "$id"
run ib ps
expect_match "ps shows it running with its port and name" "^${id:0:12} +helloworld +\"/app/app.sh\" .* Up .*0\.0\.0\.0:$port->80/tcp +$name\$" "$OUT"
expect_match "ps has docker's header" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$' "$OUT"

# ---- the published port
body=""
for _ in $(seq 50); do body=$(curl -s -m 2 "http://127.0.0.1:$port/") && [[ -n $body ]] && break; sleep 0.1; done
expect_match "curl on the published port reaches the server in the container" '^Hello World!$' "$body"
expect_match "served from the container (its hostname)" "^Hostname: ${id:0:12}\$" "$body"
run ib port "$name"
expect_eq "port" "80/tcp -> 0.0.0.0:$port" "$OUT"

# ---- a detached container has the private network (outbound through slirp4netns); exec too
host_ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
if [[ $rootless == 1 && ! -w /dev/net/tun ]]; then
  echo "ok - private network checks # skip rootless: /dev/net/tun is not usable by the user (the lo-only fallback serves -p)"
elif [[ -n $host_ip ]] && command -v slirp4netns >/dev/null; then
  mkdir -p "$TEST_TMP/www" && echo canary >"$TEST_TMP/www/index.html"
  ext_port=$(free_port)
  python3 -m http.server --bind "$host_ip" --directory "$TEST_TMP/www" "$ext_port" >/dev/null 2>&1 &
  at_exit kill $!
  for _ in $(seq 50); do curl -fsS "http://$host_ip:$ext_port/" >/dev/null 2>&1 && break; sleep 0.1; done
  run ib exec "$name" sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 $host_ip $ext_port | head -n1"
  expect_match "exec in a run -d container reaches $host_ip by TCP (private network)" '^HTTP/1\.0 200' "$OUT"
  run ib exec "$name" sh -c 'ls /sys/class/net'
  expect_match "the detached container has tap0" '^tap0$' "$OUT"
else
  echo "# no global IPv4 address or no slirp4netns: outbound check skipped"
fi

# ---- exec
check "exec touch /app/test.txt" ib exec "$name" touch /app/test.txt
check_exit "exec passes the exit status through" 7 ib exec "$name" sh -c 'exit 7'
check_exit "exec of a missing command is 127" 127 ib exec "$name" no-such-command
run ib exec -e X=1 -w /tmp "$name" sh -c 'echo $X $NAME $(pwd) $(id -u)'
expect_eq "exec -e -w, the container's env" "1 World /tmp 0" "$OUT"
run ib exec -u nobody "$name" id -u
expect_eq "exec -u" "65534" "$OUT"
run ib exec "$name" sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
expect_match "exec: no_new_privs" '^NoNewPrivs: 1$' "$OUT"
expect_match "exec: seccomp filter" '^Seccomp: 2$' "$OUT"
expect_eq "exec: docker's capabilities" "$(ib exec "$name" sh -c 'grep CapEff /proc/1/status')" "$(grep CapEff <<<"$OUT" | sed 's/ /\t/')"
pid=$(ib inspect --format '{{ .State.Pid }}' "$name")
same=""
for ns in ipc mnt net pid uts cgroup; do
  [[ $(readlink "/proc/$pid/ns/$ns") != "$(readlink /proc/self/ns/$ns)" ]] || same+="$ns "
done
expect_true "inspect's pid is a live process" test -d "/proc/$pid"
expect_eq "its ipc mnt net pid uts cgroup namespaces differ from the host's" "" "$same"
run ib exec "$name" sh -c 'for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done'
expect_eq "exec joins the container's namespaces" "$(for n in mnt pid net ipc uts cgroup; do readlink /proc/$pid/ns/$n; done)" "$OUT"

# exec gets the container's hardening: no inherited fd, no cwd outside the root, the device filter
hostdir=$TEST_TMP/hostdir && mkdir -p "$hostdir" && echo HOST-MARKER >"$hostdir/marker"
run bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' exec '$name' ls /proc/self/fd"
expect_eq "exec: an inherited fd 7 is not open in the process" "$(printf '0\n1\n2\n3')" "$OUT"
run bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' exec -w /proc/self/fd/7 '$name' sh -c 'ls; ls ../../..'"
expect_no_match "exec -w /proc/self/fd/7 does not reach the host dir" "HOST-MARKER|marker" "$OUT"
expect_ne "exec -w /proc/self/fd/7 is refused" 0 "$RC"
# (a node that could not be made is not probed: an echo would make a plain file. Rootless,
# mknod itself fails, CAP_MKNOD having no force outside the user namespace.)
run ib exec "$name" sh -c 'for n in "b 7 0" "c 1 11" "c 1 1"; do set -- $n; if mknod /tmp/x$2$3 $1 $2 $3; then head -c 16 /tmp/x$2$3 >/dev/null 2>&1 && echo READ $n; echo pwned 2>/dev/null > /tmp/x$2$3 && echo WROTE $n; rm -f /tmp/x$2$3; else echo MKNOD-FAILED; fi; done; head -c 4 /dev/urandom >/dev/null && echo DEFAULTS-OK'
expect_no_match "exec: host devices cannot be opened (device filter)" "READ|WROTE" "$OUT"
expect_match "exec: the default devices work" "DEFAULTS-OK" "$OUT"
check "run -d a device probe" ib run -d --name "dev-$uniq" busybox sh -c 'mknod /tmp/mem c 1 1; head -c 16 /tmp/mem >/dev/null 2>&1 && echo READ; echo probed'
ib wait "dev-$uniq" >/dev/null
run ib logs "dev-$uniq"
expect_eq "run -d: host devices cannot be opened (device filter)" probed "$OUT"
check "run -d: an inherited fd does not reach the container" bash -c "exec 7<'$hostdir'; '$IMGBUILD' --root '$store' run -d --name 'fd-$uniq' busybox ls /proc/self/fd"
ib wait "fd-$uniq" >/dev/null
expect_eq "run -d: only 0 1 2 in the container" "$(printf '0\n1\n2\n3')" "$(ib logs "fd-$uniq")"

# exec -it through a real pty (python pty): a terminal, resize included, status passed through
cat >"$TEST_TMP/pty_exec.py" <<'PY'
import fcntl, os, pty, signal, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def winsize(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
winsize(30, 100)
out = b""
def read_until(token, timeout=10):
    global out
    end = time.time() + timeout
    while token not in out and time.time() < end:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
read_until(b"$ ")
os.write(fd, b"tty; stty size\n")
read_until(b"30 100")
winsize(40, 120)
os.kill(pid, signal.SIGWINCH)
time.sleep(0.3)
os.write(fd, b"stty size; exit 3\n")
read_until(b"40 120")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("EXIT", os.waitstatus_to_exitcode(status))
PY
run python3 "$TEST_TMP/pty_exec.py" "$IMGBUILD" --root "$store" exec -it -e PS1='$ ' "$name" sh
[[ $RC == 0 ]] || echo "# pty run: exit $RC: $ERR"
expect_match "exec -it: the command has a terminal" '^/dev/pts/[0-9]+$' "$OUT"
expect_match "exec -it: the terminal has the caller's size" '^30 100$' "$OUT"
expect_match "exec -it: a resize reaches it" '^40 120$' "$OUT"
expect_match "exec -it: exit status" '^EXIT 3$' "$OUT"
run script -qec "$IMGBUILD --root $store exec -it $name sh -c 'tty; exit 4'" /dev/null
expect_eq "exec -it through script: exit status" 4 "$RC"
expect_match "exec -it through script: a tty" '/dev/pts/[0-9]+' "$OUT"

# ---- the cpu quota: about 20% of a core for a busy loop over 2 s (cgroup v1 cpuacct here)
check "exec -d a busy loop" ib exec -d "$name" sh -c 'while :; do :; done'
if [[ $rootless == 1 ]]; then
  echo "ok - cpu quota measurement # skip rootless (the quota was refused: no cgroup delegation)"
else
acct=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ {print $3}' "/proc/$pid/cgroup")
if [[ -r /sys/fs/cgroup/cpuacct$acct/cpuacct.usage ]]; then
  f=/sys/fs/cgroup/cpuacct$acct/cpuacct.usage
  a=$(cat "$f"); sleep 2; b=$(cat "$f")
else  # cgroup v2
  f=/sys/fs/cgroup$(awk -F: '$1 == 0 {print $3}' "/proc/$pid/cgroup")/cpu.stat
  a=$(awk '$1 == "usage_usec" {print $2 * 1000}' "$f"); sleep 2; b=$(awk '$1 == "usage_usec" {print $2 * 1000}' "$f")
fi
pct=$(( (b - a) / 20000000 ))
echo "# busy loop used ${pct}% of a core over 2 s"
expect_true "cpu quota holds: 12-28% of a core" test "$pct" -ge 12 -a "$pct" -le 28
fi
run ib top "$name"
expect_match "top lists the busy loop" 'sh -c while :; do :; done' "$OUT"
expect_match "top lists httpd" 'httpd -f -p 80' "$OUT"
kill "$(pgrep -f 'while :; do :; done' | head -1)" 2>/dev/null

# ---- commit
check "commit web helloworld:v2" ib commit -m "a test" -a "me" -c 'LABEL committed=yes' "$name" helloworld:v2
run ib run --rm helloworld:v2 ls /app
expect_match "exec's file is in v2" '^test.txt$' "$OUT"
run ib run --rm helloworld ls /app
expect_no_match "and not in helloworld" '^test.txt$' "$OUT"
run ib run --rm --entrypoint "" helloworld:v2 sh -c 'cat /etc/hosts /etc/hostname'
expect_no_match "the init files are not in v2 (the new container has its own)" "${id:0:12}" "$OUT"
run ib inspect --format '{{index .Config.Labels "committed"}} {{json .Config.Cmd}}' helloworld:v2
expect_eq "commit -c LABEL, Cmd kept" 'yes ["/app/app.sh"]' "$OUT"
expect_eq "the container kept running through the commit" running "$(ib inspect --format '{{.State.Status}}' "$name")"
run ib diff "$name"
expect_match "diff: the added file" '^A /app/test.txt$' "$OUT"
expect_match "diff: the changed dir" '^C /app$' "$OUT"

# ---- inspect of a container
run ib inspect --format '{{.Name}} {{.State.Running}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.Config.Image}}' "$name"
want_quota="20000 100000" && [[ $rootless == 1 ]] && want_quota="0 0"
expect_eq "inspect --format of a container" "/$name true $want_quota helloworld" "$OUT"
run ib inspect --format '{{range .Config.Env}}{{.}};{{end}}' "${id:0:8}"
expect_match "inspect by id prefix, {{range}}" 'NAME=World;' "$OUT"
run ib inspect --format '{{json .NetworkSettings.Ports}}' "$name"
expect_eq "inspect: NetworkSettings.Ports" "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$port\"}]}" "$OUT"
check_exit "an unknown field is an error" nonzero ib inspect --format '{{.State.Nope}}' "$name"
expect_match "naming the field" 'no field "Nope"' "$ERR"
run ib inspect "$name"
expect_true "inspect prints JSON with GraphDriver.Data.UpperDir" python3 -c 'import json,sys; d=json.loads(sys.argv[1])[0]; assert d["GraphDriver"]["Data"]["UpperDir"].endswith("/upper"); assert d["State"]["Pid"] > 0' "$OUT"

# ---- pause / unpause (rootless without a delegated cgroup: refused clearly)
if [[ $rootless == 1 ]]; then
  check_exit "rootless: pause without a cgroup is refused" 1 ib pause "$name"
  expect_match "... saying it needs cgroup v2 delegation" 'needs cgroup v2 delegation' "$ERR"
  expect_eq "... and the container runs on" running "$(ib inspect --format '{{.State.Status}}' "$name")"
  echo "ok - pause/unpause checks # skip rootless (no cgroup to freeze)"
else
check "pause" ib pause "$name"
expect_eq "paused" "paused true" "$(ib inspect --format '{{.State.Status}} {{.State.Paused}}' "$name")"
expect_match "ps shows (Paused)" 'Up .* \(Paused\)' "$(ib ps)"
expect_true "the server does not answer while paused" bash -c "! curl -s -m 1 http://127.0.0.1:$port/"
check "unpause" ib unpause "$name"
expect_match "the server answers again" '^Hello World!$' "$(curl -s -m 3 "http://127.0.0.1:$port/")"
fi

# ---- volumes
check "run -d -v /test (anonymous)" ib run -d --name "vol-$uniq" -v /test helloworld sh -c 'echo in-volume > /test/f; sleep 1000'
vid=$OUT
for _ in $(seq 50); do [[ -n $(ls "$store"/volumes/*/_data/f 2>/dev/null) ]] && break; sleep 0.1; done
vol=$(ib inspect --format '{{range .Mounts}}{{.Name}}{{end}}' "$vid")
expect_eq "the anonymous volume's file is on the host under volumes/<id>/_data" in-volume "$(cat "$store/volumes/$vol/_data/f" 2>&1)"
check "commit the container with a volume" ib commit "$vid" "withvol:$uniq"
run ib run --rm "withvol:$uniq" sh -c 'test -d /test && echo mountpoint; ls /test'
expect_match "the volume's mount point is in the commit" '^mountpoint$' "$OUT"
expect_no_match "its content is not" '^f$' "$OUT"
mkdir -p "$TEST_TMP/host" && echo from-host >"$TEST_TMP/host/h"
run ib run --rm -v "$TEST_TMP/host:/test" helloworld cat /test/h
expect_eq "bind mount shows host files" from-host "$OUT"
check_exit "bind :ro refuses writes" 1 ib run --rm -v "$TEST_TMP/host:/test:ro" helloworld sh -c 'echo x > /test/y'
expect_match "with EROFS" 'Read-only file system' "$ERR"
check "run -d -v /home:/test (bind)" ib run -d --name "bind-$uniq" -v /home:/test helloworld sleep 1000
expect_eq "bind mount in inspect" "/home:/test" "$(ib inspect --format '{{index .HostConfig.Binds 0}}' "bind-$uniq")"
check "volume create" ib volume create "named-$uniq"
check "named volume: write" ib run --rm -v "named-$uniq:/data" helloworld sh -c 'echo kept > /data/k'
run ib run --rm --mount "type=volume,source=named-$uniq,target=/d2,readonly" helloworld cat /d2/k
expect_eq "named volume outlives its container (--mount, readonly)" kept "$OUT"
run ib run --rm --mount type=tmpfs,target=/scratch,tmpfs-size=1m helloworld sh -c 'grep " /scratch " /proc/mounts'
expect_match "--mount type=tmpfs" '^tmpfs /scratch tmpfs' "$OUT"
expect_match "volume ls" "named-$uniq" "$(ib volume ls)"
expect_eq "volume inspect" "$store/volumes/named-$uniq/_data" "$(ib volume inspect --format '{{.Mountpoint}}' "named-$uniq")"
printf 'FROM busybox\nRUN mkdir -p /data && echo from-image > /data/seed\nVOLUME /data\nCMD ["sleep", "1000"]\n' >"$TEST_TMP/Dockerfile.vol"
check "build an image with VOLUME" ib -t "imgvol:$uniq" -f "$TEST_TMP/Dockerfile.vol" --progress plain "$TEST_TMP"
check "run it" ib run -d --name "imgvol-$uniq" "imgvol:$uniq"
ivol=$(ib inspect --format '{{range .Mounts}}{{.Name}}{{end}}' "imgvol-$uniq")
expect_eq "VOLUME makes an anonymous volume filled with the image's content" from-image "$(cat "$store/volumes/$ivol/_data/seed" 2>&1)"
check "rm -f -v removes its anonymous volume" ib rm -f -v "imgvol-$uniq"
expect_true "the volume is gone" test ! -e "$store/volumes/$ivol"
check_exit "volume rm of a used volume fails" 1 ib volume rm "$vol"
check "rm -f the volume container (without -v)" ib rm -f "vol-$uniq"
expect_true "its volume stays" test -e "$store/volumes/$vol/_data/f"
check "volume prune" ib volume prune
expect_true "prune removed the unused anonymous volume" test ! -e "$store/volumes/$vol"
expect_true "and kept the named one" test -e "$store/volumes/named-$uniq"
check "volume rm" ib volume rm "named-$uniq"

# ---- logs
check "run -d 1 MiB of output" ib run -d --name "logs-$uniq" busybox sh -c 'yes 0123456789abcdef | head -c 1048576; echo; sleep 0.2; echo done >&2'
lid=$OUT
check "wait" ib wait "$lid"
expect_eq "wait prints the exit code" 0 "$OUT"
ib logs "$lid" >"$TEST_TMP/log.out" 2>"$TEST_TMP/log.err"
{ yes 0123456789abcdef | head -c 1048576; echo; } >"$TEST_TMP/log.want"
expect_same_files "logs give back the 1 MiB written" "$TEST_TMP/log.want" "$TEST_TMP/log.out"
expect_eq "stderr goes to stderr" done "$(cat "$TEST_TMP/log.err")"
expect_eq "logs --tail 1" done "$(ib logs --tail 1 "$lid" 2>&1)"
expect_match "logs -t" '^20[0-9-]+T[0-9:.]+Z done$' "$(ib logs -t --tail 1 "$lid" 2>&1)"
check "run -d a slow writer" ib run -d --name "follow-$uniq" busybox sh -c 'for i in 1 2 3; do echo line$i; sleep 0.3; done'
run ib logs -f "follow-$uniq"
expect_eq "logs -f follows until the container exits" "line1 line2 line3" "$(echo $OUT)"

check "run -d a late writer" ib run -d --name "attach-$uniq" busybox sh -c 'sleep 0.5; echo late; exit 6'
check_exit "attach follows the output and exits with the container's status" 6 ib attach "attach-$uniq"
expect_eq "attach printed the output" late "$OUT"

# ---- stop: SIGTERM ignored, SIGKILL after -t
check "run -d a SIGTERM-ignoring process" ib run -d --name "stop-$uniq" busybox sh -c "trap '' TERM; while :; do sleep 0.1; done"
t0=$(now)
check "stop -t 2" ib stop -t 2 "stop-$uniq"
took=$(elapsed "$t0")
expect_true "stop waited the timeout (${took}s)" awk -v t="$took" 'BEGIN { exit !(t >= 1.9 && t < 8) }'
expect_eq "and ended it with SIGKILL" "exited 137" "$(ib inspect --format '{{.State.Status}} {{.State.ExitCode}}' "stop-$uniq")"
check "restart" ib restart -t 1 "stop-$uniq"
expect_eq "restarted" running "$(ib inspect --format '{{.State.Status}}' "stop-$uniq")"
check "kill -s KILL" ib kill -s KILL "stop-$uniq"
check_exit "wait after kill" 0 ib wait "stop-$uniq"
expect_eq "killed: 137" 137 "$OUT"

# ---- create, start, attach, --rm
check "create" ib create --name "created-$uniq" busybox sh -c 'echo created-ran; exit 3'
expect_match "ps -a shows Created" "Created +created-$uniq" "$(ib ps -a)"
check_exit "start -a runs it in the foreground" 3 ib start -a "created-$uniq"
expect_eq "start -a attaches its output" created-ran "$OUT"
check_exit "run (foreground) passes the status through" 5 ib run --name "fg-$uniq" busybox sh -c 'echo fg; exit 5'
expect_eq "a foreground run keeps a log" fg "$(ib logs "fg-$uniq")"
check "run -d --rm" ib run -d --rm busybox true
rmid=$OUT
for _ in $(seq 50); do [[ -e $store/containers/$rmid ]] || break; sleep 0.1; done
expect_true "--rm removes the container when it exits" test ! -e "$store/containers/$rmid"
check_exit "a name is unique" 125 ib run -d --name "$name" busybox true
expect_match "the error says so" "already in use" "$ERR"

# ---- cp and export
echo to-container >"$TEST_TMP/in.txt"
check "cp SRC C:PATH (running)" ib cp "$TEST_TMP/in.txt" "$name:/tmp/in.txt"
expect_eq "the file is in the container" to-container "$(ib exec "$name" cat /tmp/in.txt)"
check "cp C:PATH DEST (running)" ib cp "$name:/app/data" "$TEST_TMP/out"
expect_match "a directory copied out" '^built on' "$(cat "$TEST_TMP/out/build-info" 2>&1)"
check "cp from a stopped container" ib cp "logs-$uniq:/bin/busybox" "$TEST_TMP/bb"
expect_true "the file came out" test -s "$TEST_TMP/bb"
ib exec "$name" ln -s / /tmp/escape
check "cp into a symlink that points at / stays in the container" ib cp "$TEST_TMP/in.txt" "$name:/tmp/escape/etc/escaped.txt"
expect_true "nothing written on the host" test ! -e /etc/escaped.txt
expect_eq "it landed in the container's /etc" to-container "$(ib exec "$name" cat /etc/escaped.txt)"
check "export" ib export -o "$TEST_TMP/export.tar" "$name"
expect_match "export has the container's files" '^app/test.txt$' "$(tar -tf "$TEST_TMP/export.tar" | sed 's|^\./||')"

# ---- the monitor survives a kill of the CLI; a killed monitor shows as exited; rm -f cleans
pids_limit="--pids-limit 64" && [[ $rootless == 1 ]] && pids_limit=""  # refused rootless (checked in runtime.sh)
setsid bash -c "'$IMGBUILD' --root '$store' run -d --name 'mon-$uniq' $pids_limit busybox sleep 1000 >'$TEST_TMP/mon.id'; sleep 60" &
group=$!
for _ in $(seq 100); do [[ -s $TEST_TMP/mon.id ]] && break; sleep 0.1; done
kill -9 -- "-$group" 2>/dev/null
wait "$group" 2>/dev/null
mid=$(cat "$TEST_TMP/mon.id")
sleep 0.2
expect_match "the container runs on after the CLI's session is killed" "Up .* mon-$uniq" "$(ib ps)"
monitor=$(state_field "$mid" monitor_pid)
mcg=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["cgroup_dirs"]))' "$store/containers/$mid/state.json")
expect_ne "the monitor is not the CLI's child" "$group" "$(awk '{print $4}' "/proc/$monitor/stat")"
kill -9 "$monitor"
sleep 0.3
expect_match "a container whose monitor died shows as exited" "Exited \(137\) .* mon-$uniq" "$(ib ps -a)"
expect_no_match "never as running" "mon-$uniq" "$(ib ps)"
check "rm -f cleans it" ib rm -f "mon-$uniq"
left=""
for d in $mcg; do [[ -e $d ]] && left+="$d "; done
expect_eq "its cgroups are gone" "" "$left"

# ---- podman runs the committed image and sees the same files
check "save helloworld:v2" ib save --format docker -o "$TEST_TMP/v2.tar" helloworld:v2
ptag=localhost/imgbuild-lifecycle-$uniq:v2
if podman load -i "$TEST_TMP/v2.tar" >/dev/null 2>&1 && podman tag helloworld:v2 "$ptag" 2>/dev/null; then
  podman rmi helloworld:v2 >/dev/null 2>&1
  at_exit podman rmi -f "$ptag"
  run podman run --rm --net none "$ptag" ls /app  # (rootless podman's default network needs /dev/net/tun)
  expect_eq "podman sees the same files in v2" "$(ib run --rm helloworld:v2 ls /app)" "$OUT"
else
  fail "podman load of the committed image"
fi

# ---- rm: nothing left
check "tag helloworld" ib tag helloworld localhost:5000/geektime/helloworld:v1
cgroups=$(ib ps -aq --no-trunc | while read -r c; do echo "imgbuild-${c:0:24}"; done)
check "rm -f every container" bash -c "'$IMGBUILD' --root '$store' rm -f -v \$('$IMGBUILD' --root '$store' ps -aq --no-trunc)"
expect_eq "no container left" "" "$(ib ps -aq)"
leftover=""
for cg in $cgroups; do leftover+=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "$cg" 2>/dev/null); done
expect_eq "no cgroup left after rm" "" "$leftover"
expect_eq "nothing mounted from the store" "" "$(grep -F "$store" /proc/*/mountinfo 2>/dev/null | head -3)"
# (rootless, the user's pause process keeps the command line of the run that forked it)
monitors_left() {
  local p
  for p in $(pgrep -f -- "[-]-root $store"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == imgbuild-pause ]] || echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
  done
}
expect_eq "no monitor left" "" "$(monitors_left)"

finish
