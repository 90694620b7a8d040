# title: start-up floor (no peer: the floor is /bin/true, run the same way)
# case version: `imgbuild version`
# case true: `/bin/true` (the cost of fork, exec and reap alone)
w_setup() { :; }
w_cases() { printf '%s\n' "version imgbuild" "true imgbuild"; }
w_na() { :; }
w_prepare() { :; }
w_cmd() {
  case $1 in
    version) CMD=("$IB" version) ;;
    true) CMD=(/bin/true) ;;
  esac
}
