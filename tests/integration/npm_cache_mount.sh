#!/usr/bin/env bash
# Issue 12's node test: an app built with `RUN --mount=type=cache,target=/root/.npm npm ci`
# on a Debian base with nodejs and npm (mmdebstrap). The second build, after package.json
# changed, installs from the cache that the first build left in the store: npm's cache dir
# is non-empty when it starts, and npm fetches fewer tarballs from the registry.
# The Debian base is kept in $IMGBUILD_TEST_CACHE (default /var/cache/imgbuild-tests) between
# runs; the first run makes it (network bound: minutes), later runs take well under a minute.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) != 0 ]]; then
  echo "skipped: npm_cache_mount.sh needs root (namespaces, overlayfs)"
  exit 77
fi
command -v mmdebstrap >/dev/null || { echo "skipped: mmdebstrap not installed"; exit 77; }
curl -fsS -m 10 -o /dev/null https://registry.npmjs.org/ms ||
  { echo "skipped: the npm registry (registry.npmjs.org) is unreachable"; exit 77; }

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }

start=$(now)

# The base rootfs (~400 MiB of .debs to fetch: minutes) is kept between runs, as a CI cache.
base_cache=${IMGBUILD_TEST_CACHE:-/var/cache/imgbuild-tests}
base_tar=$base_cache/node-bookworm-rootfs.tar
if [[ ! -s $base_tar || -n $(find "$base_tar" -mtime +7 2>/dev/null) ]]; then
  echo "# making the node base with mmdebstrap into $base_tar (a few minutes, once a week)"
  mkdir -p "$base_cache"
  if ! mmdebstrap --quiet --variant=minbase --include=nodejs,npm,ca-certificates bookworm "$base_cache/partial-node-rootfs.tar" 2>"$TEST_TMP/mmdebstrap.err"; then
    rm -f "$base_cache/partial-node-rootfs.tar"
    echo "skipped: mmdebstrap could not build a bookworm base with nodejs and npm: $(tail -n 3 "$TEST_TMP/mmdebstrap.err")"
    exit 77
  fi
  mv "$base_cache/partial-node-rootfs.tar" "$base_tar"
fi
check "import the node base" ib import "$base_tar" node-base
echo "# base imported in $(elapsed "$start") s"

ctx=$TEST_TMP/app && mkdir -p "$ctx"
# A lock file the way `npm install` writes it, made on the host (npm ci needs one).
write_app() {  # write_app DEPENDENCIES_JSON
  cat >"$ctx/package.json" <<J
{ "name": "cache-mount-app", "version": "1.0.0", "private": true, "dependencies": $1 }
J
  (cd "$ctx" && rm -rf node_modules package-lock.json &&
    : >"$TEST_TMP/npmrc" &&  # the caller's ~/.npmrc may leave resolved/integrity out of the lock
    npm install --package-lock-only --no-audit --no-fund --userconfig "$TEST_TMP/npmrc" \
      --cache "$TEST_TMP/host-npm-cache" >/dev/null 2>&1)
}
write_app '{ "ms": "2.1.3", "debug": "4.3.4", "escape-html": "1.0.3" }' || { fail "npm install --package-lock-only on the host"; finish; }
cat >"$ctx/Dockerfile" <<'D'
FROM node-base
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi && \
    echo "cache entries before: $(find /root/.npm -type f | wc -l)" && \
    { npm ci --no-audit --no-fund --loglevel=http > /tmp/npm.log 2>&1 || { tail -n 30 /tmp/npm.log; exit 1; }; } && \
    grep 'http fetch' /tmp/npm.log | sed 's/^/npm: /' && \
    echo "fetched: $(grep 'http fetch GET' /tmp/npm.log | grep -vc 'cache hit')" && \
    node -e 'require("debug"); require("ms"); console.log("modules load")'
CMD ["node", "-e", "console.log(require('ms')('2h'))"]
D

# Where the way out goes through a TLS-inspecting proxy, the host's extra CAs reach npm as a
# secret (not a layer; no secret given: none needed).
ca=()
[[ -n ${NODE_EXTRA_CA_CERTS:-} && -f $NODE_EXTRA_CA_CERTS ]] && ca=(--secret "id=npm_ca,src=$NODE_EXTRA_CA_CERTS")
check "first build (npm ci with a cold cache mount)" ib -t nodeapp --progress plain "${ca[@]}" "$ctx"
first=$OUT$ERR
expect_match "the first npm ci starts with an empty cache" 'cache entries before: 0$' "$first"
fetched1=$(grep -o 'fetched: [0-9]*' <<<"$first" | grep -o '[0-9]*$')
expect_match "the modules load in the RUN" 'modules load' "$first"
run ib run --rm nodeapp
expect_eq "the app runs" "7200000" "$OUT"
run ib run --rm nodeapp sh -c 'ls -A /root/.npm 2>/dev/null | wc -l'
expect_eq "the npm cache is not in the image" "0" "$OUT"
hex=$(printf %s /root/.npm | sha256sum | cut -d' ' -f1)
check "the cache lives in the store's cache-mounts/" test -d "$store/cache-mounts/$hex/data/_cacache"

write_app '{ "ms": "2.1.3", "debug": "4.3.4", "escape-html": "1.0.3", "vary": "1.1.2" }' || fail "package-lock for the second build"
check "second build after package.json changed" ib -t nodeapp --progress plain "${ca[@]}" "$ctx"
second=$OUT$ERR
expect_match "the second npm ci starts with the first one's cache" 'cache entries before: [1-9][0-9]*$' "$second"
fetched2=$(grep -o 'fetched: [0-9]*' <<<"$second" | grep -o '[0-9]*$')
grep -o 'npm: npm http.*' <<<"$second" | sed 's/^/# second build: /'
echo "# registry fetches: first build ${fetched1:-?}, second build ${fetched2:-?}"
if [[ -n $fetched1 && -n $fetched2 ]] && ((fetched2 < fetched1)); then
  pass "the second npm ci fetched fewer packages from the registry ($fetched2 < $fetched1)"
else
  fail "the second npm ci fetched fewer packages from the registry" "first: ${fetched1:-none} second: ${fetched2:-none}"
fi
run ib run --rm nodeapp node -e 'require("vary"); console.log("vary loads")'
expect_eq "the new dependency is installed" "vary loads" "$OUT"
echo "# total $(elapsed "$start") s"
finish
