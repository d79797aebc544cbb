#!/bin/sh
# fuzz-replay.sh - the fuzz corpus as a regression test: each harness of
# tests/fuzz/ (built without libFuzzer as tests/fuzz/replay-TARGET) runs on
# every file of tests/fuzz/corpus/TARGET/: the seeds and every fixed finding.
# Under --enable-sanitizers the replays run with ASan and UBSan (reports are
# caught by tests/sanitizer-reports.sh too). One TAP point per target.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbreplay

for t in config grid lines inter csv shard-meta; do
  set -- "$S/fuzz/corpus/$t"/*
  if [ ! -e "$1" ]; then ok 1 "replay-$t: no corpus in tests/fuzz/corpus/$t"; continue; fi
  TMPDIR=$T "$B/tests/fuzz/replay-$t" "$@" >"$T/out" 2>&1
  st=$?
  bad=$(grep -c '^not ok' "$T/out")
  [ "$st" -eq 0 ] && [ "$bad" -eq 0 ]
  r=$?
  [ "$r" -eq 0 ] || sed 's/^/# /' "$T/out" | grep -v '^# ok ' | head -n 40
  ok $r "replay-$t: the $# corpus files of tests/fuzz/corpus/$t replay without a crash (exit $st)"
done
tap_done
