# title: Debian app (mmdebstrap base + apt-get install python3-minimal + a python app)
# case cold: no build cache (apt-get downloads from the Debian archive: network noise)
# case edit: after a one-line change of app.py (the apt-get layer cached)
# The base: `mmdebstrap --variant=minbase bookworm`, made once and kept in
# /var/tmp/imgbuild-bench-cache, imported into imgbuild and loaded into the peers.
w_setup() {
  bash "$WDIR/make-context.sh" "$WORK/w8"
  local cache=/var/tmp/imgbuild-bench-cache tar=/var/tmp/imgbuild-bench-cache/debian-bookworm-minbase.tar
  if [[ ! -s $tar ]]; then
    mkdir -p "$cache"
    mmdebstrap --quiet --variant=minbase --format=tar bookworm "$tar.partial" http://deb.debian.org/debian
    mv "$tar.partial" "$tar"
  fi
  ib import "$tar" bench-debian:latest >/dev/null
  share_image bench-debian:latest
}
w_cases() { builder_cases cold edit; }
w_na() { :; }
w_prepare() {  # edit: a build first, then one line of the app changes (differently each run)
  if [[ $1 == edit ]]; then
    tool_build "$2" "$WDIR/Dockerfile" "$WORK/w8" w8-app --network=host
    sed -i "s/^greeting = .*/greeting = \"hello $2 $3 $RANDOM\"/" "$WORK/w8/app.py"
  fi
  return 0
}
w_cmd() { case_build_cmd "$1" "$2" "$WDIR/Dockerfile" "$WORK/w8" w8-app --network=host; }
