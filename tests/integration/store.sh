#!/usr/bin/env bash
# Integration tests of the layer store and its verbs (import, images, tag, rmi, inspect,
# history, save, load, fsck), checked against independent readers and writers of the same
# formats: skopeo, umoci and podman (../shared/peers/setup.sh installs them). Needs root.
# Run by CTest with IMGBUILD=<binary>; by hand: IMGBUILD=build/cli/imgbuild bash tests/integration/store.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ $(id -u) != 0 ]]; then
  echo "skipped: store.sh needs root (podman, layer owners, overlay RUN steps, tmpfs)"
  exit 77
fi

started=$(now)
section() { echo "# ---- $1 (at $(elapsed "$started")s)"; }

ib() { "$IMGBUILD" --root "$STORE" "$@"; }       # the main store of this script
id_of() { "$IMGBUILD" --root "$1" inspect --format '{{.Id}}' "$2"; }

# Podman gets a storage of its own under TEST_TMP: the test never touches (or removes) the
# images of the machine's podman, and a concurrent user of podman never sees ours.
PODMAN_ROOT=$TEST_TMP/podman
pm() { podman --root "$PODMAN_ROOT/root" --runroot "$PODMAN_ROOT/run" "$@"; }

# A root filesystem with what a layer must keep: modes (setuid, sticky, 0600, 0444), owners,
# symlinks (relative, absolute, dangling), a hardlink, an empty file, a name with spaces,
# a fifo, a device node, a deep path and a megabyte of incompressible data.
make_rich_rootfs() {
  local r=$1
  mkdir -p "$r"/{bin,etc/conf.d,tmp,home/user/.cache,root,dev,srv/deep/a/b/c/d/e,var/empty}
  echo 'hello' >"$r/etc/hello.txt"
  printf 'secret\n' >"$r/etc/shadow"; chmod 0600 "$r/etc/shadow"
  printf 'ro\n' >"$r/etc/conf.d/readonly"; chmod 0444 "$r/etc/conf.d/readonly"
  printf '#!/bin/sh\necho hi\n' >"$r/bin/tool"; chmod 4755 "$r/bin/tool"
  : >"$r/etc/empty"
  echo 'space' >"$r/srv/name with spaces.txt"
  echo 'deep' >"$r/srv/deep/a/b/c/d/e/file"
  head -c 1048576 /dev/urandom >"$r/srv/random.bin"
  ln "$r/etc/hello.txt" "$r/etc/hello.hardlink"
  ln -s hello.txt "$r/etc/hello.rel"
  ln -s /etc/hello.txt "$r/bin/hello.abs"
  ln -s /nonexistent/target "$r/bin/dangling"
  mkfifo "$r/srv/fifo"
  mknod "$r/dev/null" c 1 3; chmod 0666 "$r/dev/null"
  chmod 1777 "$r/tmp"; chmod 0700 "$r/root"; chmod 0711 "$r/var/empty"
  echo 'user file' >"$r/home/user/notes"
  chown -R 1000:1000 "$r/home/user"
  chown 65534:65534 "$r/srv/deep"
  chown -h 1000:100 "$r/bin/dangling"
}

# ============================================================================ setup
section "setup"
require_tools skopeo umoci podman jq
STORE=$(new_store)
check "make-busybox-base.sh makes busybox:latest" make_busybox_base "$STORE" busybox:latest
BUSYBOX_ID=$(id_of "$STORE" busybox:latest)
expect_match "busybox:latest has an image id" '^sha256:[0-9a-f]{64}$' "$BUSYBOX_ID"

RICH=$TEST_TMP/rich-rootfs
make_rich_rootfs "$RICH"
tar --sort=name --numeric-owner -C "$RICH" -cf "$TEST_TMP/rich.tar" .

# ============================================================================ verbs
section "verbs: import, images, tag, inspect, history"
check "import from a file" ib import "$TEST_TMP/rich.tar" rich:v1
expect_match "import prints the image id" '^sha256:[0-9a-f]{64}$' "$OUT"
RICH_ID=$OUT
run_in "$TEST_TMP/rich.tar" ib import - rich:stdin
expect_eq "import from stdin (-) exits 0" 0 "$RC"
expect_eq "import from stdin gives the same layer as from the file" \
  "$(ib inspect --format '{{json .RootFS}}' rich:v1)" "$(ib inspect --format '{{json .RootFS}}' rich:stdin)"
expect_match "history of a stdin import says stdin" 'stdin' "$(ib history --no-trunc rich:stdin)"

check "images" ib images
expect_match "images lists busybox latest" "^busybox +latest +${BUSYBOX_ID:7:12} " "$OUT"
expect_match "images lists rich v1" "^rich +v1 +${RICH_ID:7:12} " "$OUT"
check "images -q" ib images -q
expect_eq "images -q prints unique short ids, one a line" \
  "$(printf '%s\n' "${BUSYBOX_ID:7:12}" "${RICH_ID:7:12}" "$(id_of "$STORE" rich:stdin | cut -c8-19)" | sort -u)" \
  "$(sort <<<"$OUT")"

check "tag busybox:latest mybox:v1" ib tag busybox:latest mybox:v1
expect_eq "the new name is the same image" "$BUSYBOX_ID" "$(id_of "$STORE" mybox:v1)"
expect_match "images shows the new name" "^mybox +v1 +${BUSYBOX_ID:7:12} " "$(ib images)"
check "tag by short id" ib tag "${BUSYBOX_ID:7:12}" mybox:v2
expect_eq "tag by short id names the same image" "$BUSYBOX_ID" "$(id_of "$STORE" mybox:v2)"

check "inspect (JSON)" ib inspect busybox
INSPECT_JSON=$OUT
expect_eq "inspect prints a JSON array of one" 1 "$(jq length <<<"$INSPECT_JSON" 2>&1)"
expect_eq "inspect .Id" "$BUSYBOX_ID" "$(jq -r '.[0].Id' <<<"$INSPECT_JSON" 2>&1)"
expect_eq "inspect .RepoTags lists every name" '["busybox:latest","mybox:v1","mybox:v2"]' \
  "$(jq -c '.[0].RepoTags | sort' <<<"$INSPECT_JSON" 2>&1)"
expect_eq "inspect .Os/.Architecture" "linux/amd64" "$(jq -r '.[0].Os + "/" + .[0].Architecture' <<<"$INSPECT_JSON" 2>&1)"
check "inspect --format '{{json .RootFS}}'" ib inspect --format '{{json .RootFS}}' busybox
expect_eq "RootFS has type layers and one diff id" "layers 1" "$(jq -r '.Type + " " + (.Layers | length | tostring)' <<<"$OUT" 2>&1)"
check "inspect of two images" ib inspect busybox rich:v1
expect_eq "inspect of two images prints two" 2 "$(jq length <<<"$OUT" 2>&1)"

check "history" ib history busybox
expect_match "history has the header" '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT' "$OUT"
expect_match "history shows the import step" "^${BUSYBOX_ID:7:12} .*imgbuild import" "$OUT"

check "fsck of a clean store exits 0" ib fsck
expect_match "fsck reports ok" '^ok: ' "$OUT"

# ============================================================================ rmi
section "verbs: rmi"
check "rmi by name of an image with several names" ib rmi mybox:v2
expect_match "rmi by name only untags" '^Untagged: mybox:v2' "$OUT"
expect_eq "the image is still there by its other names" "$BUSYBOX_ID" "$(id_of "$STORE" mybox:v1)"
ib tag rich:v1 rich:v2 >/dev/null 2>&1
check_exit "rmi by id of an image with several names needs -f (exit 1)" 1 ib rmi "${RICH_ID:7:12}"
expect_match "rmi says why" 'several names.*-f' "$ERR"
expect_eq "the refused rmi removed nothing" "$RICH_ID" "$(id_of "$STORE" rich:v2)"
check "rmi -f by id removes every name" ib rmi -f "${RICH_ID:7:12}"
expect_match "rmi -f reports the deletion" "^Deleted: $RICH_ID" "$OUT"
check_exit "the image is gone by both names" 1 ib inspect rich:v1 rich:v2
STDIN_ID=$(id_of "$STORE" rich:stdin)
check "rmi by full id of a single-named image" ib rmi "$STDIN_ID"
expect_no_match "images no longer lists it" '^rich ' "$(ib images)"
check "rmi by name of the last name" ib rmi mybox:v1
expect_eq "busybox:latest survives the removal of its other names" "$BUSYBOX_ID" "$(id_of "$STORE" busybox)"
check "fsck after rmi" ib fsck

# ============================================================================ errors
section "errors"
check_exit "import of a missing file fails (exit 1)" 1 ib import "$TEST_TMP/no-such.tar" x:1
expect_match "the message names the path" "no-such\.tar" "$ERR"
check_exit "inspect of an unknown image fails (exit 1)" 1 ib inspect nothere:latest
expect_match "the message says image not found" 'image not found' "$ERR"
check_exit "tag with a bad name is a usage error (exit 2)" 2 ib tag busybox 'Bad Name:x'
expect_match "the message names the bad name" 'invalid reference "Bad Name:x"' "$ERR"
check_exit "tag with a bad tag is a usage error (exit 2)" 2 ib tag busybox 'ok:bad/tag!'
before_images=$(ib images)
check_exit "import with a bad name is a usage error (exit 2)" 2 ib import "$TEST_TMP/rich.tar" 'UPPER'
expect_eq "a refused import adds no image" "$before_images" "$(ib images)"
check_exit "save of an unknown image fails" 1 ib save -o "$TEST_TMP/unknown.tar" nothere
expect_match "save names the unknown image" 'image not found: nothere' "$ERR"
expect_true "save of an unknown image creates no file" test ! -e "$TEST_TMP/unknown.tar" -a ! -e "$TEST_TMP/unknown.tar.partial"
check_exit "rmi of an unknown image fails (exit 1)" 1 ib rmi nothere
check_exit "unknown save format is a usage error (exit 2)" 2 ib save --format tarball -o "$TEST_TMP/x.tar" busybox
check_exit "load of a file that is not an image archive fails" 1 ib load -i "$TEST_TMP/rich.tar"
expect_match "load says what is wrong" 'not a regular file|neither an OCI layout|links outside' "$ERR"
expect_eq "a refused load changes nothing" "$before_images" "$(ib images)"

# ============================================================================ concurrency
section "concurrent store users"
C=$(new_store)
make_busybox_base "$C" >/dev/null 2>&1
pids=()
for i in 1 2 3 4 5 6 7 8; do "$IMGBUILD" --root "$C" tag busybox "par:$i" >/dev/null 2>&1 & pids+=($!); done
for i in 1 2; do "$IMGBUILD" --root "$C" import "$TEST_TMP/rich.tar" "conc:$i" >/dev/null 2>&1 & pids+=($!); done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
expect_eq "8 concurrent tags and 2 concurrent imports all succeed" 0 "$failed"
expect_eq "no concurrent tag was lost" 8 "$("$IMGBUILD" --root "$C" images | grep -c '^par ')"
expect_eq "both concurrent imports are listed" 2 "$("$IMGBUILD" --root "$C" images | grep -c '^conc ')"
check "fsck after concurrent use" "$IMGBUILD" --root "$C" fsck

# ============================================================================ save: OCI
section "save --format oci: skopeo, umoci, determinism"
check "save --format oci" ib save --format oci -o "$TEST_TMP/busybox-oci.tar" busybox:latest
check "skopeo inspect oci-archive: accepts it" skopeo inspect oci-archive:"$TEST_TMP/busybox-oci.tar"
expect_eq "skopeo sees one layer" 1 "$(jq '.Layers | length' <<<"$OUT" 2>&1)"
check "skopeo inspect --raw" skopeo inspect --raw oci-archive:"$TEST_TMP/busybox-oci.tar"
expect_eq "the saved manifest's config is our image id" "$BUSYBOX_ID" "$(jq -r .config.digest <<<"$OUT" 2>&1)"
expect_eq "the saved layer is gzip-compressed OCI" "application/vnd.oci.image.layer.v1.tar+gzip" \
  "$(jq -r '.layers[0].mediaType' <<<"$OUT" 2>&1)"
check "skopeo inspect --config gives our config" skopeo inspect --config oci-archive:"$TEST_TMP/busybox-oci.tar"
expect_eq "skopeo's config has our diff id" "$(ib inspect --format '{{json .RootFS.Layers}}' busybox)" \
  "$(jq -c .rootfs.diff_ids <<<"$OUT" 2>&1)"

mkdir -p "$TEST_TMP/layout" && tar -xf "$TEST_TMP/busybox-oci.tar" -C "$TEST_TMP/layout"
check "umoci unpack accepts it" umoci unpack --image "$TEST_TMP/layout:latest" "$TEST_TMP/bundle"
BUSYBOX_LAYER=$STORE/layers/$(ib inspect --format '{{json .RootFS.Layers}}' busybox | jq -r '.[0]' | cut -c8-)/diff
tree_listing "$BUSYBOX_LAYER" >"$TEST_TMP/busybox.imported.list"
tree_listing "$TEST_TMP/bundle/rootfs" >"$TEST_TMP/busybox.umoci.list"
expect_same_files "umoci's tree equals the imported busybox (paths, types, modes, owners, targets, contents)" \
  "$TEST_TMP/busybox.imported.list" "$TEST_TMP/busybox.umoci.list"
expect_true "the busybox listing is not trivially empty" test "$(wc -l <"$TEST_TMP/busybox.umoci.list")" -gt 200

# The rich tree, compared with the directory it was made from.
ib import "$TEST_TMP/rich.tar" rich:v1 >/dev/null 2>&1
check "save --format oci of the rich image" ib save -o "$TEST_TMP/rich-oci.tar" rich:v1
mkdir -p "$TEST_TMP/rich-layout" && tar -xf "$TEST_TMP/rich-oci.tar" -C "$TEST_TMP/rich-layout"
check "umoci unpack of the rich image" umoci unpack --image "$TEST_TMP/rich-layout:v1" "$TEST_TMP/rich-bundle"
tree_listing "$RICH" >"$TEST_TMP/rich.source.list"
tree_listing "$TEST_TMP/rich-bundle/rootfs" >"$TEST_TMP/rich.umoci.list"
expect_same_files "umoci's tree equals the source tree (setuid, sticky, owners, links, fifo, device)" \
  "$TEST_TMP/rich.source.list" "$TEST_TMP/rich.umoci.list"
expect_eq "the hardlink is still a hardlink after umoci unpack" 2 "$(stat -c %h "$TEST_TMP/rich-bundle/rootfs/etc/hello.txt")"

check "save the same image again" ib save -o "$TEST_TMP/busybox-oci.2.tar" busybox:latest
expect_same_files "saving twice gives byte-identical OCI archives" "$TEST_TMP/busybox-oci.tar" "$TEST_TMP/busybox-oci.2.tar"
ib save --format docker -o "$TEST_TMP/busybox-docker.1.tar" busybox:latest >/dev/null 2>&1
ib save --format docker -o "$TEST_TMP/busybox-docker.2.tar" busybox:latest >/dev/null 2>&1
expect_same_files "saving twice gives byte-identical docker archives" "$TEST_TMP/busybox-docker.1.tar" "$TEST_TMP/busybox-docker.2.tar"
ib save -o - busybox:latest >"$TEST_TMP/busybox-oci.stdout.tar" 2>/dev/null
expect_same_files "save to stdout gives the same bytes as save -o" "$TEST_TMP/busybox-oci.tar" "$TEST_TMP/busybox-oci.stdout.tar"

# The layer has a gzip blob now (the saves above): --compression must still give what it says.
section "save --compression zstd|none of a layer stored as gzip"
check "save --compression zstd" ib save --compression zstd -o "$TEST_TMP/busybox-zstd.tar" busybox:latest
check "skopeo inspect --raw of the zstd archive" skopeo inspect --raw oci-archive:"$TEST_TMP/busybox-zstd.tar"
expect_eq "the zstd save has a zstd layer" "application/vnd.oci.image.layer.v1.tar+zstd" "$(jq -r '.layers[0].mediaType' <<<"$OUT" 2>&1)"
ZSTD_LAYER=$(jq -r '.layers[0].digest' <<<"$OUT" 2>/dev/null)
mkdir -p "$TEST_TMP/zstd-layout" && tar -C "$TEST_TMP/zstd-layout" -xf "$TEST_TMP/busybox-zstd.tar"
expect_eq "the layer blob is zstd bytes (magic 28b52ffd)" "28b52ffd" \
  "$(head -c4 "$TEST_TMP/zstd-layout/blobs/sha256/${ZSTD_LAYER#sha256:}" | od -An -tx1 | tr -d ' \n')"
# umoci 0.4.7 reads no zstd: skopeo decompresses the layer (verifying its digest) and
# recompresses it with gzip into a layout for umoci, which checks the diff_id and the tree.
check "skopeo reads the zstd archive (into a gzip layout)" skopeo copy -q --dest-compress-format gzip \
  oci-archive:"$TEST_TMP/busybox-zstd.tar" oci:"$TEST_TMP/zstd-regz:latest"
check "umoci unpack of skopeo's copy of the zstd layer" umoci unpack --image "$TEST_TMP/zstd-regz:latest" "$TEST_TMP/zstd-bundle"
tree_listing "$TEST_TMP/zstd-bundle/rootfs" >"$TEST_TMP/busybox.zstd.list"
expect_same_files "umoci's tree of the zstd layer equals the imported busybox" \
  "$TEST_TMP/busybox.imported.list" "$TEST_TMP/busybox.zstd.list"
check "save --compression zstd again" ib save --compression zstd -o "$TEST_TMP/busybox-zstd.2.tar" busybox:latest
expect_same_files "the zstd blob is remembered: the same bytes again" "$TEST_TMP/busybox-zstd.tar" "$TEST_TMP/busybox-zstd.2.tar"
ib save -o "$TEST_TMP/busybox-oci.3.tar" busybox:latest >/dev/null 2>&1
expect_same_files "gzip after zstd still gives the gzip archive" "$TEST_TMP/busybox-oci.tar" "$TEST_TMP/busybox-oci.3.tar"
check "save --compression none" ib save --compression none -o "$TEST_TMP/busybox-plain.tar" busybox:latest
check "skopeo inspect --raw of the plain archive" skopeo inspect --raw oci-archive:"$TEST_TMP/busybox-plain.tar"
expect_eq "the plain save has an uncompressed layer" "application/vnd.oci.image.layer.v1.tar" "$(jq -r '.layers[0].mediaType' <<<"$OUT" 2>&1)"
expect_eq "whose digest is the diff_id" "$(ib inspect --format '{{json .RootFS.Layers}}' busybox | jq -r '.[0]')" \
  "$(jq -r '.layers[0].digest' <<<"$OUT" 2>&1)"
check "fsck after the zstd and plain saves" ib fsck
S2=$(new_store)
make_busybox_base "$S2" >/dev/null 2>&1
S3=$(new_store)
make_busybox_base "$S3" >/dev/null 2>&1
expect_eq "the busybox base is reproducible (the same id in two stores)" \
  "$(id_of "$S2" busybox)" "$(id_of "$S3" busybox)"
"$IMGBUILD" --root "$S2" save -o "$TEST_TMP/s2.tar" busybox >/dev/null 2>&1
"$IMGBUILD" --root "$S3" save -o "$TEST_TMP/s3.tar" busybox >/dev/null 2>&1
expect_same_files "two stores save the same image to the same bytes" "$TEST_TMP/s2.tar" "$TEST_TMP/s3.tar"

R=$(new_store)
check "our OCI archive loads into a fresh store" "$IMGBUILD" --root "$R" load -i "$TEST_TMP/busybox-oci.tar"
expect_match "load names the image" '^Loaded image: busybox:latest' "$OUT"
expect_eq "the loaded image keeps its id" "$BUSYBOX_ID" "$(id_of "$R" busybox:latest)"
check "fsck after load" "$IMGBUILD" --root "$R" fsck
R=$(new_store)
run_in "$TEST_TMP/busybox-docker.1.tar" "$IMGBUILD" --root "$R" load
expect_eq "our docker archive loads from stdin" 0 "$RC"
expect_eq "the image loaded from stdin keeps its id" "$BUSYBOX_ID" "$(id_of "$R" busybox:latest)"

# ============================================================================ skopeo copy
section "skopeo copy oci-archive -> docker-archive"
check "skopeo copy oci-archive: docker-archive:" \
  skopeo copy -q oci-archive:"$TEST_TMP/busybox-oci.tar" docker-archive:"$TEST_TMP/skopeo-docker.tar:busybox:copied"
R=$(new_store)
check "skopeo's docker archive loads" "$IMGBUILD" --root "$R" load -i "$TEST_TMP/skopeo-docker.tar"
expect_match "skopeo's docker.io/library/busybox:copied is loaded as busybox:copied" '^Loaded image: busybox:copied$' "$OUT"
expect_eq "skopeo's docker archive keeps the image id" "$BUSYBOX_ID" "$(id_of "$R" busybox:copied)"
check "fsck after loading skopeo's docker archive" "$IMGBUILD" --root "$R" fsck
check "skopeo copy docker-archive: oci-archive:" \
  skopeo copy -q docker-archive:"$TEST_TMP/busybox-docker.1.tar" oci-archive:"$TEST_TMP/skopeo-oci.tar:busybox:fromdocker"
# Converting to OCI, skopeo rewrites the config (other bytes, so another id): the id to
# keep is the config digest of skopeo's manifest.
SKOPEO_OCI_ID=$(skopeo inspect --raw oci-archive:"$TEST_TMP/skopeo-oci.tar" | jq -r .config.digest)
R=$(new_store)
check "skopeo's OCI archive loads" "$IMGBUILD" --root "$R" load -i "$TEST_TMP/skopeo-oci.tar"
expect_eq "skopeo's OCI archive keeps its image id" "$SKOPEO_OCI_ID" "$(id_of "$R" busybox:fromdocker)"
expect_eq "and the same layer" "$(ib inspect --format '{{json .RootFS}}' busybox)" \
  "$("$IMGBUILD" --root "$R" inspect --format '{{json .RootFS}}' busybox:fromdocker)"

# ============================================================================ podman
section "save --format docker -> podman load + run; podman save -> load"
at_exit pm rmi -a -f
check "save --format docker" ib save --format docker -o "$TEST_TMP/busybox-docker.tar" busybox:latest
check "podman load accepts it" pm load -i "$TEST_TMP/busybox-docker.tar"
PODMAN_NAME=$(sed -n 's/^Loaded image[^:]*: *//p' <<<"$OUT" | head -n 1)
expect_match "podman reports the loaded name" '^(localhost/)?busybox:latest$' "$PODMAN_NAME"
check "podman run --rm busybox:latest echo ok" pm run --rm --network none "$PODMAN_NAME" echo ok
expect_eq "the container printed ok" ok "$OUT"
expect_eq "podman's image id is ours" "$BUSYBOX_ID" "sha256:$(pm inspect --format '{{.Id}}' "$PODMAN_NAME")"

# An image podman made: a committed container with a CMD (a second layer).
pm create --name imgbuild-it-ctr --network none "$PODMAN_NAME" sh -c 'echo made-by-podman > /made' >/dev/null 2>&1 &&
  pm start --attach imgbuild-it-ctr >/dev/null 2>&1
check "podman commit with a CMD" pm commit -q --change 'CMD ["echo","hello"]' imgbuild-it-ctr withcmd:v1
pm rm -f imgbuild-it-ctr >/dev/null 2>&1
PODMAN_CMD_ID=sha256:$(pm inspect --format '{{.Id}}' withcmd:v1)
check "podman save (docker-archive)" pm save -q -o "$TEST_TMP/podman-docker.tar" withcmd:v1
R=$(new_store)
check "podman's docker archive loads" "$IMGBUILD" --root "$R" load -i "$TEST_TMP/podman-docker.tar"
check "images lists it" "$IMGBUILD" --root "$R" images
expect_match "images shows podman's id" "withcmd +v1 +${PODMAN_CMD_ID:7:12} " "$OUT"
expect_eq "inspect shows podman's image id" "$PODMAN_CMD_ID" "$(id_of "$R" localhost/withcmd:v1 2>&1)"
expect_eq "inspect --format '{{.Config.Cmd}}'" "[echo hello]" \
  "$("$IMGBUILD" --root "$R" inspect --format '{{.Config.Cmd}}' localhost/withcmd:v1 2>&1)"
expect_eq "the committed layer is there" 2 "$("$IMGBUILD" --root "$R" inspect --format '{{json .RootFS.Layers}}' localhost/withcmd:v1 | jq length 2>&1)"
expect_eq "the committed file is in a layer" "made-by-podman" "$(cat "$R"/layers/*/diff/made 2>&1)"
check "fsck after loading podman's docker archive" "$IMGBUILD" --root "$R" fsck

check "podman save --format oci-archive" pm save -q --format oci-archive -o "$TEST_TMP/podman-oci.tar" withcmd:v1
# podman writes an OCI config of its own in an oci-archive (other bytes, so another id);
# podman itself gives the image that id when it loads the archive.
PODMAN_OCI_ID=$(skopeo inspect --raw oci-archive:"$TEST_TMP/podman-oci.tar" | jq -r .config.digest)
pm rmi -f withcmd:v1 >/dev/null 2>&1
pm load -q -i "$TEST_TMP/podman-oci.tar" >/dev/null 2>&1
expect_eq "podman gives its oci-archive the archive's config digest as id" "$PODMAN_OCI_ID" \
  "sha256:$(pm inspect --format '{{.Id}}' localhost/withcmd:v1 2>&1)"
R=$(new_store)
check "podman's oci-archive loads" "$IMGBUILD" --root "$R" load -i "$TEST_TMP/podman-oci.tar"
expect_eq "inspect shows podman's image id" "$PODMAN_OCI_ID" "$(id_of "$R" localhost/withcmd:v1 2>&1)"
expect_match "images shows podman's id" "withcmd +v1 +${PODMAN_OCI_ID:7:12} " "$("$IMGBUILD" --root "$R" images)"
expect_eq "inspect --format '{{.Config.Cmd}}' of the oci-archive image" "[echo hello]" \
  "$("$IMGBUILD" --root "$R" inspect --format '{{.Config.Cmd}}' localhost/withcmd:v1 2>&1)"
check "fsck after loading podman's oci-archive" "$IMGBUILD" --root "$R" fsck
check "podman rmi cleans up" pm rmi -a -f

# ============================================================================ tampering
section "tampered blobs: fsck reports, load refuses"
T=$(new_store)
cp -a "$STORE" "$T"
CONFIG_BLOB=$T/blobs/sha256/${BUSYBOX_ID:7}
chmod u+w "$CONFIG_BLOB" && printf 'X' | dd of="$CONFIG_BLOB" bs=1 seek=10 conv=notrunc status=none
check_exit "fsck of a store with a tampered blob exits 1" 1 "$IMGBUILD" --root "$T" fsck
expect_match "fsck names the damaged blob" "blob ${BUSYBOX_ID}" "$ERR"
expect_match "fsck says damaged" '^damaged: ' "$OUT"
check_exit "inspect refuses the damaged image" 1 "$IMGBUILD" --root "$T" inspect busybox
expect_match "and says it is damaged" 'damaged' "$ERR"
check_exit "images with a damaged image exits 1" 1 "$IMGBUILD" --root "$T" images
expect_match "images still lists the sound images" '^rich +v1 ' "$OUT"
expect_match "images names the damaged one" 'busybox:latest: .*damaged' "$ERR"
check "rmi can remove a damaged image by name" "$IMGBUILD" --root "$T" rmi busybox
check "images is clean again" "$IMGBUILD" --root "$T" images

# The gzip layer blob that the first save kept in the store.
T=$(new_store)
cp -a "$STORE" "$T"
GZIP_LAYER_HEX=$(skopeo inspect --raw oci-archive:"$TEST_TMP/busybox-oci.tar" | jq -r '.layers[0].digest' | cut -c8-)
chmod u+w "$T/blobs/sha256/$GZIP_LAYER_HEX" &&
  printf 'X' | dd of="$T/blobs/sha256/$GZIP_LAYER_HEX" bs=1 seek=100 conv=notrunc status=none
# The layer's diff/ is sound, so save does not ship the damaged blob: it names it and makes
# the blob again from diff/ (gzip is deterministic: the same digest), replacing the damage.
check_exit "fsck reports the damaged layer blob" 1 "$IMGBUILD" --root "$T" fsck
expect_match "fsck names the damaged layer blob" "$GZIP_LAYER_HEX" "$ERR$OUT"
check "save --format oci of an image with a damaged stored layer blob" "$IMGBUILD" --root "$T" save -o "$TEST_TMP/damaged.tar" busybox
expect_match "save names the damaged blob" "$GZIP_LAYER_HEX is damaged" "$ERR"
check "the archive's blobs all match their digests (skopeo copy)" skopeo copy -q oci-archive:"$TEST_TMP/damaged.tar" dir:"$TEST_TMP/damaged-copy"
expect_eq "the layer blob in it is the good one" "$GZIP_LAYER_HEX" "$(sha256sum "$TEST_TMP/damaged-copy/$GZIP_LAYER_HEX" | cut -c1-64)"
check "fsck is clean after the save replaced the damaged blob" "$IMGBUILD" --root "$T" fsck
check "save --format docker then" "$IMGBUILD" --root "$T" save --format docker -o "$TEST_TMP/damaged-docker.tar" busybox
rm -rf "$TEST_TMP/damaged.tar" "$TEST_TMP/damaged-copy" "$TEST_TMP/damaged-docker.tar"
T=$(new_store)
cp -a "$STORE" "$T"
echo tampered >>"$T/layers/$(basename "$(dirname "$BUSYBOX_LAYER")")/diff/etc/passwd"
check_exit "fsck of a store with a changed layer dir exits 1" 1 "$IMGBUILD" --root "$T" fsck
expect_match "fsck names the changed layer" 'diff/ has changed' "$ERR"

# Tampered archives, loaded into the main store: refused, and the store is unchanged.
tamper_blob_in_archive() {  # ARCHIVE OUT BLOB_HEX
  local dir=$TEST_TMP/tamper.$RANDOM
  mkdir -p "$dir" && tar -xf "$1" -C "$dir"
  chmod u+w "$dir/blobs/sha256/$3"
  printf 'X' | dd of="$dir/blobs/sha256/$3" bs=1 seek=100 conv=notrunc status=none
  tar -C "$dir" -cf "$2" .
}
store_state() { ib images; ib fsck 2>&1; ls "$STORE/blobs/sha256" "$STORE/layers" "$STORE/tmp"; }
OCI_LAYER_HEX=$(skopeo inspect --raw oci-archive:"$TEST_TMP/busybox-oci.tar" | jq -r '.layers[0].digest' | cut -c8-)
tamper_blob_in_archive "$TEST_TMP/busybox-oci.tar" "$TEST_TMP/tampered-oci.tar" "$OCI_LAYER_HEX"
ib rmi busybox >/dev/null 2>&1   # so that loading would have something to add
state_before=$(store_state)
check_exit "load refuses an OCI archive with a tampered layer blob" 1 ib load -i "$TEST_TMP/tampered-oci.tar"
expect_match "the message names the damaged blob" "blob sha256:$OCI_LAYER_HEX is damaged" "$ERR"
expect_eq "the store is unchanged (images, fsck, blobs, layers, tmp)" "$state_before" "$(store_state)"
DOCKER_LAYER_HEX=$(tar -xOf "$TEST_TMP/busybox-docker.tar" manifest.json | jq -r '.[0].Layers[0]' | sed 's|.*/||')
tamper_blob_in_archive "$TEST_TMP/busybox-docker.tar" "$TEST_TMP/tampered-docker.tar" "$DOCKER_LAYER_HEX"
check_exit "load refuses a docker archive with a tampered layer" 1 ib load -i "$TEST_TMP/tampered-docker.tar"
expect_match "the message says damaged" "damaged" "$ERR"
expect_eq "the store is unchanged after the refused docker archive" "$state_before" "$(store_state)"
head -c 600000 "$TEST_TMP/busybox-oci.tar" >"$TEST_TMP/truncated.tar"
check_exit "load refuses a truncated archive" 1 ib load -i "$TEST_TMP/truncated.tar"
expect_eq "the store is unchanged after the truncated archive" "$state_before" "$(store_state)"
check "the untampered archive still loads" ib load -i "$TEST_TMP/busybox-oci.tar"
expect_eq "busybox is back with its id" "$BUSYBOX_ID" "$(id_of "$STORE" busybox)"

# ============================================================================ kill -9
section "kill -9 during import of a large tarball"
K=$(new_store)
make_busybox_base "$K" >/dev/null 2>&1
BIG=$TEST_TMP/big
mkdir -p "$BIG/data"
# 300 MB that does not compress: AES-CTR of zeros is fast and looks random.
openssl enc -aes-128-ctr -nosalt -pass pass:imgbuild -in /dev/zero 2>/dev/null | head -c $((300 * 1024 * 1024)) |
  split -b $((5 * 1024 * 1024)) - "$BIG/data/chunk."
tar -C "$BIG" -cf "$TEST_TMP/big.tar" data
rm -rf "$BIG"
# How long a whole import takes here (it varies with the machine's load), so that the later
# kills land early, in the middle and near the end: extraction, hashing, commit.
M=$(new_store)
t0=$(now)
"$IMGBUILD" --root "$M" import "$TEST_TMP/big.tar" big:latest >/dev/null 2>&1
full=$(elapsed "$t0")
rm -rf "$M"
echo "# a full import of 300 MB takes ${full}s here"
k_images=$("$IMGBUILD" --root "$K" images)
for delay in 0.3 $(awk -v f="$full" 'BEGIN { printf "%.2f %.2f", f * 0.5, f * 0.85 }'); do
  "$IMGBUILD" --root "$K" import "$TEST_TMP/big.tar" big:latest >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  if ((rc != 137)) && [[ $delay != 0.3 ]]; then
    # Only the first kill is required to interrupt; a later one may come too late.
    pass "import killed with -9 after ${delay}s # SKIP it finished first (exit $rc)"
    "$IMGBUILD" --root "$K" rmi big:latest >/dev/null 2>&1
    continue
  fi
  if ((rc == 137)); then pass "import killed with -9 after ${delay}s"; else fail "import killed with -9 after ${delay}s" "it exited $rc before the kill"; fi
  check "fsck passes after the kill at ${delay}s" "$IMGBUILD" --root "$K" fsck
  expect_eq "no image appeared or vanished after the kill at ${delay}s" "$k_images" "$("$IMGBUILD" --root "$K" images)"
done
expect_eq "the next store user cleared the staging leftovers" "" "$(ls -A "$K/tmp")"
t0=$(now)
check "a later import works" "$IMGBUILD" --root "$K" import "$TEST_TMP/big.tar" big:latest
echo "# import of 300 MB took $(elapsed "$t0")s"
expect_match "images lists it" '^big +latest ' "$("$IMGBUILD" --root "$K" images)"
check "fsck passes after the import" "$IMGBUILD" --root "$K" fsck
rm -f "$TEST_TMP/big.tar"

section "damaged layer dirs are replaced, relative roots work (issue 11)"
R=$(new_store)
make_busybox_base "$R" >/dev/null
mkdir -p "$TEST_TMP/ctx-r"
printf 'FROM busybox:latest\nRUN echo built > /f\n' >"$TEST_TMP/ctx-r/Dockerfile"
export SOURCE_DATE_EPOCH=1700000000  # the rebuilds below make the same layer ids
check "a build for the damage checks" "$IMGBUILD" --root "$R" build -q -t r1 "$TEST_TMP/ctx-r"
run_layer=$(dirname "$(dirname "$(ls "$R"/layers/*/diff/f)")")
rm "$run_layer/meta.json"
check "a rebuild over a layer dir without meta.json succeeds" "$IMGBUILD" --root "$R" build -q --no-cache -t r1 "$TEST_TMP/ctx-r"
expect_true "meta.json is back" test -f "$run_layer/meta.json"
rm -rf "$run_layer/diff"
check "a rebuild over a layer dir without diff/ succeeds" "$IMGBUILD" --root "$R" build -q --no-cache -t r1 "$TEST_TMP/ctx-r"
run "$IMGBUILD" --root "$R" run --rm r1 cat /f
expect_eq "the rebuilt image runs" "built" "$OUT"
"$IMGBUILD" --root "$R" save -o "$TEST_TMP/r1.tar" r1
for gone in meta.json diff; do
  rm -rf "$run_layer/$gone"
  check "a load over a layer dir without $gone succeeds" "$IMGBUILD" --root "$R" load -i "$TEST_TMP/r1.tar"
  expect_true "$gone is back after the load" test -e "$run_layer/$gone"
  check "fsck passes after the load over a layer dir without $gone" "$IMGBUILD" --root "$R" fsck
done
check "fsck passes after the repairs" "$IMGBUILD" --root "$R" fsck
mkdir -p "$TEST_TMP/rel"
cp -a "$R" "$TEST_TMP/rel/store"
run bash -c "cd '$TEST_TMP/rel' && '$IMGBUILD' --root store run --rm r1 cat /f"
expect_eq "run with a relative --root" "built" "$OUT"
run bash -c "cd '$TEST_TMP/rel' && IMGBUILD_ROOT=store '$IMGBUILD' build -q --no-cache -t r2 '$TEST_TMP/ctx-r'"
expect_eq "build (RUN) with a relative IMGBUILD_ROOT" "0" "$RC"

section "invalid references are refused with a clear error (one parser for local and registry names)"
R=$(new_store)
mkdir -p "$TEST_TMP/tiny"; echo tiny >"$TEST_TMP/tiny/t"
tar -C "$TEST_TMP/tiny" -cf "$TEST_TMP/tiny.tar" .
check "import tiny" "$IMGBUILD" --root "$R" import "$TEST_TMP/tiny.tar" tiny
before=$("$IMGBUILD" --root "$R" images)
hex=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
for bad in 'a:b:c' 'a@sha256:abcd' 'q@ SPACE/../X' 'UPPER' 'a//b' 'a/../b' "tiny@sha256:$hex" "$hex" 'x:'; do
  check_exit "tag tiny '$bad' is refused" 2 "$IMGBUILD" --root "$R" tag tiny "$bad"
  expect_match "tag '$bad': the error names it and says why" "invalid (reference|tag) \"$(sed 's/[][\.*^$?+(){}|/]/\\&/g' <<<"$bad")\": " "$ERR"
done
mkdir -p "$TEST_TMP/ref-ctx"; printf 'FROM tiny\n' >"$TEST_TMP/ref-ctx/Dockerfile"
check_exit "build -t a:b:c is refused" 2 "$IMGBUILD" --root "$R" build -t a:b:c "$TEST_TMP/ref-ctx"
expect_match "build -t names the reference" 'invalid reference "a:b:c": path component "a:b"' "$ERR"
check_exit "build -t a@sha256:abcd is refused" 2 "$IMGBUILD" --root "$R" build -t a@sha256:abcd "$TEST_TMP/ref-ctx"
check_exit "import with a bad name is refused" 2 "$IMGBUILD" --root "$R" import "$TEST_TMP/tiny.tar" 'a:b:c'
expect_eq "refused names change nothing" "$before" "$("$IMGBUILD" --root "$R" images)"
check "a good name with registry, port, path and tag still works" "$IMGBUILD" --root "$R" tag tiny 127.0.0.1:5000/a/b-c_d.e:v1.0
check "docker.io names take their short form" "$IMGBUILD" --root "$R" tag tiny docker.io/library/short:1
check "and are found by it" "$IMGBUILD" --root "$R" inspect short:1
rm -rf "$R"

section "a full disk is reported as ENOSPC (load into a small tmpfs store, save onto it)"
{
  FULL=$TEST_TMP/full
  mkdir -p "$FULL"
  if mount -t tmpfs -o size=6m tmpfs "$FULL"; then
    at_exit umount -l "$FULL"
    B=$(new_store)
    mkdir -p "$TEST_TMP/big"; head -c 12M /dev/urandom >"$TEST_TMP/big/random"
    tar -C "$TEST_TMP/big" -cf "$TEST_TMP/big.tar" .
    "$IMGBUILD" --root "$B" import "$TEST_TMP/big.tar" big >/dev/null
    "$IMGBUILD" --root "$B" save -o "$TEST_TMP/big-image.tar" big
    "$IMGBUILD" --root "$B" import "$TEST_TMP/tiny.tar" tiny >/dev/null
    "$IMGBUILD" --root "$B" save -o "$TEST_TMP/tiny-image.tar" tiny
    S=$FULL/store
    check "load of a small image into the tmpfs store" "$IMGBUILD" --root "$S" load -i "$TEST_TMP/tiny-image.tar"
    check_exit "load of a 12 MB image into 6 MB fails" 1 "$IMGBUILD" --root "$S" load -i "$TEST_TMP/big-image.tar"
    expect_match "and says the disk is full" 'ENOSPC \(No space left on device\)' "$ERR"
    expect_no_match "no stale errno" 'ENOENT' "$ERR"
    check "the store still has the small image" "$IMGBUILD" --root "$S" inspect tiny
    check "and passes fsck" "$IMGBUILD" --root "$S" fsck
    head -c 5M /dev/urandom >"$FULL/filler" 2>/dev/null
    check_exit "save onto the full tmpfs fails" 1 "$IMGBUILD" --root "$B" save -o "$FULL/out.tar" big
    expect_match "save says the disk is full" 'ENOSPC|No space left on device' "$ERR"
    expect_eq "and leaves no partial file" "" "$(ls "$FULL" | grep -E 'out\.tar')"
    rm -f "$FULL/filler"
    rm -rf "$B"
  else
    echo "# skipped: cannot mount a tmpfs here"
  fi
}

section "done in $(elapsed "$started")s"
finish
