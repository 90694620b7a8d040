# title: COPY of 100k small files (BENCH_W10_FILES): peak RSS, cold and cached
# case cold: no build cache
# case cached: the same build again, every step cached
# (was bench/context_memory.sh; `BENCH_W10_FILES=1000000 bench/run.sh --tools imgbuild --workloads W10` is its 1M-file run)
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w10"; }
w_cases() { builder_cases cold cached; }
w_na() { :; }
w_prepare() {
  [[ $1 == cached ]] && tool_build "$2" "$WDIR/Dockerfile" "$WORK/w10" w10-ctx
  return 0
}
w_cmd() {
  local -a f=()
  [[ $1 == cold ]] && f=(--no-cache)
  tool_build_cmd "$2" "$WDIR/Dockerfile" "$WORK/w10" w10-ctx "${f[@]}"
}
