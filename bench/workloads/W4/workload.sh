# title: ADD of a 1 GiB context of 20k files
# case cold: no build cache
# case edit: after one file of the context changed (the rest cached)
w_setup() { bash "$WDIR/make-context.sh" "$WORK/w4"; }
w_cases() { builder_cases cold edit; }
w_na() { :; }
w_prepare() {  # edit: a build first, then one file changes (differently each run)
  if [[ $1 == edit ]]; then
    tool_build "$2" "$WDIR/Dockerfile" "$WORK/w4" w4-ctx
    echo "edit $2 $3 $RANDOM" >>"$WORK/w4/d042/f04242"
  fi
  return 0
}
w_cmd() { case_build_cmd "$1" "$2" "$WDIR/Dockerfile" "$WORK/w4" w4-ctx; }
