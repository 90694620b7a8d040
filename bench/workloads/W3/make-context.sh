#!/usr/bin/env bash
# The W3 context: empty (the RUN makes the data).
set -euo pipefail
mkdir -p "$1" && echo w3 >"$1/marker"
