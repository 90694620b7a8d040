#!/usr/bin/env bash
# Installs what building and testing imgbuild needs on Debian 12 (as root), if missing.
# Usage: scripts/install-deps.sh [--test]   (--test adds the peer tools and fuzzing toolchain)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libarchive-dev libssl-dev nlohmann-json3-dev libcli11-dev
      doctest-dev libcurl4-openssl-dev libseccomp-dev libzstd-dev libdeflate-dev zlib1g-dev busybox-static
      liblzma-dev libbz2-dev  # libarchive.a is linked with its xz and bzip2 filters (cmake/libraries.cmake)
      slirp4netns)  # slirp4netns: the private network of RUN steps and `run` (runtime/network_private.h)
[[ "${1:-}" == --test ]] && pkgs+=(clang libclang-rt-14-dev mmdebstrap file attr libcap2-bin python3 python3-yaml jq
                                  gcc-multilib  # gcc-multilib: escape.sh checks the i386 socketcall path
                                  docker-registry apache2-utils openssl curl time  # registry.sh
                                  openssh-client)  # run_mounts.sh: ssh-agent, ssh-add, ssh-keygen
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ "${1:-}" == --test ]]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  peers=${IMGBUILD_PEERS_SETUP:-$here/../shared/peers/setup.sh}
  [[ -f $peers ]] || { echo "install-deps: $peers not found (shared/ must sit beside the checkout)" >&2; exit 1; }
  bash "$peers"
fi
