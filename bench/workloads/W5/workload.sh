# title: run --rm IMAGE true (container start and tear-down)
# case run: `run --rm busybox true`, no network (--network none)
w_setup() { :; }
w_cases() { printf 'run %s\n' imgbuild podman docker buildah; }
w_na() { [[ $2 == buildah ]] && echo "buildah runs only in a working container (buildah from + run), not an image"; return 0; }
w_prepare() { :; }
w_cmd() {
  case $2 in
    imgbuild) CMD=("$IB" --root "$IB_STORE" run --rm --network none busybox:latest true) ;;
    podman) CMD=(podman run --rm --network none localhost/busybox:latest true) ;;
    docker) CMD=(docker run --rm --network none busybox:latest true) ;;
  esac
}
