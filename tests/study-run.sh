#!/bin/sh
# study-run.sh - experiments/paper/run.sh, the study's driver, on a stub
# negbench (no training): a SIGTERM stops the running sweep the way negbench
# stops (it gets SIGTERM and exits 75), logs that segment in
# results/study-times.tsv once and starts no further artefact; the same
# command then runs every artefact to the end. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbstudyrun

mkdir -p "$T/tree/experiments/paper" "$T/tree/results"
cp "$S/../experiments/paper/run.sh" "$T/tree/experiments/paper/"
: > "$T/tree/experiments/paper/first.yaml"
: > "$T/tree/experiments/paper/second.yaml"
# the stub: --version; run YAML ... prints negbench's sweep summary, after
# sleeping while $T/slow exists; on SIGTERM it reports the run interrupted
cat > "$T/stub" <<STUB
#!/bin/sh
if [ "\$1" = --version ]; then echo "negbench 0.0 (stub)"; echo "BLAS kernels: Haswell (detected)"; exit 0; fi
name=\$(basename "\$2" .yaml)
trap 'echo "\$name" >> "$T/termed"; echo "sweep \$name: 0 done (0 before), 0 failed, 1 interrupted, 0 not started; store x"; exit 75' TERM
echo "sweep \$name: 1 runs"
n=0
while [ -e "$T/slow" ] && [ \$n -lt 300 ]; do sleep 0.1; n=\$((n + 1)); done
echo "sweep \$name: 1 done (0 before), 0 failed, 0 interrupted, 0 not started; store x"
STUB
chmod +x "$T/stub"

touch "$T/slow"
NEGBENCH="$T/stub" bash "$T/tree/experiments/paper/run.sh" first second > "$T/out" 2> "$T/err" &
pid=$!
waited=0
until grep -q "sweep first: 1 runs" "$T/out" 2>/dev/null || [ $waited -ge 100 ]; do
  sleep 0.1; waited=$((waited + 1))
done
kill -TERM "$pid"
wait "$pid"
rc=$?
times="$T/tree/results/study-times.tsv"
[ "$rc" -eq 75 ]; ok $? "SIGTERM: run.sh exits with the sweep's status 75 (got $rc)"
[ "$(cat "$T/termed" 2>/dev/null)" = first ]; ok $? "the running sweep got SIGTERM"
[ "$(grep -c "^first	" "$times")" -eq 1 ] && grep -q "^first	.*1 interrupted" "$times" &&
  ! grep -q "^second	" "$times"
ok $? "its segment is logged once, as interrupted; the next artefact did not start"
grep -q "the same command resumes" "$T/err"; ok $? "run.sh says how to resume"

rm -f "$T/slow"
NEGBENCH="$T/stub" bash "$T/tree/experiments/paper/run.sh" first second > "$T/out" 2> "$T/err"
rc=$?
[ "$rc" -eq 0 ] && [ "$(grep -c "^first	.*1 done" "$times")" -eq 1 ] &&
  [ "$(grep -c "^second	.*1 done" "$times")" -eq 1 ]
ok $? "the same command runs both artefacts to the end and logs each (exit $rc)"
grep -q "sweep second: 1 done" "$T/out"; ok $? "the sweep's output is shown as it runs"
tap_done
