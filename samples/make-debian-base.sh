#!/usr/bin/env bash
# Makes debian:bookworm from Debian's archive with mmdebstrap (minbase variant) and imports it.
# Usage: samples/make-debian-base.sh IMGBUILD [NAME] [imgbuild global options...]
set -euo pipefail
imgbuild=${1:?usage: make-debian-base.sh IMGBUILD [NAME] [options]}
name=${2:-debian:bookworm}
shift $(( $# >= 2 ? 2 : 1 ))
command -v mmdebstrap >/dev/null || { echo "make-debian-base: mmdebstrap not found (apt-get install mmdebstrap)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase bookworm "$work/rootfs.tar"
"$imgbuild" "$@" import "$work/rootfs.tar" "$name"
