#!/usr/bin/env bash
# Store robustness (issue 11): gc and prune (tags, cache entries, leases of live processes),
# prune concurrent with builds, kill -9 at random points, damage of every kind of object
# found by fsck and repaired by fsck --repair or by a load of a good archive.
#   IMGBUILD=build/cli/imgbuild bash tests/integration/store_robustness.sh [--stress]
# --stress: 100 kills (and 100 kills of run --rm) instead of 20 (run by hand; the suite runs the bounded number).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export SOURCE_DATE_EPOCH=1700000000  # rebuilds give the same image id

if [[ $(id -u) != 0 ]]; then
  echo "skipped: store_robustness.sh needs root (RUN steps need namespaces and overlayfs)"
  exit 77
fi
KILLS=20 RUN_KILLS=20
[[ ${1:-} == --stress ]] && KILLS=100 RUN_KILLS=100

started=$(now)
section() { echo "# ---- $1 (at $(elapsed "$started")s)"; }
STORE=$(new_store)
ib() { "$IMGBUILD" --root "$STORE" "$@"; }
id_of() { "$IMGBUILD" --root "$STORE" inspect --format '{{.Id}}' "$1"; }
count() { find "$1" -mindepth 1 -maxdepth 1 | wc -l; }
start_time_of() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat"; }

# A context whose build makes two layers (RUN and COPY) on busybox; $2 makes it unique.
make_ctx() {
  mkdir -p "$1"
  printf 'FROM busybox\nRUN echo %s > /run.txt\nCOPY f /f\nENV K=%s\n' "$2" "$2" >"$1/Dockerfile"
  echo "file $2" >"$1/f"
}

section "setup"
check "busybox base" make_busybox_base "$STORE"
make_ctx "$TEST_TMP/app" app
check "build app" ib build -q -t app "$TEST_TMP/app"
app_id=$(id_of app)

# ============================================================================ gc and prune
section "prune keeps what tags and cache reach, removes the rest"
blobs_before=$(count "$STORE/blobs/sha256"); layers_before=$(count "$STORE/layers")
check "image prune -f with everything reachable" ib image prune -f
expect_match "nothing to remove" '^Deleted 0 layers, 0 blobs' "$OUT"
expect_eq "blobs unchanged" "$blobs_before" "$(count "$STORE/blobs/sha256")"
expect_eq "layers unchanged" "$layers_before" "$(count "$STORE/layers")"
check "app still runs" ib run --rm app cat /run.txt
expect_eq "app output" "app" "$OUT"

check "system df" ib system df
expect_match "df: images row" '^Images +2 +0 ' "$OUT"
expect_match "df: build cache row" '^Build Cache +[1-9]' "$OUT"

make_ctx "$TEST_TMP/other" other
check "build an untagged image" ib build -q "$TEST_TMP/other"
check "image prune removes the dangling image" ib image prune -f
expect_match "image prune names the deleted image" '^deleted: sha256:' "$OUT"
check "image prune keeps app" ib inspect app
check "a cached rebuild of the pruned image hits the cache (image prune keeps it)" ib build --progress plain "$TEST_TMP/other"
expect_match "cached steps" 'CACHED' "$OUT$ERR"

check "rmi app" ib rmi app
check "system df after rmi" ib system df
check "builder prune" ib builder prune -f
expect_match "builder prune removed entries" '^Deleted build cache entries: [1-9]' "$OUT"
expect_match "builder prune freed the app's layers" '^Deleted [1-9][0-9]* layers' "$OUT"
check "busybox survives builder prune" ib inspect busybox
check "prune -a -f" ib prune -a -f
expect_match "prune -a untags busybox" '^untagged: busybox:latest' "$OUT"
expect_eq "no blobs left" 0 "$(count "$STORE/blobs/sha256")"
expect_eq "no layers left" 0 "$(count "$STORE/layers")"
expect_eq "no dangling short links left" "" "$(find "$STORE/l" -xtype l)"
check "fsck of the emptied store" ib fsck

section "containers are gc roots; container prune"
make_busybox_base "$STORE" gcroot:latest >/dev/null
run ib run -d --name gc-keep gcroot:latest sleep 300
expect_eq "a detached container of gcroot" 0 "$RC"
check "untag its image" ib rmi -f gcroot:latest
check "prune -a while the container lives" ib prune -a
check "stop it" ib stop -t 1 gc-keep
run ib start gc-keep
expect_eq "it starts again: prune kept its layers" 0 "$RC"
check "stop it again" ib stop -t 1 gc-keep
run ib container prune
expect_match "container prune removes the stopped container" "^[0-9a-f]{64}$" "$OUT"
run ib ps -a -q
expect_eq "no container left" "" "$OUT"
check "fsck passes after the container prune" ib fsck

section "rebuild after prune: same image id"
check "busybox base again" make_busybox_base "$STORE"
check "rebuild app" ib build -q -t app "$TEST_TMP/app"
expect_eq "same image id as before the prune" "$app_id" "$(id_of app)"

section "--filter until"
check_exit "unknown filter is a usage error" 2 ib prune -f --filter label=x
check_exit "bad until is a usage error" 2 ib image prune -f --filter until=yesterday
check "image prune -a --filter until=2000-01-01T00:00:00Z keeps newer images" ib image prune -a -f --filter until=2000-01-01T00:00:00Z
check "app kept by until" ib inspect app
check "builder prune --filter until=1h keeps fresh entries" ib builder prune -f --filter until=1h
expect_no_match "no entry removed" '^Deleted build cache entries' "$OUT"

section "leases: a live process's lease keeps an object, a dead one's does not"
make_ctx "$TEST_TMP/leased" leased
check "build leased" ib build -q -t leased "$TEST_TMP/leased"
leased_layer=$(grep -lx leased "$STORE"/layers/*/diff/run.txt | head -1 | xargs dirname | xargs dirname | xargs basename)
expect_ne "found the leased image's RUN layer" "" "$leased_layer"
sleep 600 & holder=$!
at_exit kill "$holder"
echo "layer $leased_layer" >"$STORE/leases/$holder-$(start_time_of $holder)-test"
ib rmi leased >/dev/null
echo "layer $leased_layer" >"$STORE/leases/999999999-1-dead"
check "prune with a live and a stale lease" ib prune -a -f
expect_match "stale lease removed" 'stale leases' "$OUT"
expect_true "stale lease file gone" test ! -e "$STORE/leases/999999999-1-dead"
expect_true "leased layer kept" test -d "$STORE/layers/$leased_layer/diff"
kill "$holder"; wait "$holder" 2>/dev/null
check "prune after the holder ended" ib prune -a -f
expect_true "layer of the dead holder removed" test ! -e "$STORE/layers/$leased_layer"

# ============================================================================ concurrency
section "8 concurrent builds and prunes on one store"
check "busybox base" make_busybox_base "$STORE"
for i in 1 2 3 4 5 6 7 8; do
  make_ctx "$TEST_TMP/c$i" "c$i"
  printf 'RUN echo two-%s > /two\nCOPY f /g\n' "$i" >>"$TEST_TMP/c$i/Dockerfile"
done
pids=()
for i in 1 2 3 4 5 6 7 8; do
  (ib build -q --no-cache -t "c$i" "$TEST_TMP/c$i" >"$TEST_TMP/b$i.out" 2>&1; echo $? >"$TEST_TMP/b$i.rc") &
  pids+=($!)
done
prunes=0
while kill -0 "${pids[@]}" 2>/dev/null; do
  ib prune -f >/dev/null 2>"$TEST_TMP/prune.err" || break
  ib builder prune -f >/dev/null 2>>"$TEST_TMP/prune.err" || break
  prunes=$((prunes + 1))
done
wait "${pids[@]}"
expect_true "prunes ran during the builds ($prunes rounds)" test "$prunes" -gt 0
expect_eq "no prune failed" "" "$(cat "$TEST_TMP/prune.err")"
ok=0
for i in 1 2 3 4 5 6 7 8; do
  if [[ $(cat "$TEST_TMP/b$i.rc") == 0 ]] && [[ $(ib run --rm "c$i" cat /run.txt /two /g 2>&1) == "c$i"$'\n'"two-$i"$'\n'"file c$i" ]]; then
    ok=$((ok + 1))
  else
    fail "build c$i" "$(cat "$TEST_TMP/b$i.out")" "$(ib run --rm "c$i" cat /run.txt /two /g 2>&1)"
  fi
done
expect_eq "all 8 builds succeeded and run" 8 "$ok"
check "prune after the builds" ib prune -f
check "fsck after concurrent builds and prunes" ib fsck
expect_eq "no lease left behind" 0 "$(count "$STORE/leases")"

section "prune -a during 8 builds: what a running build holds (its lease) is never removed"
# prune -a removes every image no container uses, the base included, as soon as nothing
# holds it: each build has leased its base layers once its lease file names a layer.
for i in 1 2 3 4 5 6 7 8; do
  make_ctx "$TEST_TMP/a$i" "a$i"
  printf 'RUN sleep 1; echo slow-%s > /two\nCOPY f /g\n' "$i" >>"$TEST_TMP/a$i/Dockerfile"
done
check "busybox base" make_busybox_base "$STORE"
pids=()
for i in 1 2 3 4 5 6 7 8; do
  (ib build -q --no-cache "$TEST_TMP/a$i" >"$TEST_TMP/a$i.out" 2>"$TEST_TMP/a$i.err"; echo $? >"$TEST_TMP/a$i.rc") &
  pids+=($!)
done
# (a build that is done has released its lease)
holding() { echo $(($(grep -l '^layer ' "$STORE"/leases/* 2>/dev/null | wc -l) + $(ls "$TEST_TMP"/a*.rc 2>/dev/null | wc -l))); }
for ((w = 0; w < 600; w++)); do
  (($(holding) >= 8)) && break
  sleep 0.1
done
expect_eq "8 builds hold their base (leases naming a layer) or are done" 8 "$(holding)"
prunes=0
while kill -0 "${pids[@]}" 2>/dev/null; do
  ib prune -a -f >/dev/null 2>"$TEST_TMP/prune.err" || break
  prunes=$((prunes + 1))
done
wait "${pids[@]}"
expect_true "prune -a ran during the builds ($prunes rounds)" test "$prunes" -gt 0
expect_eq "no prune -a failed" "" "$(cat "$TEST_TMP/prune.err")"
expect_no_match "busybox was pruned (only the leases kept its layers)" "^busybox " "$(ib images 2>/dev/null)"
ok=0
check "busybox base again" make_busybox_base "$STORE"
for i in 1 2 3 4 5 6 7 8; do
  # The same build without a concurrent prune gives the same image id: the pruned-under
  # build used intact layers.
  again=$(ib build -q --no-cache -t "a$i" "$TEST_TMP/a$i" 2>/dev/null)
  if [[ $(cat "$TEST_TMP/a$i.rc") == 0 && $(cat "$TEST_TMP/a$i.out") == "$again" ]] &&
    [[ $(ib run --rm "a$i" cat /run.txt /two /g 2>&1) == "a$i"$'\n'"slow-$i"$'\n'"file a$i" ]]; then
    ok=$((ok + 1))
  else
    fail "build a$i under prune -a" "$(cat "$TEST_TMP/a$i.out" "$TEST_TMP/a$i.err")" "again: $again"
  fi
done
expect_eq "all 8 builds under prune -a succeeded with the ids of a quiet rebuild" 8 "$ok"
check "fsck after the builds under prune -a" ib fsck

# ============================================================================ damage and repair
section "damage of every kind of object: found, never used silently, repaired"
# A template store: busybox (its layer with a gzip blob, from loading a gzip archive) and app.
TPL=$(new_store)
tpl() { "$IMGBUILD" --root "$TPL" "$@"; }
make_busybox_base "$TPL" >/dev/null 2>&1
tpl save --compression gzip -o "$TEST_TMP/busybox.tar" busybox >/dev/null
rm -rf "$TPL"
tpl load -i "$TEST_TMP/busybox.tar" >/dev/null
tpl build -q -t app "$TEST_TMP/app" >/dev/null
tpl save -o "$TEST_TMP/app.tar" app >/dev/null
check "template store passes fsck" tpl fsck
tpl_app_id=$("$IMGBUILD" --root "$TPL" inspect --format '{{.Id}}' app)
tpl_busybox_id=$("$IMGBUILD" --root "$TPL" inspect --format '{{.Id}}' busybox)
manifest_of() { jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$1/images/index.json" | sed 's/^sha256://'; }
config_of() { jq -r .config.digest "$1/blobs/sha256/$(manifest_of "$1" "$2")" | sed 's/^sha256://'; }
gz_blob_of() { jq -r '.layers[0].digest' "$1/blobs/sha256/$(manifest_of "$1" busybox:latest)" | sed 's/^sha256://'; }
run_layer_of() { grep -lx app "$1"/layers/*/diff/run.txt | head -1 | xargs dirname | xargs dirname; }
flip_byte() { chmod u+w "$1"; printf 'X' | dd of="$1" bs=1 seek="${2:-10}" conv=notrunc status=none; }

# damage KIND: breaks one object of a fresh copy of the template store in $D.
damage() {
  case $1 in
    blob) flip_byte "$D/blobs/sha256/$(gz_blob_of "$D")" 100 ;;
    config) flip_byte "$D/blobs/sha256/$(config_of "$D" app:latest)" ;;
    manifest) flip_byte "$D/blobs/sha256/$(manifest_of "$D" app:latest)" ;;
    diff-file) echo changed >>"$(run_layer_of "$D")/diff/run.txt" ;;
    diff-dir) rm -rf "$(run_layer_of "$D")/diff" ;;
    meta) echo '{garbage' >"$(run_layer_of "$D")/meta.json" ;;
  esac
}
# what fsck must say about each
declare -A says=([blob]='blob sha256:[0-9a-f]{64}: content hashes to' [config]='blob sha256:[0-9a-f]{64}: content hashes to'
  [manifest]='blob sha256:[0-9a-f]{64}: content hashes to' [diff-file]='diff/ has changed' [diff-dir]='diff/ is missing'
  [meta]='meta.json')
# the image a damage breaks, and the archive that restores it
declare -A image_of=([blob]=busybox [config]=app [manifest]=app [diff-file]=app [diff-dir]=app [meta]=app)
for kind in blob config manifest diff-file diff-dir meta; do
  for fix in repair load; do
    D=$TEST_TMP/damaged-$kind-$fix
    rm -rf "$D"; cp -a "$TPL" "$D"
    dm() { "$IMGBUILD" --root "$D" "$@"; }
    damage "$kind"
    run dm fsck
    if ((RC == 1)) && grep -Eq -- "${says[$kind]}" <<<"$ERR"; then pass "$kind/$fix: fsck names the damage"; else fail "$kind/$fix: fsck names the damage" "$(_last_command_diag)"; fi
    run dm fsck "${image_of[$kind]}"
    if ((RC == 1)); then pass "$kind/$fix: fsck ${image_of[$kind]} finds it"; else fail "$kind/$fix: fsck ${image_of[$kind]} finds it" "$(_last_command_diag)"; fi
    case $kind in
      blob)
        damaged_gz=$(gz_blob_of "$D")
        # save never ships it: it refuses, or makes the blob again from diff/ (the same bytes
        # when diff/ re-tars to the layer's diff_id); on a copy, as that repairs the store.
        rm -rf "$D.save"; cp -a "$D" "$D.save"
        run "$IMGBUILD" --root "$D.save" save -o "$TEST_TMP/x.tar" busybox
        if ((RC == 0)); then
          check "$kind/$fix: save made the blob again: it hashes to its digest" \
            bash -c "sha256sum <'$D.save/blobs/sha256/$damaged_gz' | grep -q '^$damaged_gz '"
          check "$kind/$fix: and the archive loads (every blob checked)" "$IMGBUILD" --root "$(new_store)" load -i "$TEST_TMP/x.tar"
        else
          expect_match "$kind/$fix: save refuses the damaged blob, naming it" "$damaged_gz" "$ERR"
        fi
        rm -rf "$D.save" "$TEST_TMP/x.tar"
        check "$kind/$fix: a build on the damaged base (its diff/ is intact)" dm build -q --no-cache -t app "$TEST_TMP/app"
        expect_match "$kind/$fix: the build says it left the blob out" "blob sha256:$damaged_gz is damaged: not referenced" "$ERR"
        expect_no_match "$kind/$fix: the new manifest does not reference the damaged blob" "$damaged_gz" \
          "$(jq -r '.layers[].digest' "$D/blobs/sha256/$(manifest_of "$D" app:latest)")" ;;
      config | manifest | meta) check_exit "$kind/$fix: run does not use it" 125 dm run --rm app true ;;
      # A changed or removed diff/ is noticed before use (its stamp, layer_stamp.h); app's
      # layers have blobs (the save recorded them), so run unpacks the layer again from its
      # blob. (The repair variant leaves it to fsck --repair; a layer without a blob: below.)
      diff-file | diff-dir)
        if [[ $fix == load ]]; then
          check "$kind/$fix: run repairs the layer from its blob before use" dm run --rm app cat /run.txt
          expect_eq "$kind/$fix: and runs the original content" "app" "$OUT"
          expect_match "$kind/$fix: it says so" "layer [0-9a-f]{64}: ${says[$kind]}.*unpacked it again from blob" "$ERR"
          check "$kind/$fix: fsck passes after the repair on use" dm fsck
        fi ;;
    esac
    if [[ $fix == repair ]]; then
      check "$kind/$fix: fsck --repair" dm fsck --repair
      expect_match "$kind/$fix: repair says what it removed" '^removed ' "$OUT"
      if [[ $kind == blob ]]; then
        # Its only damage was the loaded layer's compressed blob: the image keeps its name and
        # id, its manifest now names that layer by its tar (made again from diff/).
        expect_match "$kind/$fix: busybox keeps its name" '^kept .*busybox:latest \(same id\)' "$OUT"
        expect_no_match "$kind/$fix: ... not removed" 'removed the name' "$OUT"
        expect_eq "$kind/$fix: ... and its id" "$tpl_busybox_id" "$(dm inspect --format '{{.Id}}' busybox 2>&1)"
        check "$kind/$fix: the store passes fsck before any load" dm fsck
        check "$kind/$fix: busybox runs" dm run --rm busybox true
        check "$kind/$fix: save compresses the layer again" dm save -o "$TEST_TMP/x.tar" busybox
        check "$kind/$fix: ... into an archive that loads (every blob checked)" "$IMGBUILD" --root "$(new_store)" load -i "$TEST_TMP/x.tar"
        rm -f "$TEST_TMP/x.tar"
      fi
      [[ ${image_of[$kind]} == busybox ]] && dm load -i "$TEST_TMP/busybox.tar" >/dev/null
      check "$kind/$fix: the store passes fsck after the repair" dm fsck
    else
      check "$kind/$fix: load of a good archive" dm load -i "$TEST_TMP/${image_of[$kind]}.tar"
    fi
    [[ $kind == manifest ]] && check "$kind/$fix: image prune removes the damaged manifest nothing references" dm image prune -f
    check "$kind/$fix: rebuild" dm build -q -t app "$TEST_TMP/app"
    # (app's manifest in the archive and after the rebuild references the gzip blobs that
    # the first save recorded: the damaged original is unreachable, and prune removes it)
    check "$kind/$fix: the store passes fsck" dm fsck
    expect_eq "$kind/$fix: same image id" "$tpl_app_id" "$("$IMGBUILD" --root "$D" inspect --format '{{.Id}}' app 2>&1)"
    check "$kind/$fix: app runs" dm run --rm app cat /run.txt
    rm -rf "$D"
  done
done

section "a changed or removed diff/ without a blob: run and build refuse it, fsck --repair fixes it"
for kind in diff-file diff-dir; do
  D=$(new_store)
  dm() { "$IMGBUILD" --root "$D" "$@"; }
  check "$kind: load busybox into a fresh store" dm load -i "$TEST_TMP/busybox.tar"
  check "$kind: build app (its RUN layer has no blob: nothing saved it)" dm build -q -t app "$TEST_TMP/app"
  damage "$kind"
  check_exit "$kind: run refuses the damaged layer" 125 dm run --rm app cat /run.txt
  expect_match "$kind: the error names the layer and the fix" "layer [0-9a-f]{64}: ${says[$kind]}.*fsck --repair" "$ERR"
  mkdir -p "$TEST_TMP/on-app"; printf 'FROM app\nRUN cat /run.txt\n' >"$TEST_TMP/on-app/Dockerfile"
  check_exit "$kind: a RUN on top of it refuses it" 1 dm build -q --no-cache "$TEST_TMP/on-app"
  expect_match "$kind: the build error names the layer" "layer [0-9a-f]{64}: ${says[$kind]}" "$ERR"
  check "$kind: fsck --repair" dm fsck --repair
  check "$kind: rebuild" dm build -q -t app "$TEST_TMP/app"
  expect_eq "$kind: same image id" "$tpl_app_id" "$("$IMGBUILD" --root "$D" inspect --format '{{.Id}}' app 2>&1)"
  check "$kind: app runs" dm run --rm app cat /run.txt
  expect_eq "$kind: with its content" "app" "$OUT"
  check "$kind: fsck passes" dm fsck
  rm -rf "$D"
done

section "a lower changed on disk before a RUN: its stamp is checked beside the container, the step runs again over the repaired lower"
# The RUN reads the changed file: a layer made over the damaged lower is thrown away, never
# committed or cached; the one kept holds what the verified (unpacked again) lower has.
mkdir -p "$TEST_TMP/reads-app"; printf 'FROM app\nRUN cat /run.txt >/copy.txt\n' >"$TEST_TMP/reads-app/Dockerfile"
for kind in diff-file diff-dir; do
  D=$TEST_TMP/rerun-$kind
  rm -rf "$D"; cp -a "$TPL" "$D"
  dm() { "$IMGBUILD" --root "$D" "$@"; }
  # cp -a moved every ctime: the first RUN finds the stamps changed, the content the same
  check "$kind: a RUN over the copied store" dm build -q --no-cache -t reads "$TEST_TMP/reads-app"
  expect_match "$kind: re-stamps its lowers, and runs the step again" \
    "^imgbuild: warning: step 2/2 RUN cat /run.txt >/copy.txt: layers [0-9a-f]{64}, [0-9a-f]{64}.* did not match the recorded stamp.*running the step again over them$" "$ERR"
  expect_eq "$kind: once" 1 "$(grep -c 'running the step again' <<<"$ERR")"
  check "$kind: a RUN over untouched lowers" dm build -q --no-cache -t reads "$TEST_TMP/reads-app"
  expect_no_match "$kind: says nothing about stamps" "stamp" "$ERR"
  damage "$kind"
  check "$kind: a RUN over the changed lower succeeds" dm build -q --no-cache -t reads "$TEST_TMP/reads-app"
  expect_match "$kind: the layer is unpacked again from its blob" "layer [0-9a-f]{64}: ${says[$kind]}.*unpacked it again from blob" "$ERR"
  expect_match "$kind: and the step runs again, saying why" "RUN cat /run.txt >/copy.txt: layer [0-9a-f]{64} did not match the recorded stamp.*running the step again" "$ERR"
  check "$kind: the image runs" dm run --rm reads cat /copy.txt
  expect_eq "$kind: its layer holds what the verified lower has" "app" "$OUT"
  expect_eq "$kind: no layer in the store holds output made over the damaged lower" "" \
    "$(grep -l changed "$D"/layers/*/diff/copy.txt 2>/dev/null)"
  check "$kind: fsck passes" dm fsck
  rm -rf "$D"
done

section "error kinds: damaged stored data is exit 1 with the path, not a usage error"
D=$TEST_TMP/damaged-kinds
rm -rf "$D"; cp -a "$TPL" "$D"
meta=$(run_layer_of "$D")/meta.json
sed -i 's/"diff_id":"sha256:[0-9a-f]\{4\}/"diff_id":"sha256:ZZZZ/' "$meta"
check_exit "inspect with a bad digest in meta.json: exit 1" 1 "$IMGBUILD" --root "$D" inspect app
expect_match "the error names meta.json" "$meta" "$ERR"
check_exit "an image that is not there: exit 1" 1 "$IMGBUILD" --root "$D" inspect nosuchimage
rm -rf "$D"

section "damage of the index: names kept by its backup"
D=$TEST_TMP/damaged-index
rm -rf "$D"; cp -a "$TPL" "$D"
dm() { "$IMGBUILD" --root "$D" "$@"; }
dm tag app app:again >/dev/null  # a write: makes the backup in a store made before backups
app_manifest=$(manifest_of "$D" app:latest)
printf '{"manifests": [' >"$D/images/index.json"
check "images with a damaged index.json (the backup is read)" dm images
expect_match "images warns about the damaged index" 'index.json.*using .*index.backup.json' "$ERR"
expect_match "the names are still there" '^app ' "$OUT"
check "run by name with a damaged index.json" dm run --rm app cat /run.txt
check_exit "fsck names the damaged index" 1 dm fsck
expect_match "fsck: index" '^fsck: index: ' "$ERR"
check "fsck --repair restores the index" dm fsck --repair
expect_match "repair says so" '^restored .*index.json from .*index.backup.json' "$OUT"
check "fsck passes after the index repair" dm fsck
expect_no_match "no warning after the repair" 'warning' "$(dm images 2>&1)"

printf 'x' >"$D/images/index.json"; printf 'y' >"$D/images/index.backup.json"
check_exit "images with both index files damaged fails" 1 dm images
expect_match "and says the names are lost and how to go on" 'fsck --repair' "$ERR"
check "inspect by manifest digest works without names" dm inspect "sha256:$app_manifest"
check "fsck --repair with both index files damaged" dm fsck --repair
expect_match "repair lists the images again, without names" '^rebuilt .*without names' "$OUT"
check "fsck passes" dm fsck
check "load brings the names back" dm load -i "$TEST_TMP/app.tar"
check "load busybox" dm load -i "$TEST_TMP/busybox.tar"
check "rebuild" dm build -q -t app "$TEST_TMP/app"
expect_eq "same image id" "$tpl_app_id" "$("$IMGBUILD" --root "$D" inspect --format '{{.Id}}' app 2>&1)"
check "fsck passes at the end" dm fsck
rm -rf "$D"

section "a damaged blob of a built layer: fsck --repair drops the blob and its record, keeps diff/"
# app's RUN layer has a gzip blob since the template's save; its diff/ is sound.
D=$TEST_TMP/damaged-built-blob
rm -rf "$D"; cp -a "$TPL" "$D"
dm() { "$IMGBUILD" --root "$D" "$@"; }
L=$(run_layer_of "$D")
rb=$(jq -r '.blobs[0].digest' "$L/meta.json" | sed 's/^sha256://')
expect_match "the RUN layer has a blob (the save recorded it)" '^[0-9a-f]{64}$' "$rb"
flip_byte "$D/blobs/sha256/$rb" 20
check_exit "fsck finds the damaged blob" 1 dm fsck
expect_match "as the layer's blob" "layer [0-9a-f]{64}: its blob sha256:$rb is damaged" "$ERR"
check "fsck --repair" dm fsck --repair
expect_match "it removed the blob" "removed blob sha256:$rb" "$OUT"
expect_no_match "not the layer, nor the image's name" "removed layer|removed the name" "$OUT"
expect_true "diff/ is kept" test -f "$L/diff/run.txt"
expect_eq "meta.json no longer lists the blob" "" "$(jq -r '.blobs[].digest' "$L/meta.json" | grep "$rb")"
check "fsck passes after the repair" dm fsck
expect_eq "same image id" "$tpl_app_id" "$(dm inspect --format '{{.Id}}' app 2>&1)"
check "app runs" dm run --rm app cat /run.txt
expect_eq "its content" "app" "$OUT"
check "save compresses the layer again" dm save --format oci -o "$TEST_TMP/repaired.tar" app
expect_true "the layer has a blob again" test -n "$(jq -r '.blobs[].digest' "$L/meta.json")"
check "skopeo copies the archive (every blob checked against its digest)" \
  skopeo copy --quiet "oci-archive:$TEST_TMP/repaired.tar" "dir:$TEST_TMP/repaired-dir"
expect_eq "the archive's image id" "$tpl_app_id" "$(jq -r .config.digest "$TEST_TMP/repaired-dir/manifest.json")"
check "fsck passes after the save" dm fsck
rm -rf "$D" "$TEST_TMP/repaired-dir" "$TEST_TMP/repaired.tar"

section "a blob changed in place with its mtime restored (touch -r): never trusted"
D=$TEST_TMP/touched-blob
rm -rf "$D"; cp -a "$TPL" "$D"
dm() { "$IMGBUILD" --root "$D" "$@"; }
# (as is, only to restore the mtime and size)
damage_in_place() { cp -p "$1" "$TEST_TMP/blob-orig"; flip_byte "$1" "$2"; chmod 0444 "$1"; touch -r "$TEST_TMP/blob-orig" "$1"; }
gz=$(gz_blob_of "$D")
damage_in_place "$D/blobs/sha256/$gz" 100
expect_eq "base blob: size and mtime as before" "$(stat -c '%s %Y' "$TEST_TMP/blob-orig")" "$(stat -c '%s %Y' "$D/blobs/sha256/$gz")"
check "a build on the base (its diff/ is intact)" dm build -q --no-cache -t app2 "$TEST_TMP/app"
expect_match "the build says it left the blob out" "blob sha256:$gz is damaged: not referenced" "$ERR"
expect_no_match "the new manifest does not reference it" "$gz" \
  "$(jq -r '.layers[].digest' "$D/blobs/sha256/$(manifest_of "$D" app2:latest)")"
# A pulled or loaded layer's blob has no other source: save refuses it, or makes a good one.
run dm save --format oci -o "$TEST_TMP/touched-base.tar" busybox
if ((RC == 0)); then
  check "save of the base: the archive it wrote is sound" skopeo copy --quiet "oci-archive:$TEST_TMP/touched-base.tar" "dir:$TEST_TMP/touched-base"
else
  expect_match "save of the base refuses the damaged blob, naming it" "$gz" "$ERR"
fi
# A built layer's blob: save makes it again from diff/.
L=$(run_layer_of "$D")
rb=$(jq -r '.blobs[0].digest' "$L/meta.json" | sed 's/^sha256://')
damage_in_place "$D/blobs/sha256/$rb" 20
check "save of app: the damaged blob of its built layer is made again" dm save --format oci -o "$TEST_TMP/touched-app.tar" app
check "skopeo copies the archive (every blob checked against its digest)" \
  skopeo copy --quiet "oci-archive:$TEST_TMP/touched-app.tar" "dir:$TEST_TMP/touched-app"
expect_eq "the archive's image id" "$tpl_app_id" "$(jq -r .config.digest "$TEST_TMP/touched-app/manifest.json")"
rm -rf "$D" "$TEST_TMP"/touched-* "$TEST_TMP/blob-orig"

# ============================================================================ kill -9
section "kill -9 at random points of builds, saves and loads ($KILLS kills)"
K=$(new_store)
kb() { "$IMGBUILD" --root "$K" "$@"; }
make_busybox_base "$K" >/dev/null 2>&1
kb save -o "$TEST_TMP/kbase.tar" busybox >/dev/null
bad=0
for ((k = 1; k <= KILLS; k++)); do
  make_ctx "$TEST_TMP/k$k" "k$k"
  case $((k % 3)) in
    # "$IMGBUILD" itself in the background, not the kb function: $! must be imgbuild's pid,
    # not that of a subshell whose kill would leave imgbuild running.
    0) "$IMGBUILD" --root "$K" build -q --no-cache -t "k$k" "$TEST_TMP/k$k" >/dev/null 2>&1 & ;;
    1) "$IMGBUILD" --root "$K" save -o "$TEST_TMP/ksave.tar" busybox >/dev/null 2>&1 & ;;
    2) "$IMGBUILD" --root "$K" load -i "$TEST_TMP/kbase.tar" >/dev/null 2>&1 & ;;
  esac
  victim=$!
  sleep "0.$((RANDOM % 40))"
  kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
  if ! kb fsck >"$TEST_TMP/kfsck" 2>&1; then bad=$((bad + 1)); fail "fsck after kill $k" "$(cat "$TEST_TMP/kfsck")"; fi
done
expect_eq "fsck passed after every kill" 0 "$bad"
expect_eq "no half archive left by a killed save" "" "$(ls -A "$TEST_TMP" | grep -E 'partial')"
check "prune after the kills" kb prune -f
expect_eq "the killed processes' leases are gone" 0 "$(count "$K/leases")"
check "fsck after the prune" kb fsck
check "a build after the kills" kb build -q -t after "$TEST_TMP/app"
check "it runs" kb run --rm after cat /run.txt

section "kill -9 of run --rm at random points ($RUN_KILLS kills): the next command leaves no trace"
# A store of its own: nothing else holds it, so its next open is the exclusive one that cleans.
K=$(new_store)
kb load -i "$TEST_TMP/kbase.tar" >/dev/null 2>&1
check "an image for the run --rm kills" kb build -q -t after "$TEST_TMP/app"
cgroups_of_store() {
  local id
  for id in $(ls "$K/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$'); do
    find /sys/fs/cgroup -maxdepth 3 -type d -name "imgbuild-${id:0:24}*" 2>/dev/null
  done
}
ids_before=$(ls "$K/containers" | grep -cE '^[0-9a-f]{64}$')
left=0
for ((k = 1; k <= RUN_KILLS; k++)); do
  "$IMGBUILD" --root "$K" run --rm after sh -c 'head -c 2000000 /dev/zero >/big; sleep 5' >/dev/null 2>&1 &
  victim=$!
  sleep "0.$((RANDOM % 60))"
  kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
  sleep 0.2  # the container's processes die with their monitor (PDEATHSIG)
  cg=$(cgroups_of_store)
  kb images >/dev/null 2>&1  # any command: the store open cleans
  n=$(ls "$K/containers" | grep -cE '^[0-9a-f]{64}$')
  if ((n != ids_before)) || [[ -n $(cgroups_of_store) ]]; then
    left=$((left + 1)); fail "run --rm kill $k left a trace" "containers: $n (before: $ids_before)" "cgroups: $(cgroups_of_store)"
  fi
  for d in $cg; do [[ -d $d ]] && { left=$((left + 1)); fail "run --rm kill $k left cgroup $d"; }; done
done
expect_eq "no record or cgroup left after any of the $RUN_KILLS kills" 0 "$left"
check "fsck after the run --rm kills" kb fsck
expect_eq "tmp/ is empty" 0 "$(count "$K/tmp")"

finish
