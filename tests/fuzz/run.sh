#!/bin/sh
# run.sh - make fuzz: fuzz each target for SECONDS with libFuzzer.
#   run.sh BUILD_FUZZ_DIR SRC_FUZZ_DIR SECONDS TARGET...
# Each target grows its working corpus BUILD_FUZZ_DIR/work/TARGET from the
# committed seeds SRC_FUZZ_DIR/corpus/TARGET (never written); crashing
# inputs land in BUILD_FUZZ_DIR/artifacts/. Prints one line per target
# (executions, seconds, crashes) and exits 1 when any target found a crash.
set -u
B=$1 S=$2 SECONDS_EACH=$3
shift 3
mkdir -p "$B/artifacts" "$B/work"
T=$(mktemp -d "${TMPDIR:-/tmp}/nbfuzz.XXXXXX")
trap 'rm -rf "$T"' EXIT
status=0
summary=
for t in "$@"; do
  mkdir -p "$B/work/$t"
  before=$(ls "$B/artifacts" | grep -c "^$t-" || true)
  # -timeout: a single input taking 10 s is a finding; -rss_limit_mb: so is 2 GB
  TMPDIR=$T "$B/fuzz-$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
    "$B/work/$t" "$S/corpus/$t" >"$B/$t.log" 2>&1
  st=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$t.log" | tail -n 1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$B/$t.log" | tail -n 1)
  after=$(ls "$B/artifacts" | grep -c "^$t-" || true)
  crashes=$((after - before))
  line="fuzz-$t: ${runs:-?} executions in ${secs:-?} s, corpus $(ls "$B/work/$t" | wc -l) files, $crashes new crash(es), exit $st"
  echo "$line"
  summary="$summary$line
"
  if [ "$st" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    status=1
    grep -m 1 -A 12 "ERROR:\|==ERROR\|SUMMARY" "$B/$t.log" | sed 's/^/    /'
  fi
done
printf '%s' "$summary" > "$B/summary.txt"
exit $status
