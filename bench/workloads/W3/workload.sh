# title: one RUN writing 768 MiB / 10k files
# case cold: no build cache
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w3"; }
w_cases() { builder_cases cold; }
w_na() { :; }
w_prepare() { :; }
w_cmd() { tool_build_cmd "$2" "$WDIR/Dockerfile" "$WORK/w3" w3-big --no-cache; }
