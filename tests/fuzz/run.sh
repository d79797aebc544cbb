#!/bin/sh
# run.sh - make fuzz: fuzz each target for SECONDS with libFuzzer.
#   run.sh BUILD_FUZZ_DIR SRC_FUZZ_DIR SECONDS TARGET...
# Each target grows its working corpus BUILD_FUZZ_DIR/work/TARGET from the
# committed seeds SRC_FUZZ_DIR/corpus/TARGET (never written). libFuzzer runs
# in fork mode and goes on after a crash, an out-of-memory or a time-out, so
# one known finding does not stop a target for the rest of its time; every
# such input lands in BUILD_FUZZ_DIR/artifacts/TARGET-{crash,oom,timeout}-*.
# Prints one line per target (executions, seconds, findings) and exits 1
# when any target found something new.
set -u
[ "$#" -ge 4 ] || { echo "usage: run.sh BUILD_FUZZ_DIR SRC_FUZZ_DIR SECONDS TARGET..." >&2; exit 2; }
B=$1 S=$2 SECONDS_EACH=$3
shift 3
mkdir -p "$B/artifacts" "$B/work"
# the harnesses write each input to a file (and shard-meta makes SQLite stores,
# which sync): a memory file system, where there is one, keeps that cheap
T=$(mktemp -d "${FUZZ_TMPDIR:-/dev/shm}/nbfuzz.XXXXXX" 2>/dev/null) ||
  T=$(mktemp -d "${TMPDIR:-/tmp}/nbfuzz.XXXXXX")
trap 'rm -rf "$T"' EXIT
status=0
summary=
for t in "$@"; do
  mkdir -p "$B/work/$t"
  before=$(ls "$B/artifacts" | grep -c "^$t-" || true)
  # -timeout: a single input taking 30 s is a finding (10 s gave false ones on a
  # loaded machine); -rss_limit_mb: so is 2 GB
  TMPDIR=$T "$B/fuzz-$t" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 -max_len=8192 \
    -artifact_prefix="$B/artifacts/$t-" "$B/work/$t" "$S/corpus/$t" >"$B/$t.log" 2>&1
  st=$?
  # the last status line: "#RUNS: cov: ... oom/timeout/crash: O/T/C time: Ss ..."
  last=$(grep '^#[0-9]*: cov:' "$B/$t.log" | tail -n 1)
  runs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
  secs=$(echo "$last" | sed -n 's/.* time: \([0-9]*\)s.*/\1/p')
  otc=$(echo "$last" | sed -n 's#.*oom/timeout/crash: \([0-9/]*\).*#\1#p')
  after=$(ls "$B/artifacts" | grep -c "^$t-" || true)
  found=$((after - before))
  line="fuzz-$t: ${runs:-?} executions in ${secs:-?} s, oom/timeout/crash ${otc:-?}, corpus $(ls "$B/work/$t" | wc -l) files, $found new artifact(s)"
  echo "$line"
  summary="$summary$line
"
  if [ "$found" -gt 0 ] || [ -z "$runs" ]; then
    status=1
    ls "$B/artifacts" | grep "^$t-" | sed 's/^/    /'
    grep -m 1 -B 2 -A 12 "==ERROR\|ERROR: libFuzzer" "$B/$t.log" | sed 's/^/    /'
  fi
done
printf '%s' "$summary" > "$B/summary.txt"
exit $status
