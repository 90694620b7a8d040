#!/usr/bin/env bash
# The W6 context: empty (the RUN makes the data).
set -euo pipefail
mkdir -p "$1" && echo w6 >"$1/marker"
