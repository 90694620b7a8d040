#!/usr/bin/env bash
# The registry client against real registries on 127.0.0.1, started here: Debian's
# docker-registry (the distribution registry) over plain http, over TLS with a CA made by
# openssl now (trusted through certs.d, refused without it), with htpasswd basic auth, and with
# Bearer tokens from tests/integration/registry/token_server.py; a fault proxy
# (tests/integration/registry/fault_proxy.py) in front of one. Peers read what we push
# (skopeo inspect, podman pull + run) and we read what they push (skopeo copy).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

skip() { echo "skipped: $1"; exit 77; }
# IMGBUILD_ROOTLESS=1 (tests/integration/rootless.sh): as an unprivileged user, which starts
# the registries itself (127.0.0.1, high ports, configs and certs in TEST_TMP); only the
# /etc/docker/certs.d check needs root and is skipped.
[[ $(id -u) == 0 || ${IMGBUILD_ROOTLESS:-0} == 1 ]] || skip "registry.sh needs root (build and run use namespaces and overlayfs)"
command -v docker-registry >/dev/null || skip "no docker-registry (apt-get install docker-registry, or ../shared/peers/setup.sh)"
for t in htpasswd openssl python3 curl jq; do command -v $t >/dev/null || skip "no $t (scripts/install-deps.sh --test)"; done
require_tools skopeo podman

helpers=$IMGBUILD_SOURCE_DIR/tests/integration/registry
store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
# (not REGISTRY_AUTH_FILE, not even empty: docker-registry reads REGISTRY_* as its own settings)
unset REGISTRY_AUTH_FILE
export DOCKER_CONFIG=$TEST_TMP/docker-config XDG_RUNTIME_DIR=$TEST_TMP/xdg
export IMGBUILD_CERTS_DIRS=$TEST_TMP/certs.d IMGBUILD_REGISTRIES_CONF=$TEST_TMP/none.json IMGBUILD_RETRY=5,100
mkdir -p "$XDG_RUNTIME_DIR" "$IMGBUILD_CERTS_DIRS"
[[ $(id -u) == 0 ]] || at_exit kill_rootless_pauses "$XDG_RUNTIME_DIR"  # (runs last: the removes below need them)
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

source "$helpers/start_registry.sh"  # free_port, wait_http, start_registry
start_bg() { "$@" & at_exit kill $!; }

# ---- the registries
plain=$(free_port) && plain_host=127.0.0.1:$plain
start_registry plain "$plain" ""

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=imgbuild-test-ca -keyout "$TEST_TMP/ca.key" -out "$TEST_TMP/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$TEST_TMP/server.key" -out "$TEST_TMP/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$TEST_TMP/san.ext"
openssl x509 -req -in "$TEST_TMP/server.csr" -CA "$TEST_TMP/ca.crt" -CAkey "$TEST_TMP/ca.key" -CAcreateserial -days 2 \
  -extfile "$TEST_TMP/san.ext" -out "$TEST_TMP/server.crt" 2>/dev/null
tls=$(free_port) && tls_host=127.0.0.1:$tls
start_registry tls "$tls" "  tls:
    certificate: $TEST_TMP/server.crt
    key: $TEST_TMP/server.key"

# TLS with client certificates (certs.d client.cert/client.key), signed by the same CA
openssl req -newkey rsa:2048 -nodes -subj /CN=imgbuild-client -keyout "$TEST_TMP/client.key" -out "$TEST_TMP/client.csr" 2>/dev/null
openssl x509 -req -in "$TEST_TMP/client.csr" -CA "$TEST_TMP/ca.crt" -CAkey "$TEST_TMP/ca.key" -CAcreateserial -days 2 \
  -out "$TEST_TMP/client.cert" 2>/dev/null
mtls=$(free_port) && mtls_host=127.0.0.1:$mtls
start_registry mtls "$mtls" "  tls:
    certificate: $TEST_TMP/server.crt
    key: $TEST_TMP/server.key
    clientcas:
      - $TEST_TMP/ca.crt"

htpasswd -Bbc "$TEST_TMP/htpasswd" alice s3cret 2>/dev/null
basic=$(free_port) && basic_host=127.0.0.1:$basic
start_registry basic "$basic" "auth:
  htpasswd:
    realm: basic-realm
    path: $TEST_TMP/htpasswd"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=token-signer -keyout "$TEST_TMP/token.key" -out "$TEST_TMP/token.crt" 2>/dev/null
tokport=$(free_port) && bearer=$(free_port) && bearer_host=127.0.0.1:$bearer
start_bg python3 "$helpers/token_server.py" --port "$tokport" --key "$TEST_TMP/token.key" --cert "$TEST_TMP/token.crt" \
  --issuer imgbuild-test --user bob:t0ken --log "$TEST_TMP/token.log"
start_registry bearer "$bearer" "auth:
  token:
    realm: http://127.0.0.1:$tokport/token
    service: test-registry
    issuer: imgbuild-test
    rootcertbundle: $TEST_TMP/token.crt"

wait_http "https://$mtls_host/v2/" --cert "$TEST_TMP/client.cert" --key "$TEST_TMP/client.key" ||
  { fail "the client-certificate registry starts" "$(tail -n 5 "$TEST_TMP/mtls.log")"; finish; }
for u in "http://$plain_host/v2/" "https://$tls_host/v2/" "http://$basic_host/v2/" "http://$bearer_host/v2/" "http://127.0.0.1:$tokport/token"; do
  wait_http "$u" || { fail "registries start" "$(tail -n 5 "$TEST_TMP"/*.log)"; finish; }
done
pass "five registries and a token server are up"

# ---- push helloworld; peers read it
check "busybox base" make_busybox_base "$store"
check "build helloworld" ib build -q -t helloworld "$IMGBUILD_SOURCE_DIR/samples/helloworld"
check "tag for the registry" ib tag helloworld "$plain_host/app:v1"
check "push to a plain http loopback registry" ib push --progress plain --digestfile "$TEST_TMP/app.digest" "$plain_host/app:v1"
expect_match "one line per blob with bytes and rate" '^[0-9a-f]{12}: Pushed [0-9.]+[kM]?B/[0-9.]+[kM]?B in [0-9.]+s \(' "$ERR"
pushed=$(cat "$TEST_TMP/app.digest" 2>/dev/null)
expect_match "the summary names the digest" "^v1: digest: $pushed size: [0-9]+$" "$OUT"
run skopeo inspect --tls-verify=false "docker://$plain_host/app:v1"
expect_eq "skopeo inspect sees our manifest" "$pushed" "$(jq -r .Digest <<<"$OUT")"
run skopeo inspect --tls-verify=false --config "docker://$plain_host/app:v1"
expect_eq "skopeo reads our config" '["/app/app.sh"]' "$(jq -c .config.Cmd <<<"$OUT")"
run skopeo inspect --tls-verify=false --raw "docker://$plain_host/app:v1"
expect_eq "layers are gzip-compressed OCI layers" "application/vnd.oci.image.layer.v1.tar+gzip" "$(jq -r '.layers | map(.mediaType) | unique | .[]' <<<"$OUT")"

# ---- pull into a fresh store, run it; the same digest comes back
store2=$(new_store)
ib2() { "$IMGBUILD" --root "$store2" "$@"; }
check "pull into a fresh store" ib2 pull --progress plain "$plain_host/app:v1"
expect_match "pull names the digest it got" "^Digest: $pushed$" "$OUT"
expect_eq "pulled back byte-identical (same manifest digest)" "$pushed" "$(ib2 inspect --format '{{.Digest}}' "$plain_host/app:v1")"
run ib2 run --rm "$plain_host/app:v1"
expect_match "the pulled image runs" "^Hello World!$" "$OUT"
check "fsck after the pull" ib2 fsck
log_before=$(wc -l <"$TEST_TMP/plain.log")
check "pull again" ib2 pull "$plain_host/app:v1"
expect_match "a second pull is up to date" "Status: Image is up to date" "$OUT"
expect_no_match "a second pull fetches no blob" 'GET /v2/app/blobs/' "$(tail -n +"$((log_before + 1))" "$TEST_TMP/plain.log")"

# ---- a second push uploads nothing; a push to another repository mounts
log_before=$(wc -l <"$TEST_TMP/plain.log")
check "push again" ib push --digestfile "$TEST_TMP/app2.digest" "$plain_host/app:v1"
new=$(tail -n +"$((log_before + 1))" "$TEST_TMP/plain.log")
expect_no_match "a second push uploads no blob" '"(PATCH|PUT) /v2/app/blobs/uploads|"POST /v2/app/blobs/uploads' "$new"
expect_eq "the second push gives the same digest" "$pushed" "$(cat "$TEST_TMP/app2.digest")"
log_before=$(wc -l <"$TEST_TMP/plain.log")
check "push to another repository of the registry" ib push --progress plain "$plain_host/app:v1" "$plain_host/team/other:v1"
expect_match "blobs are mounted from the first repository" "Mounted from app" "$ERR"
new=$(tail -n +"$((log_before + 1))" "$TEST_TMP/plain.log")
expect_match "the registry saw a cross-repository mount" '"POST /v2/team/other/blobs/uploads/\?mount=sha256%3A[0-9a-f]+&from=app HTTP/1.1" 201' "$new"
expect_no_match "and no upload" '"(PATCH|PUT) /v2/team/other/blobs/uploads' "$new"

# ---- FROM a registry image
store3=$(new_store)
ib3() { "$IMGBUILD" --root "$store3" "$@"; }
ctx=$TEST_TMP/from-ctx && mkdir -p "$ctx"
printf 'FROM %s/app:v1\nRUN echo derived > /derived\nCMD ["cat", "/derived"]\n' "$plain_host" >"$ctx/Dockerfile"
check_exit "FROM a missing image with --pull=never fails" 1 ib3 build --pull=never -t derived "$ctx"
expect_match "and says so" "image not found in the local store" "$ERR"
check "FROM a registry image pulls it (--pull=missing is the default)" ib3 build --progress plain -t derived "$ctx"
run ib3 run --rm derived
expect_eq "the derived image runs" "derived" "$OUT"
printf 'FROM %s/app@%s\nCMD ["cat", "/app/data/build-info"]\n' "$plain_host" "$pushed" >"$ctx/Dockerfile"
check "FROM name@sha256: pins the image" ib3 build -t pinned "$ctx"
store13=$(new_store)
check "a store with only busybox" make_busybox_base "$store13"
printf 'FROM busybox:latest\nCOPY --from=%s/team/other:v1 /app/app.sh /copied.sh\n' "$plain_host" >"$TEST_TMP/copy-from.Dockerfile"
check "COPY --from=a registry image pulls it" "$IMGBUILD" --root "$store13" build -q -t copied -f "$TEST_TMP/copy-from.Dockerfile" "$ctx"
run "$IMGBUILD" --root "$store13" run --rm copied cat /copied.sh
expect_match "the file came from the pulled image" "Hello" "$OUT"
check_exit "--pull with an unknown policy is a usage error" 2 ib3 build --pull=sometimes "$ctx"
check "build --push" ib3 build --push -t "$plain_host/pinned:v2" "$ctx"
run skopeo inspect --tls-verify=false "docker://$plain_host/pinned:v2"
expect_eq "build --push: the registry has the image" "0" "$?"

# ---- zstd, JSON progress
ctx2=$TEST_TMP/z-ctx && mkdir -p "$ctx2"
printf 'FROM busybox:latest\nRUN echo zstd > /z\n' >"$ctx2/Dockerfile"
check "build an image for zstd" ib build -q -t "$plain_host/zapp:v1" "$ctx2"
check "push --compression zstd --progress json" ib push --compression zstd --progress json "$plain_host/zapp:v1"
events=$ERR summary=$OUT
expect_true "JSON progress events parse" jq -e 'select(.event == "done") | .digest' <<<"$events"
expect_true "the summary event has the digest" jq -e 'select(.event == "summary") | .digest | startswith("sha256:")' <<<"$summary"
run skopeo inspect --tls-verify=false --raw "docker://$plain_host/zapp:v1"
expect_eq "the new layer is zstd" "application/vnd.oci.image.layer.v1.tar+zstd" "$(jq -r '.layers[-1].mediaType' <<<"$OUT")"
check "a zstd image pulls" ib2 pull "$plain_host/zapp:v1"
run ib2 run --rm "$plain_host/zapp:v1" cat /z
expect_eq "and runs" "zstd" "$OUT"

# ---- a large layer goes up in PATCH chunks (above 32 MiB), and comes back whole
printf 'FROM busybox:latest\nRUN dd if=/dev/urandom of=/big bs=1048576 count=40 2>/dev/null && sha256sum /big > /big.sum\n' >"$ctx2/Dockerfile"
check "build an image with a 40 MiB layer" ib build -q -t "$plain_host/large:v1" "$ctx2"
log_before=$(wc -l <"$TEST_TMP/plain.log")
check "push it" ib push "$plain_host/large:v1"
new=$(tail -n +"$((log_before + 1))" "$TEST_TMP/plain.log")
expect_match "the large layer went up in a PATCH chunk" '"PATCH /v2/large/blobs/uploads/[^ ]+ HTTP/1.1" 202' "$new"
expect_match "and was closed by a PUT with its digest" '"PUT /v2/large/blobs/uploads/[^ ]+digest=sha256%3A[0-9a-f]+ HTTP/1.1" 201' "$new"
check "pull the large image" ib2 pull "$plain_host/large:v1"
check "its file is whole" ib2 run --rm "$plain_host/large:v1" sha256sum -c /big.sum

# ---- a loaded docker-archive (plain tar layers) goes up compressed
check "save helloworld as a docker-archive" ib save --format docker -o "$TEST_TMP/hw-docker.tar" helloworld
store14=$(new_store)
check "load it into a fresh store" "$IMGBUILD" --root "$store14" load -i "$TEST_TMP/hw-docker.tar"
check "push the loaded image" "$IMGBUILD" --root "$store14" push helloworld "$plain_host/loaded:v1"
run skopeo inspect --tls-verify=false --raw "docker://$plain_host/loaded:v1"
expect_eq "its plain tar layers were compressed for the registry" "application/vnd.oci.image.layer.v1.tar+gzip" "$(jq -r '.layers | map(.mediaType) | unique | .[]' <<<"$OUT")"
check "it pulls back" ib2 pull "$plain_host/loaded:v1"
run ib2 run --rm "$plain_host/loaded:v1"
expect_match "and runs" "^Hello World!$" "$OUT"

# ---- an index: the platform's image is chosen
check "push app as multi:amd64" ib push "$plain_host/app:v1" "$plain_host/multi:amd64"
check "push busybox as multi:arm64" ib push --digestfile "$TEST_TMP/bb.digest" busybox:latest "$plain_host/multi:arm64"
bb=$(cat "$TEST_TMP/bb.digest")
size_of() { curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$plain_host/v2/multi/manifests/$1" | wc -c; }
index=$(jq -cn --arg a "$pushed" --argjson asz "$(size_of "$pushed")" --arg b "$bb" --argjson bs "$(size_of "$bb")" \
  '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bs, platform: {os: "linux", architecture: "arm64", variant: "v8"}},
    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz, platform: {os: "linux", architecture: "amd64"}}]}')
check "put an OCI index" curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary "$index" "http://$plain_host/v2/multi/manifests/all"
store4=$(new_store)
check "pull an index" "$IMGBUILD" --root "$store4" pull "$plain_host/multi:all"
expect_eq "linux/amd64 is chosen by default" "$pushed" "$("$IMGBUILD" --root "$store4" inspect --format '{{.Digest}}' "$plain_host/multi:all")"
check "pull --platform linux/arm64" "$IMGBUILD" --root "$store4" pull --platform linux/arm64 "$plain_host/multi:all"
expect_eq "--platform picks the arm64 entry" "$bb" "$("$IMGBUILD" --root "$store4" inspect --format '{{.Digest}}' "$plain_host/multi:all")"
check_exit "a platform the index lacks" 1 "$IMGBUILD" --root "$store4" pull --platform linux/s390x "$plain_host/multi:all"
expect_match "is a clear error listing what it has" "no image for linux/s390x in the index \(it has linux/arm64/v8, linux/amd64\)" "$ERR"

# ---- references
check_exit "an invalid reference is a usage error" 2 ib pull "$plain_host/Bad/Name:v1"
expect_match "that names it and says why" "invalid reference \"$plain_host/Bad/Name:v1\": repository name must be lowercase" "$ERR"
check_exit "a missing tag" 1 ib pull "$plain_host/app:nope"
expect_match "is a clear 404" "pull $plain_host/app:nope: manifest nope: 404 Not Found: MANIFEST_UNKNOWN" "$ERR"

# ---- a docker.io mirror (flag and config file)
check "push busybox as the mirror's library/busybox" ib push busybox:latest "$plain_host/library/busybox:latest"
store5=$(new_store)
check "pull busybox through --registry-mirror" "$IMGBUILD" --root "$store5" pull --registry-mirror "http://$plain_host" busybox
expect_match "it is tagged busybox:latest" "^busybox:latest" "$("$IMGBUILD" --root "$store5" images 2>&1 | awk 'NR>1 {print $1":"$2}')"
store6=$(new_store)
printf '{"registry-mirrors": ["http://%s"]}\n' "$plain_host" >"$TEST_TMP/mirrors.json"
printf 'FROM busybox\nRUN true\n' >"$ctx2/Dockerfile"
IMGBUILD_REGISTRIES_CONF=$TEST_TMP/mirrors.json check "FROM busybox pulls through the config file's mirror" "$IMGBUILD" --root "$store6" build -q "$ctx2"

# ---- podman pulls and runs ours; skopeo copy of a podman-built image pulls and runs here
# (podman refuses a runroot longer than 50 characters, which a rootless TEST_TMP under the
# user's home is: a short one in /tmp. Rootless, its vfs store holds subuid-owned files that
# only a remove inside the user namespace can delete.)
podrun=$(mktemp -d /tmp/ibpod.XXXXXX) && at_exit rm -rf "$podrun"
[[ $(id -u) == 0 ]] || at_exit "$IMGBUILD" unshare rm -rf "$TEST_TMP/podman" "$podrun"
pod=(env -u DOCKER_CONFIG podman --root "$TEST_TMP/podman/root" --runroot "$podrun" --storage-driver vfs)
at_exit "${pod[@]}" system reset -f
check "podman pulls our image" "${pod[@]}" pull -q --tls-verify=false "$plain_host/app:v1"
run "${pod[@]}" run --rm --net none "$plain_host/app:v1"
expect_match "podman runs our image" "^Hello World!$" "$OUT"
pctx=$TEST_TMP/podman-ctx && mkdir -p "$pctx"
printf 'FROM %s/app:v1\nRUN echo from podman > /podman.txt\nCMD ["cat", "/podman.txt"]\n' "$plain_host" >"$pctx/Dockerfile"
check "podman builds on it" "${pod[@]}" build -q --network none --tls-verify=false -t localhost/pbuilt:1 "$pctx"
check "podman saves it" "${pod[@]}" save --format docker-archive -o "$TEST_TMP/pbuilt.tar" localhost/pbuilt:1
check "skopeo copy pushes it" skopeo copy -q --dest-tls-verify=false "docker-archive:$TEST_TMP/pbuilt.tar" "docker://$plain_host/pbuilt:1"
run skopeo inspect --tls-verify=false --raw "docker://$plain_host/pbuilt:1"
expect_eq "skopeo pushed a Docker v2s2 manifest" "application/vnd.docker.distribution.manifest.v2+json" "$(jq -r .mediaType <<<"$OUT")"
check "we pull skopeo's push" ib2 pull "$plain_host/pbuilt:1"
run ib2 run --rm "$plain_host/pbuilt:1"
expect_eq "and run it" "from podman" "$OUT"
check "save the pulled v2s2 image as an OCI archive" ib2 save -o "$TEST_TMP/pbuilt-oci.tar" "$plain_host/pbuilt:1"
check "skopeo reads that archive" skopeo inspect "oci-archive:$TEST_TMP/pbuilt-oci.tar"

# ---- TLS: trusted through certs.d, refused without, --tls-verify=false
check "tag for the TLS registry" ib tag helloworld "$tls_host/app:v1"
check_exit "an unknown CA is refused" 1 ib push "$tls_host/app:v1"
expect_match "with the certs.d hint" "TLS certificate not trusted.*certs.d/$tls_host/ca.crt" "$ERR"
mkdir -p "$IMGBUILD_CERTS_DIRS/$tls_host" && cp "$TEST_TMP/ca.crt" "$IMGBUILD_CERTS_DIRS/$tls_host/ca.crt"
check "push over TLS with the CA in certs.d" ib push "$tls_host/app:v1"
rm -rf "${IMGBUILD_CERTS_DIRS:?}/$tls_host"
check "--tls-verify=false pushes without the CA" ib push --tls-verify=false "$tls_host/app:v1"
check "tag for the client-certificate registry" ib tag helloworld "$mtls_host/app:v1"
mkdir -p "$IMGBUILD_CERTS_DIRS/$mtls_host" && cp "$TEST_TMP/ca.crt" "$IMGBUILD_CERTS_DIRS/$mtls_host/ca.crt"
check_exit "a registry that wants a client certificate refuses us without one" 1 ib push "$mtls_host/app:v1"
cp "$TEST_TMP/client.cert" "$TEST_TMP/client.key" "$IMGBUILD_CERTS_DIRS/$mtls_host/"
check "certs.d client.cert/client.key are presented" ib push "$mtls_host/app:v1"
if [[ $(id -u) != 0 ]]; then
  echo "ok - /etc/docker/certs.d is trusted by default # skip rootless (writing /etc needs root)"
elif [[ ! -e /etc/docker/certs.d/$tls_host ]]; then
  mkdir -p "/etc/docker/certs.d/$tls_host" && at_exit rm -rf "/etc/docker/certs.d/$tls_host"
  cp "$TEST_TMP/ca.crt" "/etc/docker/certs.d/$tls_host/ca.crt"
  store7=$(new_store)
  env -u IMGBUILD_CERTS_DIRS "$IMGBUILD" --root "$store7" pull "$tls_host/app:v1" >/dev/null 2>"$TEST_TMP/etc-certs.err"
  expect_eq "/etc/docker/certs.d/<host>/ca.crt is trusted by default" "0" "$?"
  rm -rf "/etc/docker/certs.d/$tls_host"
fi

# ---- basic auth: a clear 401, login/logout in Docker's config.json
check "tag for the basic-auth registry" ib tag helloworld "$basic_host/app:v1"
check_exit "push without login" 1 ib push "$basic_host/app:v1"
expect_match "is a clear 401" "^error: push $basic_host/app:v1: 401 Unauthorized: run imgbuild login $basic_host$|push $basic_host/app:v1: 401 Unauthorized: run imgbuild login $basic_host" "$ERR"
printf 'wrong\n' >"$TEST_TMP/wrong"
run_in "$TEST_TMP/wrong" ib login -u alice --password-stdin "$basic_host"
expect_eq "login with a wrong password exits 1" "1" "$RC"
expect_match "with a clear 401" "login $basic_host: 401 Unauthorized: wrong username or password" "$ERR"
expect_true "and stores nothing" test ! -e "$DOCKER_CONFIG/config.json"
printf 's3cret\n' >"$TEST_TMP/right"
run_in "$TEST_TMP/right" ib login -u alice --password-stdin "$basic_host"
expect_eq "login succeeds" "Login Succeeded" "$OUT"
expect_eq "config.json is mode 0600" "600" "$(stat -c %a "$DOCKER_CONFIG/config.json")"
expect_eq "it holds base64(user:password) under auths" "alice:s3cret" "$(jq -r --arg h "$basic_host" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)"
check "push with the stored credentials" ib push "$basic_host/app:v1"
check "skopeo reads it with the same config.json" skopeo inspect --tls-verify=false --authfile "$DOCKER_CONFIG/config.json" "docker://$basic_host/app:v1"
check "logout" ib logout "$basic_host"
expect_eq "logout removes the entry" "null" "$(jq -c --arg h "$basic_host" '.auths[$h]' "$DOCKER_CONFIG/config.json")"
check_exit "push after logout fails again" 1 ib push "$basic_host/app:v1"
# podman's auth.json is read too
mkdir -p "$XDG_RUNTIME_DIR/containers"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$basic_host" "$(printf alice:s3cret | base64)" >"$XDG_RUNTIME_DIR/containers/auth.json"
check "credentials from \${XDG_RUNTIME_DIR}/containers/auth.json" ib push "$basic_host/app:v1"
rm -f "$XDG_RUNTIME_DIR/containers/auth.json"
# a credential helper (docker-credential-NAME on PATH)
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/docker-credential-testhelper" <<H
#!/bin/sh
case "\$1" in
  get) read -r server; echo "\$server" >>"$TEST_TMP/helper.log"; printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "\$server" ;;
  store) cat >"$TEST_TMP/helper.stored" ;;
  *) cat >/dev/null ;;
esac
H
chmod +x "$TEST_TMP/bin/docker-credential-testhelper"
jq --arg h "$basic_host" '.credHelpers[$h] = "testhelper"' "$DOCKER_CONFIG/config.json" >"$TEST_TMP/c.json" && cp "$TEST_TMP/c.json" "$DOCKER_CONFIG/config.json"
PATH=$TEST_TMP/bin:$PATH check "credHelpers: docker-credential-testhelper supplies the credentials" ib push "$basic_host/app:v1"
expect_match "the helper was asked for this registry" "^$basic_host$" "$(cat "$TEST_TMP/helper.log" 2>/dev/null)"
jq 'del(.credHelpers)' "$DOCKER_CONFIG/config.json" >"$TEST_TMP/c.json" && cp "$TEST_TMP/c.json" "$DOCKER_CONFIG/config.json"
jq '.credsStore = "testhelper"' "$DOCKER_CONFIG/config.json" >"$TEST_TMP/c.json" && cp "$TEST_TMP/c.json" "$DOCKER_CONFIG/config.json"
PATH=$TEST_TMP/bin:$PATH run_in "$TEST_TMP/right" ib login -u alice --password-stdin "$basic_host"
expect_eq "credsStore: login stores through the helper" "alice" "$(jq -r .Username "$TEST_TMP/helper.stored" 2>/dev/null)"
expect_eq "and not in config.json" "null" "$(jq -c --arg h "$basic_host" '.auths[$h]' "$DOCKER_CONFIG/config.json")"
jq 'del(.credsStore)' "$DOCKER_CONFIG/config.json" >"$TEST_TMP/c.json" && cp "$TEST_TMP/c.json" "$DOCKER_CONFIG/config.json"

# ---- Bearer tokens
check "tag for the token registry" ib tag helloworld "$bearer_host/tapp:v1"
check_exit "an anonymous push is refused" 1 ib push "$bearer_host/tapp:v1"
expect_match "with the login hint" "401 Unauthorized: run imgbuild login $bearer_host" "$ERR"
printf 't0ken\n' >"$TEST_TMP/tok"
run_in "$TEST_TMP/tok" ib login -u bob --password-stdin "$bearer_host"
expect_eq "login through the token server" "0" "$RC"
: >"$TEST_TMP/token.log"
check "push with a Bearer token" ib push "$bearer_host/tapp:v1"
expect_eq "one token for the push scope, reused for every blob" "1" \
  "$(jq -r 'select(.scope == ["repository:tapp:pull,push"]) | .who' "$TEST_TMP/token.log" | grep -c bob)"
store8=$(new_store)
ib logout "$bearer_host" >/dev/null
check "an anonymous pull gets an anonymous token" "$IMGBUILD" --root "$store8" pull "$bearer_host/tapp:v1"
expect_match "the token server saw an anonymous pull" '"who": "anonymous"' "$(cat "$TEST_TMP/token.log")"
run "$IMGBUILD" --root "$store8" run --rm "$bearer_host/tapp:v1"
expect_match "the image pulled with a token runs" "^Hello World!$" "$OUT"

# ---- proxies from the environment (HTTP_PROXY, NO_PROXY)
fwd=$(free_port)
start_bg python3 "$helpers/fault_proxy.py" proxy --port "$fwd" --upstream "$plain_host" --log "$TEST_TMP/fwd.log"
wait_http "http://127.0.0.1:$fwd/healthz" || fail "the forward proxy starts"
store12=$(new_store)
HTTP_PROXY=http://127.0.0.1:$fwd NO_PROXY= check "a pull through HTTP_PROXY" \
  "$IMGBUILD" --root "$store12" pull --tls-verify=false proxied.invalid:5000/app:v1
expect_match "the requests went through the proxy" "GET http://proxied.invalid:5000/v2/app/manifests/v1 200" "$(cat "$TEST_TMP/fwd.log")"
HTTP_PROXY=http://127.0.0.1:$fwd NO_PROXY=proxied.invalid IMGBUILD_RETRY=1 check_exit "NO_PROXY bypasses it" 1 \
  "$IMGBUILD" --root "$store12" pull --tls-verify=false proxied.invalid:5000/app:v1
expect_match "(and the name does not resolve)" "resolve" "$ERR"

# ---- the fault proxy: dropped connections, 500 then 200, 429 with Retry-After
proxy=$(free_port) && proxy_host=127.0.0.1:$proxy
start_bg python3 "$helpers/fault_proxy.py" proxy --port "$proxy" --upstream "$plain_host" --log "$TEST_TMP/proxy.log" \
  --fault 'GET /v2/$ 500 1' --fault 'GET /manifests/ 503 1' --fault 'GET /blobs/sha256 drop 2' --fault 'GET /blobs/sha256 429 1' \
  --fault 'PUT /blobs/uploads/ 500 1' --fault 'HEAD /blobs/ 429 1' --fault 'PUT /manifests/ 502 1'
wait_http "http://$proxy_host/healthz" || fail "the fault proxy starts"  # a path no fault matches
store9=$(new_store)
check "a pull through the fault proxy completes after retries" "$IMGBUILD" --root "$store9" pull "$proxy_host/app:v1"
expect_match "the proxy dropped a blob transfer" "GET /v2/app/blobs/sha256:[0-9a-f]+ 200 drop" "$(cat "$TEST_TMP/proxy.log")"
expect_match "the interrupted blob resumed where it stopped (Range: 206)" "GET /v2/app/blobs/sha256:[0-9a-f]+ 206" "$(cat "$TEST_TMP/proxy.log")"
expect_match "and answered 503 and 429" "GET /v2/app/manifests/v1 503 fault" "$(grep -E '503|429' "$TEST_TMP/proxy.log")"
expect_match "the retries are reported" "retrying in" "$ERR"
run "$IMGBUILD" --root "$store9" run --rm "$proxy_host/app:v1"
expect_match "the image pulled through faults runs" "^Hello World!$" "$OUT"
check "fsck after the faults" "$IMGBUILD" --root "$store9" fsck
check "build a new image to push through the proxy" ib build -q -t "$proxy_host/faulty:v1" "$ctx2"
check "a push through the fault proxy completes after retries" ib push "$proxy_host/faulty:v1"
expect_match "the proxy failed an upload and a manifest" "PUT /v2/faulty/manifests/v1 502 fault" "$(cat "$TEST_TMP/proxy.log")"
check "the pushed image is whole" skopeo inspect --tls-verify=false "docker://$plain_host/faulty:v1"

# ---- served bytes that do not match the manifest: refused, nothing stored
corrupt=$(free_port)
start_bg python3 "$helpers/fault_proxy.py" proxy --port "$corrupt" --upstream "$plain_host" --log "$TEST_TMP/corrupt.log" \
  --fault 'GET /blobs/sha256 corrupt 1000'
wait_http "http://127.0.0.1:$corrupt/v2/" || fail "the corrupting proxy starts"
store10=$(new_store)
check_exit "a layer whose bytes do not match its digest is refused" 1 "$IMGBUILD" --root "$store10" pull "127.0.0.1:$corrupt/app:v1"
expect_match "with a digest mismatch error" "digest mismatch: the manifest says sha256:[0-9a-f]+, the bytes hash to sha256:" "$ERR"
expect_eq "no blob landed in the store" "0" "$(find "$store10/blobs/sha256" -type f | wc -l)"
expect_eq "no layer either" "0" "$(find "$store10/layers" -mindepth 1 -maxdepth 1 | wc -l)"
expect_eq "nor staging leftovers" "0" "$(find "$store10/tmp" -mindepth 1 | wc -l)"
check "fsck is clean" "$IMGBUILD" --root "$store10" fsck

# ---- schema 1 manifests are refused by name
s1=$(free_port)
start_bg python3 "$helpers/fault_proxy.py" proxy --port "$s1" --upstream "$plain_host" --log "$TEST_TMP/s1.log" \
  --fault 'GET /manifests/ schema1 1000'
wait_http "http://127.0.0.1:$s1/healthz" || fail "the schema 1 proxy starts"
check_exit "a schema 1 manifest is refused" 1 "$IMGBUILD" --root "$store10" pull "127.0.0.1:$s1/app:v1"
expect_match "with a clear message" "is in Docker's schema 1 format .*push the image again" "$ERR"

# ---- credentials never follow a redirect to another host
blobs=$(free_port) && redir=$(free_port) && redir_host=127.0.0.1:$redir
start_bg python3 "$helpers/fault_proxy.py" blobstore --port "$blobs" --root "$TEST_TMP/basic/data" --log "$TEST_TMP/blobstore.log"
start_bg python3 "$helpers/fault_proxy.py" proxy --port "$redir" --upstream "$basic_host" --log "$TEST_TMP/redir.log" \
  --redirect-blobs "http://127.0.0.1:$blobs"
wait_http "http://$redir_host/v2/" || fail "the redirecting proxy starts"
run_in "$TEST_TMP/right" ib login -u alice --password-stdin "$redir_host"
store11=$(new_store)
check "a pull whose blobs redirect to another host" "$IMGBUILD" --root "$store11" pull "$redir_host/app:v1"
expect_match "the blobs came from the second host" '"path": "/sha256:' "$(cat "$TEST_TMP/blobstore.log" 2>/dev/null)"
expect_no_match "which never saw an Authorization header" '"Authorization"' "$(cat "$TEST_TMP/blobstore.log" 2>/dev/null)"
run "$IMGBUILD" --root "$store11" run --rm "$redir_host/app:v1"
expect_match "the redirected image runs" "^Hello World!$" "$OUT"

finish
