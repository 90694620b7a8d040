#!/usr/bin/env bash
# The W9 context: empty.
set -euo pipefail
mkdir -p "$1" && echo w9 >"$1/marker"
