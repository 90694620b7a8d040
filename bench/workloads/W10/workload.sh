# title: COPY of 100k small files (BENCH_W10_FILES): peak RSS, cold and cached
# case cold: no build cache
# case cached: the same build again, every step cached
# (was bench/context_memory.sh; `BENCH_W10_FILES=1000000 bench/run.sh --tools imgbuild --workloads W10` is its 1M-file run)
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w10"; }
w_cases() { builder_cases cold cached; }
w_na() { :; }
w_prepare() { cached_prepare "$1" "$2" "$WDIR/Dockerfile" "$WORK/w10" w10-ctx; }
w_cmd() { case_build_cmd "$1" "$2" "$WDIR/Dockerfile" "$WORK/w10" w10-ctx; }
