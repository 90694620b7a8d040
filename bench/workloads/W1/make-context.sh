#!/usr/bin/env bash
# The W1 context: samples/helloworld (app.sh, README.md) and this Dockerfile.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
cp "$here/../../../samples/helloworld/app.sh" "$here/../../../samples/helloworld/README.md" "$here/Dockerfile" "$1/"
