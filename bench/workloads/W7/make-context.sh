#!/usr/bin/env bash
# The W7 context: empty.
set -euo pipefail
mkdir -p "$1" && echo w7 >"$1/marker"
