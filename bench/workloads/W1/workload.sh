# title: helloworld-shaped app (WORKDIR, ADD ., RUN, EXPOSE, ENV, CMD)
# case cold: no build cache (--no-cache)
# case cached: the same build again, every step cached
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w1"; }
w_cases() { builder_cases cold cached; }
w_na() { :; }
w_prepare() { cached_prepare "$1" "$2" "$WDIR/Dockerfile" "$WORK/w1" w1-app; }
w_cmd() { case_build_cmd "$1" "$2" "$WDIR/Dockerfile" "$WORK/w1" w1-app; }
