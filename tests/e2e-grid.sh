#!/bin/sh
# e2e-grid.sh - grids end to end on synthetic data: the dry run, a sweep of
# 6 runs with -j 2 killed with SIGKILL mid-way and resumed (every run exactly
# once, whole epochs only, final metrics bit-identical to an uninterrupted
# sweep), skipping done runs, per-run logs, a failing run that does not stop
# the others (exit 1), --fail-fast, an invalid grid (exit 2, no store), and
# negbench report on the sweep (several stores as one, row labels).
# TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbgrid
q() { sqlite3 "$1" "$2"; }

# the sweep of tests/fixtures/grid/sweep.yaml (MF, RNS and DNS, 3 seeds)
sed -e 's/^name: e2e-sweep$/name: e2e-grid/' "$S/fixtures/grid/sweep.yaml" > "$T/g.yaml"

"$NB" grid "$T/g.yaml" >"$T/dry" 2>"$T/err"
ok $? "negbench grid: the dry run exits 0"
[ "$(grep -c '^ *[0-9]  [0-9a-f]\{12\}  ' "$T/dry")" -eq 6 ]
ok $? "... and lists 6 runs with their short hashes"
grep -q "sampler.name=dns seed=3" "$T/dry"; ok $? "... with the values that vary"
[ ! -e results ] || [ ! -e results/e2e-grid.sqlite ]; ok $? "... and writes no store"

# the uninterrupted reference sweep
"$NB" run "$T/g.yaml" -j 2 --db "$T/ref.sqlite" >"$T/out" 2>"$T/err"
ok $? "a sweep of 6 runs with -j 2 exits 0"
[ "$(grep -c '^\[[1-6]/6\] done' "$T/err")" -eq 6 ]; ok $? "... one progress line per finished run"
sed 's/^/# /' "$T/err" | tail -2
[ "$(q "$T/ref.sqlite" "select count(*) from run where status='done'")" -eq 6 ]
ok $? "... 6 runs done in the store"
[ "$(ls "$T/ref.logs" | wc -l)" -eq 6 ] && grep -q "^epoch   16" "$T"/ref.logs/*.log
ok $? "... one log per run beside the store, with the per-epoch lines"

"$NB" run "$T/g.yaml" -j 2 --db "$T/ref.sqlite" >"$T/out" 2>"$T/err"
ok $? "running the sweep again exits 0"
grep -q "6 already done, 0 to run" "$T/err"; ok $? "... and runs nothing"
"$NB" grid "$T/g.yaml" --db "$T/ref.sqlite" >"$T/dry" 2>&1
[ "$(grep -c '  done  ' "$T/dry")" -eq 6 ]; ok $? "negbench grid --db shows the 6 runs done"
# negbench report reads several stores as one: a run in two counts once
"$NB" report "$T/ref.sqlite" "$T/ref.sqlite" --format csv >"$T/rep" 2>"$T/err" &&
  grep -q '^main,rns,synthetic mf,recall,20,3,' "$T/rep" && grep -q '^main,dns,synthetic mf,recall,20,3,' "$T/rep"
ok $? "negbench report: the runs of a store read twice count once (3 seeds per sampler)"
# per-user tests ran on the stored ranks: the non-reference row has p-values
awk -F, '$2 != $10 && $4 == "recall" && $5 == 20 && $12 != "" && $13 != "" { n++ } END { exit n != 1 }' "$T/rep"
ok $? "... with per-user (Wilcoxon) and Welch p-values against the reference row"
"$NB" report "$T/ref.sqlite" >"$T/rep" 2>"$T/err" && grep -q '^| sampler.name | synthetic mf Recall@10 |' "$T/rep" &&
  grep -q 'synthetic mf Hit@20 |$' "$T/rep"
ok $? "negbench report STORE: the main table, every K stored, in Markdown"
"$NB" report "$T/ref.sqlite" --table per >"$T/rep" 2>"$T/err" && grep -q '^| rns | 0.0000 |' "$T/rep"
ok $? "negbench report --table per: PER(x, x) = 0"
"$NB" report "$T/ref.sqlite" --table overlap --stat cand_max_norm >"$T/rep" 2>"$T/err" &&
  grep -q '^| dns | \*\*0\.[0-9]* ± 0\.[0-9]*\*\* |$' "$T/rep" && ! grep -q '^| rns ' "$T/rep"
ok $? "--table overlap: the mean of a sampler statistic; samplers without it are left out"
# a row path that only some runs have (DNS's M; RNS has no parameters) is
# left out of the labels of the runs without it: "rns", not "rns -"
"$NB" report "$T/ref.sqlite" --rows sampler.name,sampler.M --k 20 >"$T/rep" 2>"$T/err" &&
  grep -q '^| \*\{0,2\}rns\*\{0,2\} |' "$T/rep" && grep -q '^| \*\{0,2\}dns 8\*\{0,2\} |' "$T/rep" &&
  ! grep -q '^| rns - |' "$T/rep"
ok $? "--rows sampler.name,sampler.M: rows \"rns\" and \"dns 8\" (a path a run lacks is left out)"
"$NB" report "$T/ref.sqlite" --rows sampler.M --k 20 >"$T/rep" 2>"$T/err" &&
  grep -q '^| -' "$T/rep" && grep -q '^| 8 ' "$T/rep"
ok $? "--rows sampler.M: a run with none of the paths reads \"-\""
"$NB" report "$T/nowhere.sqlite" >"$T/rep" 2>"$T/err"
[ $? -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "nowhere.sqlite: no such results store" "$T/err"
ok $? "a missing store: exit 2, one line naming it"
"$NB" report "$T/ref.sqlite" --table nope >"$T/rep" 2>"$T/err"
[ $? -eq 2 ] && grep -q 'unknown table "nope"' "$T/err"; ok $? "an unknown table: exit 2"

# kill -9 mid-way (a run done, another a few epochs in), then resume. On a
# loaded machine the kill can still land between runs; then the scenario
# is set up again (at most 3 times) before its precondition is asserted.
mid="select count(*) from run r where r.status='running' and (select count(*) from epoch e where e.run_id=r.id) between 3 and 10"
for attempt in 1 2 3; do
  rm -f "$T/k.sqlite" "$T/k.sqlite-journal" "$T/k.sqlite-wal" "$T/k.sqlite-shm"
  "$NB" run "$T/g.yaml" -j 2 --db "$T/k.sqlite" >"$T/out" 2>"$T/err" &
  pid=$!
  i=0
  while [ $i -lt 1200 ]; do
    d=$(q "$T/k.sqlite" "select count(*) from run where status='done'" 2>/dev/null)
    e=$(q "$T/k.sqlite" "$mid" 2>/dev/null)
    [ "${d:-0}" -ge 1 ] && [ "${e:-0}" -ge 1 ] && break
    sleep 0.05; i=$((i + 1))
  done
  kill -KILL $pid
  wait $pid 2>/dev/null
  sleep 0.5
  running=$(q "$T/k.sqlite" "select count(*) from run where status='running'")
  done_k=$(q "$T/k.sqlite" "select count(*) from run where status='done'")
  [ "$running" -ge 1 ] && [ "$done_k" -lt 6 ] && break
  echo "# attempt $attempt: the kill landed between runs ($done_k done, $running running); again"
done
e1=$(q "$T/k.sqlite" "select count(*) from epoch")
sleep 0.5
e2=$(q "$T/k.sqlite" "select count(*) from epoch")
[ "$e1" -eq "$e2" ]; ok $? "SIGKILL of the sweep stops its workers too ($e1 epochs, no more)"
[ "$running" -ge 1 ] && [ "$done_k" -lt 6 ]
ok $? "the killed sweep left unfinished runs ($done_k done, $running running)"
"$NB" run "$T/g.yaml" -j 2 --db "$T/k.sqlite" >"$T/out" 2>"$T/err"
ok $? "the resumed sweep exits 0"
grep -q "$done_k already done" "$T/err"; ok $? "... skipping the $done_k runs already done"
[ "$(q "$T/k.sqlite" "select count(*), count(distinct config_hash), sum(status='done') from run")" = "6|6|6" ]
ok $? "every run present exactly once, all done"
bad=$(q "$T/k.sqlite" "select count(*) from run r where (select count(*) from epoch e where e.run_id=r.id) != 16 or (select count(distinct epoch) from epoch e where e.run_id=r.id) != 16 or (select count(*) from epoch_metric m where m.run_id=r.id) != 16 * 10")
[ "$bad" -eq 0 ]; ok $? "every run has its 16 epochs once, each with its metrics"
fm="select r.config_hash, f.split, f.metric, f.k, printf('%.17g', f.value) from final_metric f join run r on r.id=f.run_id order by 1, 2, 3, 4"
q "$T/ref.sqlite" "$fm" > "$T/fm.ref"
q "$T/k.sqlite" "$fm" > "$T/fm.k"
[ "$(wc -l < "$T/fm.ref")" -ge 60 ] && cmp -s "$T/fm.ref" "$T/fm.k"
ok $? "final metrics bit-identical to the uninterrupted sweep ($(wc -l < "$T/fm.ref") rows)"
ep="select r.config_hash, e.epoch, printf('%.17g', e.loss) from epoch e join run r on r.id=e.run_id order by 1, 2"
[ "$(q "$T/ref.sqlite" "$ep" | cksum)" = "$(q "$T/k.sqlite" "$ep" | cksum)" ]
ok $? "... and so are the per-epoch losses"

# a failing run does not stop the others; --fail-fast does
printf '0 1 2\n1 2 x\n' > "$T/bad.txt"
printf '0 3\n1 0\n' > "$T/bad-test.txt"
cat > "$T/f.yaml" <<'Y'
version: 1
name: e2e-fail
data: {train: bad.txt, test: bad-test.txt}
model: {name: mf, dim: 8}
sampler: {name: rns}
train: {epochs: 2, threads: 1}
grid:
  product:
    data: [{train: bad.txt, test: bad-test.txt}, {synthetic: {users: 100, items: 50}}]
Y
"$NB" run "$T/f.yaml" --db "$T/f.sqlite" >"$T/out" 2>"$T/err"
[ $? -eq 1 ]; ok $? "a sweep with a failing run exits 1"
[ "$(q "$T/f.sqlite" "select group_concat(status, ',') from (select status from run order by id)")" = "failed,done" ]
ok $? "... the failed run is recorded and the next one still ran"
q "$T/f.sqlite" "select error from run where status='failed'" | grep -q "bad.txt:2"
ok $? "... with its error (file:line) stored"
grep -q "FAILED" "$T/err"; ok $? "... and its progress line says FAILED"
"$NB" run "$T/f.yaml" --db "$T/ff.sqlite" --fail-fast >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && [ "$(q "$T/ff.sqlite" "select count(*) from run")" -eq 1 ]
ok $? "--fail-fast starts no run after the first failure"

# an invalid grid: exit 2, every problem, nothing written
sed -e 's/\[rns, dns\]/[rns, dnss]/' -e 's/seeds: \[1, 2, 3\]/seeds: [1, x]/' "$T/g.yaml" > "$T/bad.yaml"
"$NB" run "$T/bad.yaml" --db "$T/bad.sqlite" >"$T/out" 2>"$T/err"
[ $? -eq 2 ] && [ ! -e "$T/bad.sqlite" ]; ok $? "an invalid grid exits 2 and writes no store"
[ "$(wc -l < "$T/err")" -ge 1 ] && grep -q "^$T/bad.yaml:[0-9]*:[0-9]*: " "$T/err"
ok $? "... with file:line:col messages"
sed 's/^/# /' "$T/err"

tap_done
