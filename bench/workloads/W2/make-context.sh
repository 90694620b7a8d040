#!/usr/bin/env bash
# The W2 context: empty but for a marker file (the steps use nothing from it).
set -euo pipefail
mkdir -p "$1" && echo w2 >"$1/marker"
