# Shared helpers for the integration scripts (tests/integration/<area>.sh). Source it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Each script gets IMGBUILD (the binary) and IMGBUILD_SOURCE_DIR from CTest. Checks print
# TAP-like lines `ok - ...` / `not ok - ...` (with `#` diagnostics after a failure) and
# finish() prints `N passed, M failed` and sets the exit status.
#
# Not `set -e`: a failing check is counted and reported, and the script goes on.
set -uo pipefail

: "${IMGBUILD:?set IMGBUILD to the imgbuild binary}"
IMGBUILD_SOURCE_DIR=${IMGBUILD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

TESTS_PASSED=0
TESTS_FAILED=0

# ---- reporting

pass() { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "ok - $1"; }

# fail DESC [DIAGNOSTIC...]: each diagnostic line is printed with a "#   " prefix.
fail() {
  TESTS_FAILED=$((TESTS_FAILED + 1))
  echo "not ok - $1"
  shift
  local line
  for line in "$@"; do
    [[ -n $line ]] && printf '%s\n' "$line" | head -n 20 | sed 's/^/#   /'
  done
  return 0
}

# Prints the closing line and exits non-zero when anything failed.
finish() {
  echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
  ((TESTS_FAILED == 0))
  exit
}

# ---- running commands

# run CMD...: runs CMD, keeping its exit status in RC and its output in OUT and ERR, so that
# the expect_* helpers (and the script) can look at them afterwards.
RC=0 OUT="" ERR=""
run() {
  "$@" >"$TEST_TMP/.run-out" 2>"$TEST_TMP/.run-err"
  RC=$?
  OUT=$(cat "$TEST_TMP/.run-out")
  ERR=$(cat "$TEST_TMP/.run-err")
}

# run_in INPUT_FILE CMD...: as run, with stdin from INPUT_FILE.
run_in() {
  local input=$1
  shift
  "$@" <"$input" >"$TEST_TMP/.run-out" 2>"$TEST_TMP/.run-err"
  RC=$?
  OUT=$(cat "$TEST_TMP/.run-out")
  ERR=$(cat "$TEST_TMP/.run-err")
}

_last_command_diag() { echo "exit $RC"; [[ -n $ERR ]] && echo "stderr: $ERR"; [[ -n $OUT ]] && echo "stdout: $OUT"; }

# check DESC CMD...: ok when CMD exits 0.
check() {
  local desc=$1
  shift
  run "$@"
  if ((RC == 0)); then pass "$desc"; else fail "$desc" "command: $*" "$(_last_command_diag)"; fi
}

# check_exit DESC CODE CMD...: ok when CMD exits with CODE ("nonzero" accepts any failure).
check_exit() {
  local desc=$1 want=$2
  shift 2
  run "$@"
  if [[ $want == nonzero && $RC -ne 0 ]] || [[ $RC == "$want" ]]; then
    pass "$desc"
  else
    fail "$desc" "command: $*" "expected exit $want" "$(_last_command_diag)"
  fi
}

# expect_eq DESC EXPECTED ACTUAL
expect_eq() {
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

# expect_ne DESC UNEXPECTED ACTUAL
expect_ne() {
  if [[ $2 != "$3" ]]; then pass "$1"; else fail "$1" "both are: $2"; fi
}

# expect_match DESC EXTENDED_REGEX TEXT: ok when some line of TEXT matches.
expect_match() {
  if grep -Eq -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "no line matches /$2/ in:" "$3"; fi
}

# expect_no_match DESC EXTENDED_REGEX TEXT
expect_no_match() {
  if ! grep -Eq -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "unexpected /$2/ in:" "$3"; fi
}

# expect_true DESC CMD...: as check, for conditions ([[ -e f ]] is `test -e f`).
expect_true() { check "$@"; }

# expect_same_files DESC FILE_A FILE_B: ok when both files have the same bytes.
expect_same_files() {
  if cmp -s -- "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp -- "$2" "$3" 2>&1)" "$(diff -- "$2" "$3" 2>/dev/null | head -n 20)"; fi
}

# ---- scratch space and cleanup

# Everything a script makes goes under TEST_TMP, removed at exit with the registered hooks.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/imgbuild-it.XXXXXX")
_exit_hooks=()

# at_exit CMD...: runs CMD (once, in reverse order of registration) when the script exits.
at_exit() { _exit_hooks+=("$(printf '%q ' "$@")"); }

_run_exit_hooks() {
  local i
  for ((i = ${#_exit_hooks[@]} - 1; i >= 0; i--)); do eval "${_exit_hooks[i]}" >/dev/null 2>&1 || true; done
  rm -rf "$TEST_TMP"
}
trap _run_exit_hooks EXIT
trap 'exit 130' INT TERM

# kill_rootless_pauses RUNTIME_DIR: ends the pause processes (imgbuild's, rootless podman's)
# whose pid files are under that XDG_RUNTIME_DIR: they outlive the script that made them.
kill_rootless_pauses() {
  local f pid
  for f in "$1/imgbuild/pause.pid" "$1/libpod/tmp/pause.pid"; do
    pid=$(awk '{print $1; exit}' "$f" 2>/dev/null)
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) =~ ^(imgbuild-pause|podman\ pause|podman)$ ]] && kill -KILL "$pid"  # (they hold nothing to flush)
  done
  return 0
}

# ---- imgbuild helpers

# A fresh, empty store directory name under TEST_TMP (the store is created on first use).
new_store() {
  local dir
  dir=$(mktemp -d "$TEST_TMP/store.XXXXXX")
  rmdir "$dir"
  echo "$dir"
}

# For scripts that define ib() (imgbuild on their store):
# in_image IMAGE SCRIPT: runs SCRIPT with sh in a throwaway container of IMAGE (sets OUT).
in_image() { run ib run --rm "$1" sh -c "$2"; }
# layer_count IMAGE: how many layers IMAGE has.
layer_count() { ib inspect --format '{{json .RootFS.Layers}}' "$1" | jq length; }

# make_busybox_base STORE [NAME]: the busybox base image (samples/make-busybox-base.sh).
make_busybox_base() {
  bash "$IMGBUILD_SOURCE_DIR/samples/make-busybox-base.sh" "$IMGBUILD" "${2:-busybox:latest}" --root "$1"
}

# require_root WHY: unless root, prints "skipped: WHY" and exits 77 (CTest counts it skipped,
# never passed).
require_root() {
  [[ $(id -u) == 0 ]] && return 0
  echo "skipped: $1"
  exit 77
}

# require_tools TOOL...: one check that every peer tool is on PATH
# (../shared/peers/setup.sh installs them).
require_tools() {
  local missing=() t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if ((${#missing[@]} == 0)); then pass "peer tools present: $*"; else fail "peer tools present: $*" "missing: ${missing[*]} (run ../shared/peers/setup.sh)"; fi
}

# tree_listing DIR: one line per entry below DIR (not DIR itself), sorted by path:
# path, type, mode, uid, gid, then the symlink target, the sha256 of a regular file, or the
# major:minor of a device. mtimes are left out: extraction tools differ on them legitimately.
tree_listing() {
  (
    cd "$1" || exit 1
    find . -mindepth 1 -printf '%P\t%y\t%m\t%U\t%G\t%l\n' | LC_ALL=C sort | while IFS=$'\t' read -r path type mode uid gid target; do
      case $type in
        f) extra=$(sha256sum <"$path" | cut -d' ' -f1) ;;
        l) extra="-> $target" ;;
        b | c) extra=$(stat -c '%t:%T' -- "$path") ;;
        *) extra="" ;;
      esac
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$path" "$type" "$mode" "$uid" "$gid" "$extra"
    done
  )
}

# Seconds since the epoch with fractions, for timings.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# serve_http DIR IP PORT: a python3 http.server of DIR on IP:PORT until the script exits;
# ok once it answers (within 5 s).
serve_http() {
  python3 -m http.server --bind "$2" --directory "$1" "$3" >/dev/null 2>&1 &
  at_exit kill $!
  for _ in $(seq 50); do curl -fsS "http://$2:$3/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
