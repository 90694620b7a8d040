#!/usr/bin/env bash
# The W10 context: N small files (default 100000; BENCH_W10_FILES) in directories of 1000,
# and the Dockerfile. Usage: make-context.sh DIR [N]
set -euo pipefail
python3 - "$1" "${2:-${BENCH_W10_FILES:-100000}}" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0: os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("x%d\n" % i)
PY
cp "$(dirname "$0")/Dockerfile" "$1/Dockerfile"
