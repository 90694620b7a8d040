#!/usr/bin/env bash
# Peak RSS of a build whose context has N small files (COPY . /ctx), cold and fully cached.
# A measurement (issue 11, finding 11), not a test:
#   bash bench/context_memory.sh build/cli/imgbuild [N=1000000]
# The context is made in a tmpfs-backed dir under /dev/shm by a python script (fast).
set -euo pipefail
IMGBUILD=$(realpath "$1"); N=${2:-1000000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /dev/shm/imgbuild-ctxmem.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK/ctx" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per_dir = 1000
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // per_dir))
    if i % per_dir == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("x%d\n" % i)
with open(os.path.join(root, "Dockerfile"), "w") as f:
    f.write("FROM busybox\nCOPY . /ctx\n")
PY
bash "$SRC/samples/make-busybox-base.sh" "$IMGBUILD" busybox:latest --root "$WORK/store" >/dev/null
peak() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }'; }
echo "files: $N"
echo "cold build:     $(peak "$IMGBUILD" --root "$WORK/store" build -q -t ctxmem "$WORK/ctx")"
echo "cached rebuild: $(peak "$IMGBUILD" --root "$WORK/store" build -q -t ctxmem "$WORK/ctx")"
