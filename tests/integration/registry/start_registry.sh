# Sourced by integration scripts (after lib.sh) that need a real registry on 127.0.0.1:
# Debian's docker-registry (the distribution registry), its data and config in TEST_TMP,
# killed at exit.

# free_port: a TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_http URL [CURL_ARGS...]: until something answers there (at most 10 s).
wait_http() {
  local i url=$1
  shift
  for i in $(seq 100); do curl -sk -o /dev/null "$@" "$url" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2
  return 1
}

# start_registry NAME PORT EXTRA_YAML: docker-registry with filesystem storage in a temp dir;
# its access log in $TEST_TMP/NAME.log.
start_registry() {
  local name=$1 port=$2 extra=$3 dir=$TEST_TMP/$1
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<Y
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$extra
Y
  # (REGISTRY_* variables are docker-registry's own settings: none of ours may leak in)
  env -u REGISTRY_AUTH_FILE docker-registry serve "$dir/config.yml" >"$TEST_TMP/$name.log" 2>&1 &
  at_exit kill $!
}

# start_one_registry NAME: for a script that needs root and one plain-http registry: exits 77
# ("skipped: ...") without them or the tools, keeps the user's registry settings and proxies
# out, starts NAME and waits for it. Sets reg=127.0.0.1:PORT.
start_one_registry() {
  local t
  [[ $(id -u) == 0 ]] || { echo "skipped: needs root (RUN steps use namespaces and overlayfs)"; exit 77; }
  command -v docker-registry >/dev/null || { echo "skipped: no docker-registry (apt-get install docker-registry)"; exit 77; }
  for t in python3 curl jq; do command -v $t >/dev/null || { echo "skipped: no $t (scripts/install-deps.sh --test)"; exit 77; }; done
  unset REGISTRY_AUTH_FILE http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export DOCKER_CONFIG=$TEST_TMP/docker-config IMGBUILD_REGISTRIES_CONF=$TEST_TMP/none.json IMGBUILD_RETRY=3,100
  local port
  port=$(free_port) && reg=127.0.0.1:$port
  start_registry "$1" "$port" ""
  wait_http "http://$reg/v2/" || { fail "the registry starts" "$(tail -n 5 "$TEST_TMP/$1.log")"; finish; }
}
