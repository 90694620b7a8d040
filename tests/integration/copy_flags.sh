#!/usr/bin/env bash
# BuildKit's COPY flags and semantics end to end: --exclude and --parents (Dockerfile 1.7
# labs), WORKDIR made as the current USER, errors that name their step, a source hidden by
# .dockerignore, `images` columns, COPY --link rebasing, build --squash / --squash-all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }
in_image() { run ib run --rm "$1" sh -c "$2"; }
layer_count() { ib inspect --format '{{json .RootFS.Layers}}' "$1" | jq length; }

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

finish
