# title: 4-stage build, two independent stages
# case cold: no build cache
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w9"; }
w_cases() { builder_cases cold; }
w_na() { :; }
w_prepare() { :; }
w_cmd() { tool_build_cmd "$2" "$WDIR/Dockerfile" "$WORK/w9" w9-multi --no-cache; }
