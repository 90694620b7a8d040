#!/usr/bin/env bash
# Peak memory (max RSS, /usr/bin/time -v) of pushing and pulling an image with a 1 GiB layer
# against a local docker-registry: the registry client streams every blob, so both must stay
# far below 64 MiB whatever the image size. A benchmark, not a test (it moves 1 GiB several
# times: ~1-2 minutes). Usage: bench/registry_memory.sh [IMGBUILD] [SIZE_MIB]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
imgbuild=${1:-$here/build/cli/imgbuild}
mib=${2:-1024}
[[ -x /usr/bin/time ]] || { echo "registry_memory: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/imgbuild-regbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat >"$work/registry.yml" <<Y
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
Y
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done

store=$work/store
bash "$here/samples/make-busybox-base.sh" "$imgbuild" busybox:latest --root "$store" >/dev/null
mkdir -p "$work/ctx"
# Random bytes: incompressible, so the pushed blob is as large as the layer.
printf 'FROM busybox:latest\nRUN dd if=/dev/urandom of=/big bs=1048576 count=%d 2>/dev/null\n' "$mib" >"$work/ctx/Dockerfile"
"$imgbuild" --root "$store" build -q -t "127.0.0.1:$port/big:v1" "$work/ctx" >/dev/null

measure() {  # measure LABEL CMD...: prints max RSS and wall time
  local label=$1
  shift
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt" || { cat "$work/time.txt" >&2; exit 1; }
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
  printf '%-44s max RSS %6.1f MiB   wall %s\n' "$label" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$wall"
}
echo "image with a ${mib} MiB layer, registry on 127.0.0.1:$port"
measure "push (gzip while compressing, upload)" "$imgbuild" --root "$store" push --progress plain "127.0.0.1:$port/big:v1"
measure "push again (nothing to upload)" "$imgbuild" --root "$store" push --progress plain "127.0.0.1:$port/big:v1"
measure "pull into a fresh store (download, unpack)" "$imgbuild" --root "$work/store2" pull --progress plain "127.0.0.1:$port/big:v1"
measure "pull again (up to date)" "$imgbuild" --root "$work/store2" pull --progress plain "127.0.0.1:$port/big:v1"
