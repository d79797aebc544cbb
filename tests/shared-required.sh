#!/bin/sh
# shared-required.sh - a missing ../shared is visible, never a silent pass.
# Every test program that reads the golden vectors or the data sets runs
# with the shared folder pointed at a directory that does not exist
# (NEGBENCH_SHARED=/nonexistent/..., NB_GOLDEN_DIR and NB_DATA_DIR unset):
#   - without NEGBENCH_REQUIRE_SHARED it exits 0 with no failure and at
#     least one SKIP, each naming what is missing;
#   - with NEGBENCH_REQUIRE_SHARED=1 the same points fail (as many as were
#     skipped, none skipped) and it exits non-zero;
#   - it reports as many points as with the shared folder present: one SKIP
#     per check that would have run (compared where ../shared is present).
# golden-ans-trajectory.sh is held to the first two; .ci/run must set
# NEGBENCH_REQUIRE_SHARED=1. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbshared
NOWHERE=/nonexistent/negbench-shared-$$
[ ! -e "$NOWHERE" ] || { echo "Bail out! $NOWHERE exists"; exit 1; }

# points FILE: the number of TAP points; skips FILE, fails FILE likewise
points() { grep -c '^\(not \)\{0,1\}ok [0-9]' "$1"; }
skips() { grep -c '^ok [0-9]* # SKIP' "$1"; }
fails() { grep -c '^not ok [0-9]' "$1"; }

# absent OUT REQUIRE CMD...: run CMD without the shared folder (one thread:
# only the points are counted, and OpenMP waits on a loaded machine are slow)
absent() {
  _out=$1 _req=$2
  shift 2
  env -u NB_GOLDEN_DIR -u NB_DATA_DIR NEGBENCH_SHARED="$NOWHERE" NEGBENCH_REQUIRE_SHARED="$_req" \
    OMP_NUM_THREADS=1 "$@" > "$_out" 2>&1
}

# check NAME CMD...: the three points for one test program
check() {
  name=$1
  shift
  absent "$T/$name.skip" 0 "$@"
  st=$?
  s=$(skips "$T/$name.skip")
  f=$(fails "$T/$name.skip")
  named=$(grep '^ok [0-9]* # SKIP' "$T/$name.skip" | grep -c "$NOWHERE")
  [ $st -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -gt 0 ] && [ "$named" -eq "$s" ]
  ok $? "$name without ../shared: $s SKIPs naming the missing folder, $f failures (exit $st)"

  absent "$T/$name.req" 1 "$@"
  st=$?
  s2=$(skips "$T/$name.req")
  f2=$(fails "$T/$name.req")
  [ $st -ne 0 ] && [ "$f2" -eq "$s" ] && [ "$s2" -eq 0 ]
  ok $? "$name with NEGBENCH_REQUIRE_SHARED=1: the $s points fail ($f2 failures, $s2 SKIPs, exit $st)"
  [ $st -ne 0 ] || sed 's/^/# /' "$T/$name.req" | grep -v '^# ok ' | head -5
}

# totals NAME CMD...: the same number of points with and without ../shared
totals() {
  name=$1
  shift
  if [ ! -d "$GOLDEN" ] || [ ! -d "$DATA" ]; then
    skip_shared 1 "$name: the totals with ../shared need $GOLDEN and $DATA"
    return
  fi
  # under make check the program's own log (Makefile.am orders this script
  # after the programs); else a run of its own
  if [ -f "$B/tests/$name.log" ] && [ "$B/tests/$name.log" -nt "$B/tests/$name" ]; then
    grep '^\(not \)\{0,1\}ok [0-9]' "$B/tests/$name.log" > "$T/$name.present"
  else
    "$@" > "$T/$name.present" 2>&1
  fi
  a=$(points "$T/$name.present")
  b=$(points "$T/$name.skip")
  [ "$a" -eq "$b" ] && [ "$a" -gt 0 ]
  ok $? "$name reports as many points without ../shared as with it ($b, $a)"
}

for t in test-ans test-dens test-metrics test-lightgcn test-ngcf test-sgl \
         test-mixgcf-graph test-dens-graph test-ans-graph test-dataset; do
  check "$t" "$B/tests/$t"
  totals "$t" "$B/tests/$t"
done
check golden-ans-trajectory.sh sh "$S/golden-ans-trajectory.sh"

if [ -f "$TOP/.ci/run" ]; then
  grep -q '^export NEGBENCH_REQUIRE_SHARED=1' "$TOP/.ci/run"
  ok $? ".ci/run exports NEGBENCH_REQUIRE_SHARED=1 (CI fails on a missing ../shared)"
else
  skip ".ci/run is not in this tree (a release tarball ships no CI script)"
fi
tap_done
