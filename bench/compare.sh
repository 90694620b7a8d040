#!/usr/bin/env bash
# Side-by-side figures against the peers on this machine (a benchmark, not a test):
#   cold build of samples/helloworld   imgbuild vs buildah bud
#   fully cached rebuild               imgbuild vs buildah bud (and docker if DOCKER_HOST is set)
#   run --rm IMAGE true                imgbuild vs podman run
# Usage: bench/compare.sh [IMGBUILD]   (needs ../shared/peers/setup.sh done; root)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
imgbuild=${1:-$here/build/cli/imgbuild}
runs=${BENCH_RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
store=$work/store
ib() { "$imgbuild" --root "$store" "$@"; }
bash "$here/samples/make-busybox-base.sh" "$imgbuild" busybox:latest --root "$store" >/dev/null
ib save --format docker -o "$work/busybox.tar" busybox:latest
podman load -q -i "$work/busybox.tar" >/dev/null
ctx=$work/ctx && cp -r "$here/samples/helloworld" "$ctx"
sed -i 's|^FROM busybox:latest|FROM localhost/busybox:latest|' "$ctx/Dockerfile"
cp -r "$here/samples/helloworld" "$work/ctx-ib"

# median of N timings (seconds) of a command
median() {
  local -a t=()
  for _ in $(seq "$runs"); do
    "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    t+=("$(cat "$work/.t")")
  done
  printf '%s\n' "${t[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
timed() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN{print e-s}' >"$work/.t"; }

cold_ib() { timed ib -q --no-cache -t hw "$work/ctx-ib"; }
cold_buildah() { timed buildah bud -q --no-cache --layers -t hw "$ctx"; }
warm_ib() { timed ib -q -t hw "$work/ctx-ib"; }
warm_buildah() { timed buildah bud -q --layers -t hw "$ctx"; }
run_ib() { timed ib run --rm busybox true; }
run_podman() { timed podman run --rm localhost/busybox:latest true; }

ib -q -t hw "$work/ctx-ib" >/dev/null; buildah bud -q --layers -t hw "$ctx" >/dev/null 2>&1
a=$(median cold_ib); b=$(median cold_buildah)
printf '%-34s imgbuild %8.3fs  buildah %8.3fs  ratio %.3f (goal <= 0.2)\n' "cold build (helloworld)" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')"
a=$(median warm_ib); b=$(median warm_buildah)
printf '%-34s imgbuild %8.3fs  buildah %8.3fs  ratio %.3f\n' "fully cached rebuild" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')"
if [[ -n ${DOCKER_HOST:-} ]] && docker info >/dev/null 2>&1; then
  docker load -q -i "$work/busybox.tar" >/dev/null
  sed 's|^FROM localhost/busybox:latest|FROM busybox:latest|' "$ctx/Dockerfile" >"$ctx/Dockerfile.docker"
  DOCKER_BUILDKIT=0 docker build -q -t hw -f "$ctx/Dockerfile.docker" "$ctx" >/dev/null
  warm_docker() { timed env DOCKER_BUILDKIT=0 docker build -q -t hw -f "$ctx/Dockerfile.docker" "$ctx"; }
  c=$(median warm_docker)
  printf '%-34s imgbuild %8.3fs  docker  %8.3fs  ratio %.3f (goal <= 0.1)\n' "fully cached rebuild" "$a" "$c" "$(awk -v a="$a" -v b="$c" 'BEGIN{print a/b}')"
fi
a=$(median run_ib); b=$(median run_podman)
printf '%-34s imgbuild %8.3fs  podman  %8.3fs  ratio %.3f (goal <= 0.05)\n' "run --rm busybox true" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')"

# <= 5 ms of overhead per RUN step: 20 RUN steps that do nothing, against one FROM-only build.
{ echo "FROM busybox:latest"; for i in $(seq 20); do echo "RUN true # $i"; done; } >"$work/ctx-ib/Dockerfile.runs"
echo "FROM busybox:latest" >"$work/ctx-ib/Dockerfile.from"
runs20() { timed ib -q --no-cache -f "$work/ctx-ib/Dockerfile.runs" "$work/ctx-ib"; }
from0() { timed ib -q --no-cache -f "$work/ctx-ib/Dockerfile.from" "$work/ctx-ib"; }
a=$(median runs20); b=$(median from0)
printf '%-34s %8.1f ms per RUN step (goal <= 5 ms)\n' "RUN step overhead" "$(awk -v a="$a" -v b="$b" 'BEGIN{print (a-b)/20*1000}')"

# Committing a RUN that wrote 768 MiB: the builder reports the time from the end of the
# command to the layer being in the store (diffID pass, rename, metadata) as a JSON event.
printf 'FROM busybox:latest\nRUN dd if=/dev/zero of=/big bs=1M count=768 2>/dev/null\n' >"$work/ctx-ib/Dockerfile.big"
commits=()
for _ in $(seq "$runs"); do
  sync
  /usr/bin/time -f %M -o "$work/.rss" "$imgbuild" --root "$store" --progress json --no-cache -t big \
    -f "$work/ctx-ib/Dockerfile.big" "$work/ctx-ib" >"$work/big.json"
  commits+=("$(sed -n 's/.*"commit_s":\([0-9.e-]*\).*/\1/p' "$work/big.json")")
done
c=$(printf '%s\n' "${commits[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf '%-34s %8.3f s beyond the work (goal <= 1.4 s), peak RSS %d MiB\n' "commit of a 768 MiB RUN" "$c" "$(($(cat "$work/.rss") / 1024))"
/usr/bin/time -f %M -o "$work/.rss" "$imgbuild" --root "$store" save -o "$work/big.tar" big
printf '%-34s peak RSS %d MiB (goal <= 64 MiB)\n' "save of the 768 MiB image (gzip)" "$(($(cat "$work/.rss") / 1024))"

podman rmi -f localhost/busybox:latest hw >/dev/null 2>&1 || true
buildah rmi -f hw >/dev/null 2>&1 || true
