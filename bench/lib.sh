# Helpers for bench/run.sh and the workloads (sourced). A workload is a folder
# bench/workloads/W<n>/ with a Dockerfile (or several), make-context.sh DIR (makes its build
# context) and workload.sh, which defines:
#   w_setup                 once, untimed: contexts, base images, per-tool Dockerfiles
#   w_cases                 prints "CASE TOOL" lines (TOOL: imgbuild buildah podman docker skopeo)
#   w_na CASE TOOL          prints a reason when TOOL cannot do CASE (the table says n/a)
#   w_prepare CASE TOOL R   untimed, before run R: puts the cache state the case defines
#   w_cmd CASE TOOL R       sets CMD=(argv...) to the timed command (run by bench/measure.py)
# The harness owns: $IB (imgbuild), $IB_STORE, $WORK (scratch), $BENCH (bench/), $SRC (repo).

ib() { "$IB" --root "$IB_STORE" "$@"; }
docker_() { env DOCKER_BUILDKIT=0 docker "$@"; }

# The Dockerfile of a workload for one tool: buildah and podman name a loaded image
# localhost/NAME, so their FROM lines say so.
tool_dockerfile() {  # tool_dockerfile SRC_DOCKERFILE TOOL -> path
  local src=$1 tool=$2 out
  out=$WORK/dockerfiles/$(basename "$(dirname "$src")")-$(basename "$src").$tool
  mkdir -p "$WORK/dockerfiles"
  case $tool in
    buildah | podman) sed -E 's#^(FROM[[:space:]]+)(busybox|bench-[a-z0-9-]+|w[0-9]+-[a-z0-9-]+):latest#\1localhost/\2:latest#I' "$src" >"$out" ;;
    *) cp "$src" "$out" ;;
  esac
  echo "$out"
}

# The argv of one build with a tool, in CMD:
#   tool_build_cmd TOOL DOCKERFILE CONTEXT TAG [--no-cache] [--network=host]
tool_build_cmd() {
  local tool=$1 df=$2 ctx=$3 tag=$4
  shift 4
  local -a extra=()
  local a
  for a in "$@"; do
    case $tool:$a in
      imgbuild:--network=host) extra+=(--network host --allow network.host) ;;
      *) extra+=("$a") ;;
    esac
  done
  case $tool in
    imgbuild) CMD=("$IB" --root "$IB_STORE" build -q "${extra[@]}" -t "$tag" -f "$(tool_dockerfile "$df" imgbuild)" "$ctx") ;;
    buildah) CMD=(buildah bud -q --layers "${extra[@]}" -t "$tag" -f "$(tool_dockerfile "$df" buildah)" "$ctx") ;;
    podman) CMD=(podman build -q --layers "${extra[@]}" -t "$tag" -f "$(tool_dockerfile "$df" podman)" "$ctx") ;;
    docker) CMD=(env DOCKER_BUILDKIT=0 docker build -q "${extra[@]}" -t "$tag" -f "$(tool_dockerfile "$df" docker)" "$ctx") ;;
    *) echo "tool_build_cmd: unknown tool $tool" >&2; return 2 ;;
  esac
}
# The same build, run now (for w_setup and w_prepare).
tool_build() { tool_build_cmd "$@" && "${CMD[@]}" >/dev/null; }

# Puts an image made by imgbuild into the peers' stores under the same name (docker-archive).
share_image() {  # share_image NAME
  local name=$1 tar=$WORK/share-${1//[:\/]/_}.tar
  ib save --format docker -o "$tar" "$name"
  # skopeo copies from containers-storage too (the store podman loads into)
  if tool_enabled podman || tool_enabled buildah || tool_enabled skopeo; then podman load -q -i "$tar" >/dev/null; fi
  if tool_enabled docker; then docker load -q -i "$tar" >/dev/null; fi
  rm -f "$tar"
}

tool_enabled() { [[ ",$TOOLS," == *",$1,"* ]]; }

# The same cases for the four builders.
builder_cases() {  # builder_cases CASE...
  local c t
  for c in "$@"; do for t in imgbuild buildah podman docker; do echo "$c $t"; done; done
}

# The usual case pair: "cold" builds with --no-cache, any other case uses the cache.
#   case_build_cmd CASE TOOL DOCKERFILE CONTEXT TAG [more build options]
case_build_cmd() {
  local c=$1
  shift
  local -a f=()
  [[ $c == cold ]] && f=(--no-cache)
  tool_build_cmd "$1" "$2" "$3" "$4" "${@:5}" "${f[@]}"
}
# "cached": one build first, so that the timed one finds every step in the cache.
#   cached_prepare CASE TOOL DOCKERFILE CONTEXT TAG
cached_prepare() {
  [[ $1 == cached ]] && tool_build "$2" "$3" "$4" "$5"
  return 0
}

# The images the workloads made in the peers' stores (tags w<n>-..., bench-debian) and the
# untagged layers their builds left: a full run leaves tens of GiB otherwise.
remove_peer_images() {
  local re='^(localhost/)?(w[0-9]+-[a-z0-9-]+|bench-debian|127\.0\.0\.1:[0-9]+/w6):'
  if tool_enabled podman || tool_enabled buildah || tool_enabled skopeo; then
    podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -E "$re" | xargs -r podman rmi -f >/dev/null 2>&1 || true  # (grep finds none: not a failure)
    podman image prune -f >/dev/null 2>&1
  fi
  if tool_enabled docker; then
    docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -E "$re" | xargs -r docker rmi -f >/dev/null 2>&1 || true
    docker image prune -f >/dev/null 2>&1
  fi
  return 0
}
