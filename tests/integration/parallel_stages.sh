#!/usr/bin/env bash
# build --jobs N: independent stages build at once, each stage's output stays attributable,
# the image is the one a sequential build (--jobs 1) makes, and a failing stage fails the
# build with its own error (the first failure, not a later one).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
skip() { echo "skipped: $1"; exit 77; }
[[ $(id -u) == 0 ]] || skip "parallel_stages.sh needs root (RUN uses namespaces and overlayfs)"

store=$(new_store)
ib() { "$IMGBUILD" --root "$store" "$@"; }
make_busybox_base "$store" >/dev/null || { fail "make busybox base"; finish; }
export SOURCE_DATE_EPOCH=1700000000  # reproducible layers and dates: --no-cache rebuilds compare equal

# ---- the shape of the issue: 4 independent stages of `RUN sleep 2` joined by a final stage
ctx=$TEST_TMP/fanin && mkdir -p "$ctx"
{
  for s in a b c d; do
    printf 'FROM busybox AS %s\nRUN sleep 2 && mkdir /out && seq 1 2000 > /out/%s.seq && echo made-%s > /out/%s.txt && echo out-of-%s\n' \
      "$s" "$s" "$s" "$s" "$s"
    printf 'ENV STAGE=%s\n' "$s"
  done
  printf 'FROM busybox\n'
  for s in a b c d; do printf 'COPY --from=%s /out/ /out/\n' "$s"; done
  printf 'CMD ["cat", "/out/a.txt", "/out/b.txt", "/out/c.txt", "/out/d.txt"]\n'
} >"$ctx/Dockerfile"

# The time of one such stage alone (the same FROM + RUN sleep 2 + layer commit).
one=$TEST_TMP/one && mkdir -p "$one"
printf 'FROM busybox\nRUN sleep 2 && mkdir /out && seq 1 2000 > /out/x.seq && echo made > /out/x.txt\n' >"$one/Dockerfile"
t0=$(now)
check "one stage alone" ib --no-cache -q "$one"
t_one=$(elapsed "$t0")

t0=$(now)
check "--jobs 4: build 4 independent stages and their join" ib -t par --jobs 4 --no-cache --progress plain "$ctx"
t_par=$(elapsed "$t0")
plain=$OUT
echo "# one stage ${t_one}s, 4 stages + join with --jobs 4 ${t_par}s"
expect_true "--jobs 4 takes well below 4 stages' time (${t_par}s < 2.5 x ${t_one}s)" \
  awk -v p="$t_par" -v o="$t_one" 'BEGIN { exit !(p < 2.5 * o) }'
par_id=$(ib inspect --format '{{.Id}}' par)

check "--jobs 1: the same build, one stage after another" ib -t seq --jobs 1 --no-cache --progress plain "$ctx"
seq_plain=$OUT
expect_eq "--jobs 4 and --jobs 1 give the same image (no cache)" "$par_id" "$(ib inspect --format '{{.Id}}' seq)"
expect_eq "... the same layers" "$(ib inspect --format '{{json .RootFS}}' seq)" "$(ib inspect --format '{{json .RootFS}}' par)"
check "the image holds every stage's files" ib run --rm par
expect_eq "... in the order of the COPYs" "made-a made-b made-c made-d" "$(echo $OUT)"

# Cached: every step hits, whatever the job count, and the image stays the same.
check "--jobs 4 rebuild from the cache" ib -t par2 --jobs 4 --progress plain "$ctx"
expect_eq "... hits every step but the FROMs" 13 "$(grep -c ' CACHED$' <<<"$OUT")"
expect_eq "... same image" "$par_id" "$(ib inspect --format '{{.Id}}' par2)"
check "--jobs 1 rebuild from the cache" ib -t seq2 --jobs 1 -q "$ctx"
expect_eq "... same image" "$par_id" "$(ib inspect --format '{{.Id}}' seq2)"
check "default --jobs (the number of cores)" ib -t dflt -q "$ctx"
expect_eq "... same image" "$par_id" "$(ib inspect --format '{{.Id}}' dflt)"

# ---- each stage's output is attributable: plain lines name the stage, JSON events carry it
for s in a b c d; do
  expect_match "plain: stage $s's RUN line is tagged with its stage" "^\[$s [0-9]+/18\] RUN sleep 2" "$plain"
  expect_match "plain: stage $s's output is tagged with its stage" "^\[$s [0-9]+\] \| out-of-$s\$" "$plain"
  expect_eq "plain: out-of-$s is output of one stage only" 1 "$(grep -c "| out-of-$s\$" <<<"$plain")"
done
expect_match "plain: the unnamed final stage is stage-4" '^\[stage-4 13/18\] FROM busybox' "$plain"
# Step numbers are fixed in Dockerfile order, not by the order stages run in.
expect_eq "step numbers are the same with --jobs 1 and --jobs 4" \
  "$(grep -oE '^\[[a-z0-9-]+ [0-9]+/18\] [A-Z]+' <<<"$seq_plain" | sort)" \
  "$(grep -oE '^\[[a-z0-9-]+ [0-9]+/18\] [A-Z]+' <<<"$plain" | sort)"
check "--progress json" ib --jobs 4 --no-cache --progress json "$ctx"
for s in a b c d; do
  expect_eq "json: stage $s's output event carries its stage" "$s" \
    "$(jq -r --arg l "out-of-$s" 'select(.event == "output" and .line == $l) | .stage' <<<"$OUT")"
done
expect_eq "json: every step event carries a stage" 0 \
  "$(jq -s '[.[] | select(.step != null and .stage == null)] | length' <<<"$OUT")"
expect_eq "a single-stage build keeps its plain lines (no stage name)" 1 \
  "$(ib --no-cache --progress plain "$one" | grep -cE '^\[2/2\] RUN sleep 2')"

# ---- a dependency chain still builds in order with parallel siblings
chain=$TEST_TMP/chain && mkdir -p "$chain"
cat >"$chain/Dockerfile" <<'D'
FROM busybox AS base
RUN sleep 1 && echo base > /base
FROM base AS left
RUN cat /base > /left && echo left >> /left
FROM base AS right
RUN cat /base > /right && echo right >> /right
FROM busybox
COPY --from=left /left /
COPY --from=right /right /
D
check "a diamond (base -> left, right -> final) with --jobs 4" ib -t diamond --jobs 4 --no-cache -q "$chain"
check "... runs" ib run --rm diamond cat /left /right
expect_eq "... each side saw its base" "base left base right" "$(echo $OUT)"
check "... and --jobs 1 gives the same image" ib -t diamond1 --jobs 1 --no-cache -q "$chain"
expect_eq "... same id" "$(ib inspect --format '{{.Id}}' diamond)" "$(ib inspect --format '{{.Id}}' diamond1)"

# ---- a failing stage: non-zero exit, its own error, the first failure wins
bad=$TEST_TMP/bad && mkdir -p "$bad"
cat >"$bad/Dockerfile" <<'D'
FROM busybox AS ok
RUN sleep 2 && echo fine > /f
FROM busybox AS broken
RUN sleep 1 && echo about-to-fail && exit 3
FROM busybox AS later
RUN sleep 3 && exit 9
FROM busybox
COPY --from=ok /f /
COPY --from=broken /etc/hostname /
COPY --from=later /etc/hostname /h2
D
check_exit "a failing stage fails the build" 1 ib -t badimg --jobs 3 --no-cache --progress plain "$bad"
expect_match "the error names the stage and the step" 'stage broken: step 4/10 RUN sleep 1 && echo about-to-fail && exit 3: exit code 3' "$ERR"
expect_no_match "the later failure is not the one reported" 'exit code 9' "$ERR"
expect_match "the failing stage's output is shown, tagged" '^\[broken 4\] \| about-to-fail$' "$OUT"
expect_no_match "the final stage never started" '^\[stage-3 ' "$OUT"
check_exit "no image was tagged" 1 ib inspect badimg
check_exit "--jobs 1: the same failure" 1 ib --jobs 1 --no-cache -q "$bad"
expect_match "... with the same error" 'stage broken: step 4/10 RUN sleep 1 && echo about-to-fail && exit 3: exit code 3' "$ERR"

# ---- the flag
check_exit "--jobs 0 is refused" 2 ib --jobs 0 "$ctx"
expect_match "... saying what it wants" '--jobs 0: want a number of stages from 1 to 256' "$ERR"
check_exit "--jobs x is refused" 2 ib --jobs x "$ctx"

# ---- stages at once each keep their own run dir (builder/run_dir.h): two stages' RUNs
# overlap in time, and neither stage's layers get a file of the other
ctx=$TEST_TMP/rundirs && mkdir -p "$ctx"
{
  for s in a b; do
    o=b && [[ $s == b ]] && o=a
    printf 'FROM busybox AS %s
' "$s"
    for i in 1 2 3 4; do
      printf 'RUN test ! -e /%s.%s && echo %s > /%s.%s && sleep 0.3
' "$o" "$i" "$s" "$s" "$i"
    done
  done
  printf 'FROM busybox
COPY --from=a / /a/
COPY --from=b / /b/
'
} >"$ctx/Dockerfile"
check "--jobs 2: two stages of RUNs at once" ib -t rundirs --jobs 2 --no-cache "$ctx"
check "list the stages' files" ib run --rm rundirs sh -c 'ls /a | grep -E "^[ab][.]"; echo --; ls /b | grep -E "^[ab][.]"'
expect_eq "stage a has a.1-4 only, stage b b.1-4 only" "$(printf 'a.1\na.2\na.3\na.4\n--\nb.1\nb.2\nb.3\nb.4')" "$OUT"
finish
