# title: save, push and pull of a 768 MiB / 10k files image
# case save-gzip: to an OCI archive, gzip, nothing compressed yet (imgbuild: a fresh build; skopeo copy from containers-storage)
# case save-zstd: the same with zstd
# case push: to an empty local docker-registry (imgbuild: nothing compressed yet)
# case pull: from the local registry into an empty store
# The peers get imgbuild's image (docker-archive, loaded), so the bytes are the same.
W6_REG=""
w6_start_registry() {
  [[ -f $WORK/pids/w6-registry ]] && { kill "$(cat "$WORK/pids/w6-registry")" 2>/dev/null || true; sleep 0.2; }
  rm -rf "$WORK/w6-registry" && mkdir -p "$WORK/w6-registry/data"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$WORK/w6-registry/data" "$port" >"$WORK/w6-registry/config.yml"
  setsid docker-registry serve "$WORK/w6-registry/config.yml" >"$WORK/w6-registry/log" 2>&1 </dev/null &
  echo $! >"$WORK/pids/w6-registry"
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
  echo "127.0.0.1:$port" >"$WORK/w6-registry/addr"
}
w6_reg() { cat "$WORK/w6-registry/addr"; }
w_setup() {
  bash "$WDIR/make-context.sh" "$WORK/w6"
  tool_build imgbuild "$WDIR/Dockerfile" "$WORK/w6" w6-big:latest --no-cache
  share_image w6-big:latest
  w6_start_registry
}
w_cases() {
  printf '%s\n' "save-gzip imgbuild" "save-gzip skopeo" "save-zstd imgbuild" "save-zstd skopeo" \
    "push imgbuild" "push skopeo" "push podman" "push docker" "pull imgbuild" "pull podman" "pull docker"
}
w_na() { :; }
w_prepare() {
  rm -f "$WORK/w6-out.tar"
  case $1:$2 in
    save-*:imgbuild | push:imgbuild) tool_build imgbuild "$WDIR/Dockerfile" "$WORK/w6" w6-big:latest --no-cache ;;
  esac
  case $1 in
    push) w6_start_registry
      [[ $2 == docker ]] && docker tag w6-big:latest "$(w6_reg)/w6:docker" ;;
    pull)
      curl -sf -o /dev/null "http://$(w6_reg)/v2/w6/manifests/pull" -H 'Accept: application/vnd.oci.image.manifest.v1+json' ||
        ib push w6-big:latest "$(w6_reg)/w6:pull"
      case $2 in
        imgbuild) rm -rf "$WORK/w6-pull-store" ;;
        podman) rm -rf "$WORK/w6-podman-root" "$WORK/w6-podman-run" ;;
        docker) docker rmi -f "$(w6_reg)/w6:pull" >/dev/null 2>&1 || true ;;
      esac ;;
  esac
  return 0
}
w_cmd() {
  local reg
  reg=$(w6_reg)
  case $1:$2 in
    save-gzip:imgbuild) CMD=("$IB" --root "$IB_STORE" save -o "$WORK/w6-out.tar" w6-big:latest) ;;
    save-zstd:imgbuild) CMD=("$IB" --root "$IB_STORE" save --compression zstd -o "$WORK/w6-out.tar" w6-big:latest) ;;
    save-gzip:skopeo) CMD=(skopeo copy -q containers-storage:localhost/w6-big:latest "oci-archive:$WORK/w6-out.tar") ;;
    save-zstd:skopeo) CMD=(skopeo copy -q --dest-compress-format zstd containers-storage:localhost/w6-big:latest "oci-archive:$WORK/w6-out.tar") ;;
    push:imgbuild) CMD=("$IB" --root "$IB_STORE" push --progress plain w6-big:latest "$reg/w6:imgbuild") ;;
    push:skopeo) CMD=(skopeo copy -q --dest-tls-verify=false containers-storage:localhost/w6-big:latest "docker://$reg/w6:skopeo") ;;
    push:podman) CMD=(podman push -q --tls-verify=false localhost/w6-big:latest "$reg/w6:podman") ;;
    push:docker) CMD=(docker push -q "$reg/w6:docker") ;;
    pull:imgbuild) CMD=("$IB" --root "$WORK/w6-pull-store" pull --progress plain "$reg/w6:pull") ;;
    pull:podman) CMD=(podman --root "$WORK/w6-podman-root" --runroot "$WORK/w6-podman-run" pull -q --tls-verify=false "$reg/w6:pull") ;;
    pull:docker) CMD=(docker pull -q "$reg/w6:pull") ;;
  esac
}
w_cleanup() { kill "$(cat "$WORK/pids/w6-registry")" 2>/dev/null || true; }
