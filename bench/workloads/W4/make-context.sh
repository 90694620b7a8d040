#!/usr/bin/env bash
# The W4 context: 1 GiB in 20000 files (53687 bytes: half random, half zeros) in 200
# directories, and the Dockerfile. Usage: make-context.sh DIR
set -euo pipefail
python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
size, n, per_dir = 53687, 20000, 100
half = size // 2
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // per_dir))
    if i % per_dir == 0: os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(os.urandom(half)); f.write(bytes(size - half))
PY
cp "$(dirname "$0")/Dockerfile" "$1/Dockerfile"
