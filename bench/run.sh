#!/usr/bin/env bash
# The benchmark harness: imgbuild side by side with buildah bud --layers, podman build,
# docker build (classic builder) and skopeo, on the workloads in bench/workloads/W*/.
#   bench/run.sh [--runs N] [--workloads W1,W2,..] [--tools imgbuild,buildah,podman,docker,skopeo]
#                [--imgbuild PATH] [--out FILE] [--note TEXT] [--no-setup] [--keep]
# Installs the peers (../shared/peers/setup.sh --with-docker) unless --no-setup or only
# imgbuild is asked for, makes the same base images in every tool (busybox-static; a
# mmdebstrap Debian for W8), then runs every case N times (default 5), the tools' order
# rotating run by run, each run from the cache state its workload defines. Writes a markdown
# table (median/min/max wall, median CPU, peak RSS, imgbuild/tool) to
# bench/results/<date>-<host>.md (or --out). Root; a benchmark, not a test.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$BENCH")
RUNS=5 WORKLOADS="" TOOLS=imgbuild,buildah,podman,docker,skopeo IB=$SRC/build/cli/imgbuild OUT="" NOTE="" SETUP=1 KEEP=0
while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift ;;
    --workloads) WORKLOADS=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    --imgbuild) IB=$2; shift ;;
    --out) OUT=$2; shift ;;
    --note) NOTE=$2; shift ;;
    --no-setup) SETUP=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --runs wants a positive number, not \"$RUNS\"" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "bench/run.sh: needs root (the peers run rootful)" >&2; exit 1; }
IB=$(realpath "$IB")
[[ -x $IB ]] || { echo "bench/run.sh: $IB is not executable (build first, or --imgbuild PATH)" >&2; exit 1; }
if [[ -z $WORKLOADS ]]; then
  WORKLOADS=$(cd "$BENCH/workloads" && ls -d W* | sort -V | paste -sd,)
fi
for w in ${WORKLOADS//,/ }; do
  [[ -f $BENCH/workloads/$w/workload.sh ]] || { echo "bench/run.sh: no workload $w (bench/workloads/$w/workload.sh)" >&2; exit 2; }
done
for t in ${TOOLS//,/ }; do
  case $t in imgbuild | buildah | podman | docker | skopeo) ;; *) echo "bench/run.sh: unknown tool $t" >&2; exit 2 ;; esac
done
export BENCH SRC IB TOOLS RUNS
source "$BENCH/lib.sh"

if [[ $TOOLS != imgbuild ]] && ((SETUP)); then
  setup=${PEERS_SETUP:-}
  for s in "$SRC/../shared/peers/setup.sh" /work/shared/peers/setup.sh; do [[ -z $setup && -f $s ]] && setup=$s; done
  [[ -n $setup ]] || { echo "bench/run.sh: ../shared/peers/setup.sh not found (set PEERS_SETUP)" >&2; exit 1; }
  if tool_enabled docker; then bash "$setup" --with-docker; else bash "$setup"; fi
fi
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/imgbuild-peers/docker.sock}
DOCKERD_PID=""
if tool_enabled docker; then
  docker info >/dev/null 2>&1 || { echo "bench/run.sh: no dockerd at $DOCKER_HOST (drop docker from --tools?)" >&2; exit 1; }
  DOCKERD_PID=$(cat /run/imgbuild-peers/dockerd.pid 2>/dev/null || pgrep -xo dockerd || true)
fi

WORK=$(mktemp -d /var/tmp/imgbuild-bench.XXXXXX)
export WORK IB_STORE=$WORK/ib-store
cleanup() {
  local rc=$?
  set +e  # try every step: a peer's failing prune or a server already gone must not keep the scratch (5 GiB after W6)
  for f in "$WORK"/pids/*; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
  remove_peer_images
  if ((KEEP)); then echo "bench: scratch kept in $WORK" >&2; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
mkdir -p "$WORK/results" "$WORK/pids"
echo "bench: scratch $WORK; tools $TOOLS; workloads $WORKLOADS; $RUNS runs" >&2
bash "$SRC/samples/make-busybox-base.sh" "$IB" busybox:latest --root "$IB_STORE" >/dev/null
share_image busybox:latest

for w in ${WORKLOADS//,/ }; do
  (
    W=$w WDIR=$BENCH/workloads/$w
    source "$WDIR/workload.sh"
    echo "bench: $w: setup" >&2
    w_setup
    mapfile -t cases < <(w_cases | while read -r c t; do tool_enabled "$t" && echo "$c $t"; done)
    mkdir -p "$WORK/results/$w" && printf "%s\n" "${cases[@]}" >"$WORK/results/$w/cases"
    names=$(printf '%s\n' "${cases[@]}" | awk '{print $1}' | awk '!seen[$0]++')
    for r in $(seq "$RUNS"); do
      for c in $names; do
        mapfile -t tools < <(printf '%s\n' "${cases[@]}" | awk -v c="$c" '$1 == c {print $2}')
        n=${#tools[@]}
        for i in $(seq 0 $((n - 1))); do
          t=${tools[$(((i + r - 1) % n))]}
          res=$WORK/results/$w/$c/$t
          mkdir -p "$(dirname "$res")"
          reason=$(w_na "$c" "$t" || true)
          if [[ -n $reason ]]; then echo "$reason" >"$res.na"; continue; fi
          w_prepare "$c" "$t" "$r" >>"$res.prepare.log" 2>&1 || { echo "bench: $w $c $t: prepare failed (see log)" >&2; tail -5 "$res.prepare.log" >&2; continue; }
          sync
          CMD=()
          w_cmd "$c" "$t" "$r"
          daemon=()
          [[ $t == docker && -n $DOCKERD_PID ]] && daemon=(--daemon-pid "$DOCKERD_PID")
          if ! python3 "$BENCH/measure.py" "${daemon[@]}" "$res.tsv" -- "${CMD[@]}"; then
            echo "bench: $w $c $t run $r failed: ${CMD[*]}" >&2; tail -5 "$res.tsv.log" >&2
          fi
          printf 'bench: %s %-14s %-9s run %d: %s\n' "$w" "$c" "$t" "$r" "$(tail -1 "$res.tsv" | awk '{printf "%.3fs", $1}')" >&2
        done
      done
    done
    declare -F w_cleanup >/dev/null && w_cleanup || true
  ) || { echo "bench: $w stopped (exit $?): the report lists it as failed" >&2; echo "$w" >>"$WORK/results/failed"; }
  # Each workload makes its own images: what it leaves (earlier runs' untagged images, the
  # build cache, the peers' w<n>- images) goes before the next one, or the scratch store of
  # a full run grows past 20 GiB (W3, W4, W6 and W7 each add GiBs per run).
  "$IB" --root "$IB_STORE" prune -f >/dev/null 2>&1 || echo "bench: prune of the imgbuild store after $w failed" >&2
  remove_peer_images
done

host=$(hostname -s)
[[ -n $OUT ]] || OUT=$BENCH/results/$(date -u +%Y-%m-%d)-$host.md
mkdir -p "$(dirname "$OUT")"
python3 "$BENCH/report.py" "$WORK/results" "$BENCH/workloads" --runs "$RUNS" --note "$NOTE" --imgbuild "$IB" >"$OUT"
echo "bench: wrote $OUT" >&2
