#!/usr/bin/env bash
# Error kinds (issue 11): damaged stored data (meta.json, config, manifest, index) and a name
# that is not there are failures, exit 1, naming the path or the name; only bad command-line
# input is a usage error, exit 2. Needs no root: the image is a COPY onto scratch.
#   IMGBUILD=build/cli/imgbuild bash tests/integration/error_kinds.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GOOD=$(new_store)
mkdir -p "$TEST_TMP/ctx"
printf 'FROM scratch\nCOPY f /f\n' >"$TEST_TMP/ctx/Dockerfile"
echo hello >"$TEST_TMP/ctx/f"
check "build a COPY-only image" "$IMGBUILD" --root "$GOOD" build -q -t app "$TEST_TMP/ctx"

# fresh_copy: $D becomes a copy of the good store; dm runs imgbuild on it.
D=$TEST_TMP/damaged
fresh_copy() { rm -rf "$D"; cp -a "$GOOD" "$D"; }
dm() { "$IMGBUILD" --root "$D" "$@"; }
layer_meta() { ls "$D"/layers/*/meta.json | head -n 1; }
blob_of() { jq -r "$1" "$D/blobs/sha256/${2#sha256:}"; }
manifest_digest() { jq -r '.manifests[0].digest' "$D/images/index.json"; }

# ---- a meta.json that is not JSON, and one that lacks a key
for damage in garbage missing-key; do
  fresh_copy
  meta=$(layer_meta)
  case $damage in
    garbage) echo '{garbage' >"$meta" ;;
    missing-key) echo '{"blobs": []}' >"$meta" ;;
  esac
  for verb in inspect history; do
    check_exit "meta.json $damage: $verb is exit 1, not a usage error" 1 dm "$verb" app
    expect_match "meta.json $damage: $verb names the path" "$meta" "$ERR"
  done
  check_exit "meta.json $damage: save is exit 1" 1 dm save -o "$TEST_TMP/x.tar" app
  expect_match "meta.json $damage: save names the path" "$meta" "$ERR"
  check_exit "meta.json $damage: images is exit 1" 1 dm images
  expect_match "meta.json $damage: images names the path" "$meta" "$ERR"
done

# ---- a config blob and a manifest blob whose bytes changed
for what in config manifest; do
  fresh_copy
  m=$(manifest_digest)
  if [[ $what == config ]]; then target=$(blob_of .config.digest "$m"); else target=$m; fi
  chmod u+w "$D/blobs/sha256/${target#sha256:}"  # blobs are stored read-only
  echo '{not json' >"$D/blobs/sha256/${target#sha256:}"
  check_exit "$what blob damaged: inspect is exit 1" 1 dm inspect app
  expect_match "$what blob damaged: the error names the blob" "${target}.*damaged" "$ERR"
done

# ---- images/index.json damaged with no backup to fall back on
fresh_copy
rm -f "$D"/images/index.backup.json
sed -i 's/"digest": *"sha256:[0-9a-f]\{4\}/"digest": "sha256:ZZZZ/' "$D/images/index.json"
check_exit "index.json with a bad digest and no backup: exit 1" 1 dm images
expect_match "the error names index.json" "$D/images/index.json" "$ERR"

# ---- names that are not there: "not found", exit 1
fresh_copy
for cmd in "inspect nosuchimage" "history nosuchimage" "rmi nosuchimage" "tag nosuchimage other" \
  "save -o $TEST_TMP/y.tar nosuchimage"; do
  # shellcheck disable=SC2086 # the words of $cmd are the arguments
  check_exit "$cmd: exit 1" 1 dm $cmd
  expect_match "$cmd: says not found" 'not found: nosuchimage' "$ERR"
done

# ---- usage errors: exit 2
check_exit "an unknown flag is a usage error" 2 dm inspect --no-such-flag app
check_exit "an unknown flag of build is a usage error" 2 dm build --no-such-flag "$TEST_TMP/ctx"
check_exit "a bad --filter value is a usage error" 2 dm image prune -f --filter until=yesterday
check_exit "an invalid reference is a usage error" 2 dm tag app 'a:b:c'

# The good store is untouched by all of this.
check "the good store passes fsck" "$IMGBUILD" --root "$GOOD" fsck
finish
