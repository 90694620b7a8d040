#!/usr/bin/env bash
# Hostile archives for `load`, `import` and ADD, and hostile image files for COPY --chown
# (issue 8, findings 3, 5, 9 and 10): hard links and symlinks out of the target, absolute
# names, devices, decompression bombs, huge sparse holes, a FIFO or a device as
# /etc/passwd. Each must leave nothing outside its target (host canaries unchanged, no new
# file in a watched host dir) and no copy of a host file in the store. Needs root.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "hostile_archives.sh needs root (overlay mounts, device nodes)"

STORE=$(new_store)
ib() { "$IMGBUILD" --root "$STORE" "$@"; }

# Host canaries: a world-readable one and a root-only one, each with unique content; and a
# watched dir where nothing may appear.
TOKEN="canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
HOST=$TEST_TMP/host
mkdir -p "$HOST/watched"
CANARY=$HOST/canary
SECRET=$HOST/secret
echo "$TOKEN-public" >"$CANARY"
echo "$TOKEN-secret" >"$SECRET"
chmod 0600 "$SECRET"
canary_state() { stat -c '%h %s %Y %a' "$CANARY" "$SECRET"; sha256sum "$CANARY" "$SECRET" | cut -c1-64; ls -A "$HOST/watched"; }
BEFORE=$(canary_state)

# After each attack: canaries untouched, nothing new on the host side, no copy in the store.
no_escape() {
  local what=$1
  expect_eq "$what: host canaries and watched dir unchanged" "$BEFORE" "$(canary_state)"
  if [[ -d $STORE ]] && grep -rqs --binary-files=text "$TOKEN" "$STORE"; then
    fail "$what: no copy of a host file in the store" "$(grep -rls --binary-files=text "$TOKEN" "$STORE")"
  else
    pass "$what: no copy of a host file in the store"
  fi
}

# mk_tar OUT SPEC...: a tar from python tarfile. SPEC: f:NAME:CONTENT, d:NAME,
# h:NAME:TARGET (hard link), s:NAME:TARGET (symlink), c:NAME:MAJ:MIN, p:NAME (fifo),
# F:NAME:PATH (a regular file with the content of PATH).
mk_tar() {
  python3 - "$@" <<'PY'
import io, sys, tarfile
out, specs = sys.argv[1], sys.argv[2:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for s in specs:
        kind, rest = s[0], s[2:]
        parts = rest.split(":")
        ti = tarfile.TarInfo(parts[0]); ti.mtime = 0; ti.mode = 0o644
        data = None
        if kind == "f":
            data = ":".join(parts[1:]).encode(); ti.size = len(data)
        elif kind == "F":
            data = open(parts[1], "rb").read(); ti.size = len(data)
        elif kind == "d":
            ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        elif kind == "h":
            ti.type = tarfile.LNKTYPE; ti.linkname = ":".join(parts[1:])
        elif kind == "s":
            ti.type = tarfile.SYMTYPE; ti.linkname = ":".join(parts[1:])
        elif kind == "c":
            ti.type = tarfile.CHRTYPE; ti.devmajor = int(parts[1]); ti.devminor = int(parts[2]); ti.mode = 0o666
        elif kind == "p":
            ti.type = tarfile.FIFOTYPE
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
PY
}

# docker_archive OUT LAYER_TAR [CONFIG_SPEC]: a docker-archive with one layer, whose layer
# entry is given as a tar spec (default: a real file).
docker_archive() {
  local out=$1 layer=$2 diff
  diff=$(sha256sum "$layer" | cut -c1-64)
  local cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff\"]}}"
  printf '%s' "$cfg" >"$TEST_TMP/cfg.json"
  local cid
  cid=$(sha256sum "$TEST_TMP/cfg.json" | cut -c1-64)
  printf '[{"Config":"%s.json","RepoTags":["hostile:1"],"Layers":["%s/layer.tar"]}]' "$cid" "$diff" >"$TEST_TMP/manifest.json"
  shift 2
  mk_tar "$out" "F:manifest.json:$TEST_TMP/manifest.json" "F:$cid.json:$TEST_TMP/cfg.json" "${@:-F:$diff/layer.tar:$layer}"
  echo "$diff $cid"
}

# ---- load: the outer archive's links (finding 3) -----------------------------------------

mk_tar "$TEST_TMP/ok-layer.tar" "f:hello:hi"
read -r diff cid < <(docker_archive "$TEST_TMP/ok.tar" "$TEST_TMP/ok-layer.tar")
check "load: a sound docker-archive loads" ib load -i "$TEST_TMP/ok.tar"
ib rmi hostile:1 >/dev/null 2>&1

for target in "$CANARY" "../../../../../../..$CANARY" "/$SECRET"; do
  read -r diff cid < <(docker_archive "$TEST_TMP/hl.tar" "$TEST_TMP/ok-layer.tar")
  docker_archive "$TEST_TMP/hl.tar" "$TEST_TMP/ok-layer.tar" "h:$diff/layer.tar:$target" >/dev/null
  check_exit "load: layer.tar hard-linked to $target is refused" nonzero ib load -i "$TEST_TMP/hl.tar"
  expect_match "load: the error says the link leads outside" "links outside the archive" "$ERR"
  no_escape "load hardlink $target"
done

# The config hard-linked to the root-only file: refused without quoting a byte of it.
read -r diff cid < <(docker_archive "$TEST_TMP/cfg-hl.tar" "$TEST_TMP/ok-layer.tar")
mk_tar "$TEST_TMP/cfg-hl.tar" "F:manifest.json:$TEST_TMP/manifest.json" "h:$cid.json:$SECRET" \
  "F:$diff/layer.tar:$TEST_TMP/ok-layer.tar"
check_exit "load: config hard-linked to a root-only host file is refused" nonzero ib load -i "$TEST_TMP/cfg-hl.tar"
expect_no_match "load: the error quotes nothing of the file" "$TOKEN|canary" "$ERR"
no_escape "load config hardlink"

mk_tar "$TEST_TMP/sl.tar" "F:manifest.json:$TEST_TMP/manifest.json" "s:$cid.json:$SECRET" \
  "s:$diff/layer.tar:../../../../../..$CANARY"
check_exit "load: symlinks to host files are refused" nonzero ib load -i "$TEST_TMP/sl.tar"
no_escape "load symlinks"
mk_tar "$TEST_TMP/dev.tar" "F:manifest.json:$TEST_TMP/manifest.json" "c:$cid.json:1:5"
check_exit "load: a device entry is refused" nonzero timeout 20 "$IMGBUILD" --root "$STORE" load -i "$TEST_TMP/dev.tar"
expect_match "load: the device error is clear" "not a regular file" "$ERR"
mk_tar "$TEST_TMP/abs.tar" "f:/$HOST/watched/x:pwn"
check_exit "load: an absolute entry name is refused" nonzero ib load -i "$TEST_TMP/abs.tar"
no_escape "load device and absolute names"

# ---- hostile layers through load and import ------------------------------------------------

mk_tar "$TEST_TMP/evil-layer.tar" "f:ok:fine" "h:pw:$CANARY"
docker_archive "$TEST_TMP/evil.tar" "$TEST_TMP/evil-layer.tar" >/dev/null
check_exit "load: a layer hard-linking a host file is refused" nonzero ib load -i "$TEST_TMP/evil.tar"
no_escape "load layer hardlink"
check_exit "import: a hard link to an absolute host path is refused" nonzero ib import "$TEST_TMP/evil-layer.tar" evil:1
expect_match "import: the error names the link" "hardlink target" "$ERR"
no_escape "import hardlink"

mk_tar "$TEST_TMP/esc.tar" "s:up:../../../../../../../../..$HOST/watched" "f:up/pwn:x" 
check_exit "import: a file through an archive symlink is refused" nonzero ib import "$TEST_TMP/esc.tar" esc:1
mk_tar "$TEST_TMP/esc2.tar" "s:link:$HOST/watched/new" "f:link:replaced" "c:dev/kmsg:1:11" "f:/$HOST/watched/abs:contained"
check "import: a file over a symlink and absolute names stay inside" ib import "$TEST_TMP/esc2.tar" esc2:1
no_escape "import symlinks, absolute names and devices"

# Decompression bomb: 64 MiB of zeros in ~64 KiB of gzip, with a small configured limit.
head -c $((64 << 20)) /dev/zero >"$TEST_TMP/zeros"
mk_tar "$TEST_TMP/bomb.tar" "F:zeros:$TEST_TMP/zeros"
gzip -9 -c "$TEST_TMP/bomb.tar" >"$TEST_TMP/bomb.tar.gz"
rm -f "$TEST_TMP/zeros" "$TEST_TMP/bomb.tar"
export IMGBUILD_LAYER_RATIO_FROM=8M
check_exit "import: a gzip bomb stops at the limit" nonzero ib import "$TEST_TMP/bomb.tar.gz" bomb:1
expect_match "import: the bomb error is clear" "decompression bomb" "$ERR"
docker_archive "$TEST_TMP/bomb-load.tar" "$TEST_TMP/bomb.tar.gz" >/dev/null
check_exit "load: a gzip bomb layer stops at the limit" nonzero ib load -i "$TEST_TMP/bomb-load.tar"
expect_match "load: the bomb error is clear" "decompression bomb" "$ERR"
gzip -c "$TEST_TMP/bomb-load.tar" >"$TEST_TMP/bomb-outer.tar.gz"
check_exit "load: a gzip-bomb outer archive stops at the limit" nonzero ib load -i "$TEST_TMP/bomb-outer.tar.gz"
expect_match "load: the outer bomb error is clear" "decompression bomb" "$ERR"
IMGBUILD_MAX_LAYER_RATIO=0 IMGBUILD_MAX_LAYER_SIZE=16M run ib import "$TEST_TMP/bomb.tar.gz" bomb:2
expect_match "import: the absolute size cap applies too" "IMGBUILD_MAX_LAYER_SIZE" "$ERR"
unset IMGBUILD_LAYER_RATIO_FROM
check "import: the same archive passes the default limits (64 MiB < 256 MiB)" ib import "$TEST_TMP/bomb.tar.gz" bomb:3
ib rmi bomb:3 >/dev/null 2>&1

# A 4 GiB hole: fast, and sparse in the store.
mkdir -p "$TEST_TMP/sparse-src"
truncate -s 4G "$TEST_TMP/sparse-src/hole"
echo tail >>"$TEST_TMP/sparse-src/hole"
tar --sparse -cf "$TEST_TMP/sparse.tar" -C "$TEST_TMP/sparse-src" hole
rm -rf "$TEST_TMP/sparse-src"
before_kib=$(du -sk "$STORE" | cut -f1)
t0=$(now)
check "import: a tar with a 4 GiB hole" ib import "$TEST_TMP/sparse.tar" sparse:1
t_import=$(elapsed "$t0")
used=$(( $(du -sk "$STORE" | cut -f1) - before_kib ))
expect_true "import: the store grows little (${used} KiB)" test "$used" -lt 16384
expect_true "import: a 4 GiB hole takes ${t_import}s (< 60)" awk -v t="$t_import" 'BEGIN { exit !(t < 60) }'
read -r diff cid < <(docker_archive "$TEST_TMP/sparse-load.tar" "$TEST_TMP/sparse.tar")
ib rmi sparse:1 >/dev/null 2>&1
before_kib=$(du -sk "$STORE" | cut -f1)
t0=$(now)
check "load: an archive whose layer has a 4 GiB hole" ib load -i "$TEST_TMP/sparse-load.tar"
t_load=$(elapsed "$t0")
used=$(( $(du -sk "$STORE" | cut -f1) - before_kib ))
expect_true "load: the store grows little (${used} KiB)" test "$used" -lt 16384
echo "# sparse 4 GiB: import ${t_import}s, load ${t_load}s"
no_escape "bombs and holes"

# ---- ADD and COPY ------------------------------------------------------------------------------

make_busybox_base "$STORE" >/dev/null || fail "busybox base image"
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
mk_tar "$ctx/evil.tar" "s:up:../../../../../../../..$HOST/watched" "f:up/pwn:x" "f:/abs/f:in" "h:hl:$CANARY"
cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:latest
ADD evil.tar /dest/
DF
check_exit "ADD: a hard link to a host path is refused" nonzero ib build -t add-evil "$ctx"
expect_match "ADD: the error names the link" "hardlink target" "$ERR"
mk_tar "$ctx/evil2.tar" "s:up:../../../../../../../..$HOST/watched" "f:up/pwn:x" "f:/abs/f:in" "c:dev/mem:1:1" "f:.wh.keep:kept"
# "up" resolves with /dest as its root (as Docker's chrootarchive): pwn lands in /dest/<host path>.
cat >"$ctx/Dockerfile" <<DF
FROM busybox:latest
ADD evil2.tar /dest/
RUN test "\$(cat /dest$HOST/watched/pwn)" = x && test "\$(cat /dest/abs/f)" = in && test -c /dest/dev/mem && test -f /dest/.wh.keep
DF
check "ADD: symlinks, absolute names, devices and .wh. files land inside the destination" ib build -t add-evil2 "$ctx"
no_escape "ADD"

cp "$TEST_TMP/bomb.tar.gz" "$ctx/bomb.tar.gz"
cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:latest
ADD bomb.tar.gz /b/
DF
IMGBUILD_LAYER_RATIO_FROM=8M run ib build -t add-bomb "$ctx"
expect_match "ADD: a gzip bomb stops at the limit" "decompression bomb" "$ERR"

# Sparse: ADD of the holey tar and COPY of a 2 GiB sparse file stay sparse in the layer.
cp "$TEST_TMP/sparse.tar" "$ctx/sparse.tar"
truncate -s 2G "$ctx/sparse2g"
echo end >>"$ctx/sparse2g"
cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:latest
ADD sparse.tar /s/
COPY sparse2g /c/sparse2g
DF
before_kib=$(du -sk "$STORE" | cut -f1)
t0=$(now)
check "ADD/COPY: sparse files" ib build -t sparse-build "$ctx"
t_build=$(elapsed "$t0")
grown=$(( $(du -sk "$STORE" | cut -f1) - before_kib ))
expect_true "ADD/COPY: sparse files stay sparse (the store grew ${grown} KiB)" test "$grown" -lt 65536
echo "# ADD 4 GiB hole + COPY 2 GiB hole: ${t_build}s"
rm -f "$ctx/sparse.tar" "$ctx/sparse2g" "$ctx/bomb.tar.gz"

# COPY through a dangling image symlink creates its target inside the root (finding 10).
cat >"$ctx/Dockerfile" <<DF
FROM busybox:latest
RUN ln -s /made/here /app && ln -s $HOST/watched/link /abslink
COPY Dockerfile /app/sub/f
COPY Dockerfile /abslink/f
RUN test -f /made/here/sub/f && test -L /app && test -f $HOST/watched/link/f
DF
check "COPY: through a dangling symlink, its target is made in the root" ib build -t dangling "$ctx"
no_escape "COPY dangling"

# COPY --chown with a hostile /etc/passwd (finding 5): a FIFO, a char device c 1 5.
for kind in fifo zero; do
  spec="p:etc/passwd"
  [[ $kind == zero ]] && spec="c:etc/passwd:1:5"
  mk_tar "$TEST_TMP/passwd-$kind.tar" "d:etc" "$spec" "f:etc/group:app:x:1000:"
  ib import "$TEST_TMP/passwd-$kind.tar" "passwd-$kind:1" >/dev/null
  cat >"$ctx/Dockerfile" <<DF
FROM passwd-$kind:1
COPY --chown=app Dockerfile /f
DF
  t0=$(now)
  check_exit "COPY --chown: /etc/passwd as a $kind is refused" nonzero timeout 30 "$IMGBUILD" --root "$STORE" build -t "chown-$kind" "$ctx"
  expect_match "COPY --chown: the $kind error is clear" "COPY --chown=app: /etc/passwd in the image is not a regular file" "$ERR"
  expect_true "COPY --chown: the $kind is refused fast ($(elapsed "$t0")s)" awk -v t="$(elapsed "$t0")" 'BEGIN { exit !(t < 20) }'
done

check "fsck at the end" ib fsck
finish
