# title: a 1-file RUN over a 768 MiB base vs over busybox (the cost of a big lower layer)
# case over-big: FROM the W3 image (768 MiB / 10k files), no build cache
# case over-busybox: FROM busybox, no build cache
w_setup() {
  bash "$WDIR/make-context.sh" "$WORK/w7"
  tool_build imgbuild "$BENCH/workloads/W3/Dockerfile" "$WORK/w7" w7-base:latest --no-cache
  share_image w7-base:latest
}
w_cases() { builder_cases over-big over-busybox; }
w_na() { :; }
w_prepare() { :; }
w_cmd() {
  local df=$WDIR/Dockerfile
  [[ $1 == over-busybox ]] && df=$WDIR/Dockerfile.busybox
  tool_build_cmd "$2" "$df" "$WORK/w7" "w7-$1" --no-cache
}
