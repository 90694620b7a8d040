# title: helloworld-shaped app (WORKDIR, ADD ., RUN, EXPOSE, ENV, CMD)
# case cold: no build cache (--no-cache)
# case cached: the same build again, every step cached
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w1"; }
w_cases() { builder_cases cold cached; }
w_na() { :; }
w_prepare() {  # the cached case: one build first; cold needs nothing (--no-cache)
  [[ $1 == cached ]] && tool_build "$2" "$WDIR/Dockerfile" "$WORK/w1" w1-app
  return 0
}
w_cmd() {
  local -a f=()
  [[ $1 == cold ]] && f=(--no-cache)
  tool_build_cmd "$2" "$WDIR/Dockerfile" "$WORK/w1" w1-app "${f[@]}"
}
