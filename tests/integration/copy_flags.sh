#!/usr/bin/env bash
# BuildKit's COPY flags and semantics end to end: --exclude and --parents (Dockerfile 1.7
# labs), WORKDIR made as the current USER, errors that name their step, a source hidden by
# .dockerignore, `images` columns, COPY --link rebasing, build --squash / --squash-all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }

# ======================================================================================
# --exclude and --parents: the trees of the BuildKit reference's examples
ctx=$TEST_TMP/flags && mkdir -p "$ctx"/{x/y,src/x/y,src/z,dir1/dir2,packages/foo,packages/bar}
for f in x/y/a.txt x/y/b.txt x/y/c.md src/a.txt src/x/b.txt src/x/y/c.txt src/z/e.md dir1/a.1 dir1/a.2 \
  dir1/dir2/a.1 dir1/dir2/a.2 packages/foo/package.json packages/foo/index.js packages/bar/package.json; do
  echo "$f" >"$ctx/$f"
done
cat >"$ctx/Dockerfile" <<'D'
# syntax=docker/dockerfile:1.7-labs
FROM busybox
COPY --parents ./x/./y/*.txt /pivot/
COPY --parents ./src/**/*.txt /deep/
COPY --parents packages/*/package.json /mono/
COPY --exclude=*.1 dir1 /top/
COPY --exclude=**/*.1 --exclude=dir2/a.2 dir1 /all/
D
check "COPY --parents / --exclude: build" ib -t flags "$ctx"
in_image flags 'cd /pivot && find . | sort; cd /deep && find . | sort; cd /mono && find . | sort'
expect_eq "--parents: the /./ pivot, ** and wildcard dirs keep the right parents" ".
./y
./y/a.txt
./y/b.txt
.
./src
./src/a.txt
./src/x
./src/x/b.txt
./src/x/y
./src/x/y/c.txt
.
./packages
./packages/bar
./packages/bar/package.json
./packages/foo
./packages/foo/package.json" "$OUT"
in_image flags 'cd /top && find . | sort; cd /all && find . | sort'
expect_eq "--exclude: relative to the source, ** for every level, several patterns" ".
./a.2
./dir2
./dir2/a.1
./dir2/a.2
.
./a.2
./dir2" "$OUT"
run ib -t flags --progress plain "$ctx"
expect_eq "--parents/--exclude: an unchanged rebuild hits every COPY" 5 "$(grep -c CACHED <<<"$OUT")"
printf 'FROM busybox\nCOPY --parents ./missing.txt /d/\n' >"$ctx/Dockerfile.missing"
check_exit "--parents: a missing plain path fails" 1 ib -f "$ctx/Dockerfile.missing" "$ctx"
expect_match "--parents: the error names the step and the path" 'step 2/2 COPY --parents ./missing.txt /d/: .*missing.txt' "$ERR"

# ======================================================================================
# WORKDIR after USER: made as that user (BuildKit), so a node-style app can write there
ctx=$TEST_TMP/node && mkdir -p "$ctx"
echo '{"name":"app"}' >"$ctx/package.json"
cat >"$ctx/Dockerfile" <<'D'
FROM busybox
RUN echo 'node:x:1000:1000::/home/node:/bin/sh' >>/etc/passwd && echo 'node:x:1000:' >>/etc/group && mkdir -p /home/node && chown 1000:1000 /home/node
USER node
WORKDIR /home/node/app/src
COPY package.json ./
RUN echo installed >/home/node/app/src/node_modules.marker && mkdir /home/node/app/src/node_modules
USER root
WORKDIR /opt/rootdir
D
check "WORKDIR after USER node: build (RUN writes in the WORKDIR as node)" ib -t node-app "$ctx"
in_image node-app 'stat -c "%U %a" /home/node /home/node/app /home/node/app/src /home/node/app/src/node_modules; stat -c %U /opt/rootdir /home; cat /home/node/app/src/node_modules.marker'
expect_eq "WORKDIR: dirs it creates belong to the current USER, existing ones keep theirs" "node 755
node 755
node 755
node 755
root
root
installed" "$OUT"
printf 'FROM busybox\nUSER nobody-here\nWORKDIR /w\n' >"$ctx/Dockerfile.nouser"
check_exit "WORKDIR as an unknown USER fails" 1 ib -f "$ctx/Dockerfile.nouser" "$ctx"
expect_match "WORKDIR: the error names the step and the user" 'step 3/3 WORKDIR /w: .*nobody-here' "$ERR"

# ======================================================================================
# Errors name their step; a source hidden by .dockerignore says so; images columns
ctx=$TEST_TMP/errs && mkdir -p "$ctx"
echo s >"$ctx/secret.txt" && echo secret.txt >"$ctx/.dockerignore"
printf 'FROM busybox\nENV A=1\nCOPY secret.txt /app/\n' >"$ctx/Dockerfile"
check_exit "COPY of an ignored file fails" 1 ib "$ctx"
expect_match "the error names the step and says .dockerignore excludes it" \
  'step 3/3 COPY secret.txt /app/: .*secret.txt is in the build context but excluded by .dockerignore' "$ERR"
printf 'FROM busybox\nCOPY nothere.txt /app/\n' >"$ctx/Dockerfile"
check_exit "COPY of a missing file fails" 1 ib "$ctx"
expect_match "a missing source: the step and 'does not exist'" 'step 2/2 COPY nothere.txt /app/: .*does not exist' "$ERR"
long=registry.example.com:5000/team/a-very-long-repository-name/with-a-path
check "tag a long name" ib tag busybox "$long:a-rather-long-tag-name-1.2.3"
run ib images
cols=$(awk 'NR==1 { print index($0, "IMAGE ID") } NR>1 { print index($0, substr($3, 1, 6)) }' <<<"$OUT" | sort -u | wc -l)
expect_eq "images: the IMAGE ID column starts at the same place on every line" 1 "$cols"

# ======================================================================================
# COPY --link: a new base keeps the linked layer (same diffID, a cache hit)
ctx=$TEST_TMP/link && mkdir -p "$ctx/app/sub"
echo app >"$ctx/app/main.txt" && echo sub >"$ctx/app/sub/s.txt"
make_base() {
  printf 'FROM busybox\nRUN echo %s >/base-marker && ln -s /srv /data && mkdir /srv\n' "$1" >"$ctx/Dockerfile.base"
  ib -t linkbase -f "$ctx/Dockerfile.base" "$ctx" >/dev/null
}
cat >"$ctx/Dockerfile" <<'D'
FROM linkbase
ENV BASE_ENV=x
WORKDIR /w
COPY --link app/ /app/
COPY --link --chown=1000:1000 app/main.txt /data/linked.txt
COPY app/main.txt rel.txt
D
check "COPY --link: base 1" make_base one
check "COPY --link: build over base 1" ib -t linked "$ctx"
layers1=$(ib inspect --format '{{json .RootFS.Layers}}' linked)
in_image linked 'cat /base-marker /app/main.txt /app/sub/s.txt /w/rel.txt; test -L /data || echo data-is-a-dir; ls /srv | wc -l; stat -c %u /data/linked.txt'
expect_eq "COPY --link: files in place, an image symlink on the way is not followed" "one
app
sub
app
data-is-a-dir
0
1000" "$OUT"
check "COPY --link: base 2 (different)" make_base two
run ib -t linked --progress plain "$ctx"
expect_eq "COPY --link: rebuild over a new base succeeds" 0 "$RC"
layers2=$(ib inspect --format '{{json .RootFS.Layers}}' linked)
expect_eq "COPY --link: both linked steps are cache hits over the new base" "[4/6] CACHED
[5/6] CACHED" "$(grep -E '^\[[45]/6\] CACHED' <<<"$OUT")"
expect_eq "COPY --link: the unlinked COPY after them runs again" 0 "$(grep -c '^\[6/6\] CACHED' <<<"$OUT")"
expect_eq "COPY --link: the linked layers keep their diffIDs" "$(jq -c '.[-3:-1]' <<<"$layers1")" "$(jq -c '.[-3:-1]' <<<"$layers2")"
expect_ne "COPY --link: the base layers changed" "$(jq -c '.[0:-3]' <<<"$layers1")" "$(jq -c '.[0:-3]' <<<"$layers2")"
in_image linked 'cat /base-marker /app/main.txt /w/rel.txt'
expect_eq "COPY --link: the image has the new base and the linked files" "two
app
app" "$OUT"
check "fsck after a rebased --link layer" ib fsck

# ======================================================================================
# build --squash / --squash-all: layer counts, the same tree, whiteouts as Podman keeps them
ctx=$TEST_TMP/squash && mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo base >/base-file && mkdir /opq && echo o >/opq/old\n' >"$ctx/Dockerfile.base"
check "squash: the base image" ib -t sqbase -f "$ctx/Dockerfile.base" "$ctx"
cat >"$ctx/Dockerfile" <<'D'
FROM sqbase
RUN echo n >/new1 && echo t >/tmpf && mkdir -p /d/e && echo a >/d/e/a
RUN rm /tmpf /base-file && echo b >/d/e/b
RUN rm -rf /opq && mkdir /opq && echo n >/opq/new
LABEL after=squash
D
check "squash: plain build" ib -t sq-plain "$ctx"
check "squash: --squash" ib -t sq-new --squash "$ctx"
check "squash: --squash-all" ib -t sq-all --squash-all "$ctx"
check_exit "squash: --squash with --squash-all is a usage error" 2 ib --squash --squash-all "$ctx"
base_n=$(layer_count sqbase)
expect_eq "squash: layer counts (plain, --squash, --squash-all)" "$((base_n + 3)) $((base_n + 1)) 1" \
  "$(layer_count sq-plain) $(layer_count sq-new) $(layer_count sq-all)"
expect_eq "squash: --squash keeps the base layers" "$(ib inspect --format '{{json .RootFS.Layers}}' sqbase | jq -c .)" \
  "$(ib inspect --format '{{json .RootFS.Layers}}' sq-new | jq -c ".[0:$base_n]")"
listing='find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -print | sort | while read -r p; do stat -c "%n %F %a %u:%g %s" "$p"; done'
in_image sq-plain "$listing" && plain_tree=$OUT
in_image sq-new "$listing"
expect_eq "squash: --squash gives the unsquashed image's tree" "$plain_tree" "$OUT"
in_image sq-all "$listing"
expect_eq "squash: --squash-all gives the unsquashed image's tree" "$plain_tree" "$OUT"
expect_no_match "squash: deleted files are gone" '^/(tmpf|base-file|opq/old) ' "$plain_tree"
# The squashed layer as OCI readers see it.
for img in sq-new sq-all; do
  run ib save --format oci -o "$TEST_TMP/$img.tar" "$img"
  check "squash: skopeo reads the $img archive" skopeo inspect "oci-archive:$TEST_TMP/$img.tar"
  expect_eq "squash: skopeo sees the layers of $img" "$(layer_count $img)" "$(jq '.Layers | length' <<<"$OUT")"
  mkdir -p "$TEST_TMP/$img.x" && tar -C "$TEST_TMP/$img.x" -xf "$TEST_TMP/$img.tar"
  mf=$(jq -r '.manifests[0].digest' "$TEST_TMP/$img.x/index.json" | cut -d: -f2)
  top=$(jq -r '.layers[-1].digest' "$TEST_TMP/$img.x/blobs/sha256/$mf" | cut -d: -f2)
  tar -tzf "$TEST_TMP/$img.x/blobs/sha256/$top" 2>/dev/null | LC_ALL=C sort >"$TEST_TMP/$img.entries" ||
    tar -tf "$TEST_TMP/$img.x/blobs/sha256/$top" | LC_ALL=C sort >"$TEST_TMP/$img.entries"
done
expect_eq "squash: --squash's layer whites out the base file, the opaque dir is marked, no deleted file" \
  "base-file opq-marker" "$(grep -q '^\(\./\)\?\.wh\.base-file$' "$TEST_TMP/sq-new.entries" && echo -n base-file; \
  grep -q '^\(\./\)\?opq/\.wh\.\.wh\.\.opq$' "$TEST_TMP/sq-new.entries" && echo -n ' opq-marker'; \
  grep -q 'tmpf' "$TEST_TMP/sq-new.entries" && echo -n ' tmpf-present')"
expect_eq "squash: --squash-all's layer has no whiteouts" 0 "$(grep -c '\.wh\.' "$TEST_TMP/sq-all.entries")"
check "squash: umoci unpacks the --squash-all image" umoci unpack --rootless --image "$TEST_TMP/sq-all.x:$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"] // "latest"' "$TEST_TMP/sq-all.x/index.json")" "$TEST_TMP/sq-all.bundle"
expect_eq "squash: umoci's tree has the files" "n
b" "$(cat "$TEST_TMP/sq-all.bundle/rootfs/opq/new" "$TEST_TMP/sq-all.bundle/rootfs/d/e/b" 2>&1)"
run ib history sq-new
expect_match "squash: history keeps the steps" 'rm -rf /opq' "$OUT"
check "fsck after squash" ib fsck

finish
