# title: 20 `RUN true` (per-RUN overhead = (runs20 - from) / 20)
# case runs20: FROM busybox + 20 `RUN true`, no build cache
# case from: FROM busybox + a LABEL, no build cache (the baseline)
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w2"; }
w_cases() { builder_cases runs20 from; }
w_na() { :; }
w_prepare() { :; }
w_cmd() {
  local df=$WDIR/Dockerfile
  [[ $1 == from ]] && df=$WDIR/Dockerfile.from
  tool_build_cmd "$2" "$df" "$WORK/w2" "w2-$1" --no-cache
}
