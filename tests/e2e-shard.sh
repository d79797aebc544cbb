#!/bin/sh
# e2e-shard.sh - sharded sweeps without a cluster: 3 shards (I/N given by
# --shard, by Slurm array variables and by Open MPI variables) merged equal a
# single-process sweep row for row; merging twice changes nothing; a missing
# shard and a partial shard (SIGTERM mid-way: exit 75, run interrupted) are
# reported with exit 1, and the resumed shard merges to the same result;
# refused inputs (another grid, not a store, not a shard) exit 2 and write
# nothing; negbench slurm writes valid scripts. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbshard
. "$S/store-compare.sh"
q() { sqlite3 "$1" "$2"; }
no_shard_env

# the sweep of tests/fixtures/grid/sweep.yaml (MF, RNS and DNS, 3 seeds)
sed -e 's/^name: e2e-sweep$/name: e2e-shard/' -e 's/epochs: 16,/epochs: 40,/' "$S/fixtures/grid/sweep.yaml" > "$T/g.yaml"

"$NB" run "$T/g.yaml" -j 2 --db "$T/ref.sqlite" >"$T/out" 2>"$T/err"
ok $? "the single-process reference sweep (6 runs) exits 0"

"$NB" run "$T/g.yaml" --shard 0/3 --db "$T/m.sqlite" >"$T/out0" 2>"$T/err0"
ok $? "--shard 0/3 exits 0"
grep -q "shard 0/3 (from --shard) into $T/m.shard-0-of-3.sqlite" "$T/err0" && [ -f "$T/m.shard-0-of-3.sqlite" ]
ok $? "... into <db stem>.shard-0-of-3.sqlite"
[ "$(q "$T/m.shard-0-of-3.sqlite" "select count(*) from run where status='done'")" -eq 2 ]
ok $? "... with its 2 of the 6 runs"
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 SLURM_PROCID=0 SLURM_NTASKS=1 \
  "$NB" run "$T/g.yaml" --db "$T/m.sqlite" >"$T/out1" 2>"$T/err1"
ok $? "shard 1/3 from SLURM_ARRAY_TASK_ID/COUNT exits 0"
grep -q "shard 1/3 (from SLURM_ARRAY_TASK_ID)" "$T/err1"; ok $? "... the array variables win over SLURM_PROCID"

# shard 2/3 from Open MPI's variables, SIGTERM'd mid-way: exit 75, run interrupted
OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=3 "$NB" run "$T/g.yaml" --db "$T/m.sqlite" \
  >"$T/out2" 2>"$T/err2" &
pid=$!
i=0
while [ $i -lt 400 ]; do
  # a run in progress with most of its 40 epochs still to go, so that the
  # signal lands inside a run even on a loaded machine
  e=$(q "$T/m.shard-2-of-3.sqlite" \
        "select count(*) from run where status = 'running' and epochs_run between 2 and 20" 2>/dev/null)
  [ "${e:-0}" -ge 1 ] && break
  sleep 0.05; i=$((i + 1))
done
kill -TERM $pid
wait $pid
[ $? -eq 75 ]; ok $? "shard 2/3 (from OMPI_COMM_WORLD_RANK/SIZE) stopped by SIGTERM exits 75"
grep -q "shard 2/3 (from OMPI_COMM_WORLD_RANK)" "$T/err2"; ok $? "... it took I/N from Open MPI's variables"
[ "$(q "$T/m.shard-2-of-3.sqlite" "select count(*) from run where status='interrupted'")" -eq 1 ]
ok $? "... its current run is marked interrupted"

# missing and partial shards
"$NB" merge "$T/p.sqlite" "$T/m.shard-0-of-3.sqlite" "$T/m.shard-1-of-3.sqlite" >"$T/mo" 2>"$T/me"
[ $? -eq 1 ]; ok $? "merging 2 of 3 shards exits 1"
grep -q "shard 2/3 missing" "$T/me" && grep -q "INCOMPLETE" "$T/mo"; ok $? "... and names the missing shard"
sed 's/^/# /' "$T/me"
[ "$(q "$T/p.sqlite" "select count(*) from run where status='done'")" -eq 4 ]
ok $? "... after merging the 4 runs it has"
"$NB" merge "$T/p.sqlite" "$T"/m.shard-*-of-3.sqlite >"$T/mo" 2>"$T/me"
[ $? -eq 1 ] && grep -q "m.shard-2-of-3.sqlite: shard 2/3 partial: [01] of 2 runs done" "$T/me"
ok $? "a partial shard exits 1 and is named with its counts"
sed 's/^/# /' "$T/me"

# resume the SIGTERM'd shard, then merge all
OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=3 "$NB" run "$T/g.yaml" --db "$T/m.sqlite" \
  >"$T/out2" 2>"$T/err2"
ok $? "the SIGTERM'd shard resumes and exits 0"
"$NB" merge "$T/m.sqlite" "$T"/m.shard-*-of-3.sqlite >"$T/mo" 2>"$T/me"
ok $? "merging the 3 shards exits 0"
grep -q "3 of 3 shards, 6 of 6 runs done, 6 runs written; complete" "$T/mo"; ok $? "... and says it is complete"
store_results "$T/ref.sqlite" > "$T/ref.txt"
store_results "$T/m.sqlite" > "$T/m.txt"
[ "$(grep -c '^epoch_metric|' "$T/ref.txt")" -eq 2400 ] && cmp -s "$T/ref.txt" "$T/m.txt"
ok $? "merged shards equal the single-process sweep row for row ($(wc -l < "$T/ref.txt") rows, bit-identical metrics)"
[ "$(grep -c '^user_ranks|' "$T/m.txt")" -eq 12 ]
ok $? "... per-user ranks included: test and validation of each of the 6 runs"
# one run per shard: every run loads its own data set, where the sweep's
# parent loaded each data set two runs share (core/data_cache.c)
i=0
while [ $i -lt 6 ]; do "$NB" run "$T/g.yaml" --shard $i/6 --db "$T/six.sqlite" -q >/dev/null 2>&1; i=$((i + 1)); done
"$NB" merge "$T/six.sqlite" "$T"/six.shard-*-of-6.sqlite >"$T/mo" 2>"$T/me" &&
  store_results "$T/six.sqlite" > "$T/six.txt" && cmp -s "$T/ref.txt" "$T/six.txt"
ok $? "6 one-run shards (data loaded by each run) merged equal the sweep (data shared through its parent)"
"$NB" merge "$T/p.sqlite" "$T"/m.shard-*-of-3.sqlite >"$T/mo" 2>"$T/me"
store_results "$T/p.sqlite" > "$T/p.txt"
cmp -s "$T/ref.txt" "$T/p.txt"; ok $? "re-merging into the store of the partial merge gives the same result"

store_all "$T/m.sqlite" > "$T/all1"
"$NB" merge "$T/m.sqlite" "$T"/m.shard-*-of-3.sqlite "$T/m.shard-1-of-3.sqlite" >"$T/mo" 2>"$T/me"
ok $? "merging again (one shard given twice) exits 0"
store_all "$T/m.sqlite" > "$T/all2"
cmp -s "$T/all1" "$T/all2" && grep -q "0 runs written" "$T/mo"
ok $? "... and changes nothing, ids and time stamps included"

# refused inputs: nothing written
sed 's/seeds: \[1, 2, 3\]/seeds: [1, 2, 4]/' "$T/g.yaml" > "$T/h.yaml"
"$NB" run "$T/h.yaml" --shard 0/3 --db "$T/h.sqlite" -q >/dev/null 2>&1
"$NB" merge "$T/x.sqlite" "$T/m.shard-1-of-3.sqlite" "$T/h.shard-0-of-3.sqlite" >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && [ ! -e "$T/x.sqlite" ] && grep -q "of another grid or split" "$T/me"
ok $? "shards of two grids: exit 2, nothing written"
sed 's/^/# /' "$T/me"
"$NB" merge "$T/x.sqlite" "$T/g.yaml" >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && [ ! -e "$T/x.sqlite" ] && [ "$(cat "$T/me")" = "negbench merge: $T/g.yaml: not a negbench store" ]
ok $? "a file that is not a store: exit 2 and one line"
"$NB" merge "$T/x.sqlite" "$T/ref.sqlite" >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && grep -q "ref.sqlite: not a shard store" "$T/me"; ok $? "a plain store: exit 2"
"$NB" merge "$T/m.shard-0-of-3.sqlite" "$T/m.shard-1-of-3.sqlite" >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && grep -q "is itself a shard store" "$T/me"; ok $? "a shard as output: exit 2"
"$NB" run "$T/h.yaml" --shard 1/3 --db "$T/m.sqlite" -q >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && grep -q "m.shard-1-of-3.sqlite: the shard of another grid" "$T/me"
ok $? "running another grid's shard into an existing shard store: exit 2"
"$NB" run "$T/g.yaml" --shard 3/3 >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && grep -q "^negbench run: --shard takes I/N" "$T/me"; ok $? "--shard 3/3: exit 2"
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=3 "$NB" run "$T/g.yaml" >"$T/mo" 2>"$T/me"
[ $? -eq 2 ] && [ "$(wc -l < "$T/me")" -eq 1 ]; ok $? "an array task id beyond the count: exit 2, one line"
sed 's/^/# /' "$T/me"
"$NB" merge --help | grep -q "^usage: negbench merge" && "$NB" slurm --help | grep -q "^usage: negbench slurm"
ok $? "merge and slurm have --help"

# negbench slurm: scripts only
(cd "$T" && "$NB" slurm g.yaml --shards 3 --max-parallel 2 --time 10:00 --out sl --db res/g.sqlite) >"$T/so" 2>"$T/se"
ok $? "negbench slurm exits 0"
[ -x "$T/sl/array.sbatch" ] && [ -x "$T/sl/merge.sbatch" ] && [ -x "$T/sl/submit.sh" ] && [ -d "$T/sl/logs" ]
ok $? "... writing array.sbatch, merge.sbatch, submit.sh and logs/"
bash -n "$T/sl/array.sbatch" && bash -n "$T/sl/merge.sbatch" && sh -n "$T/sl/submit.sh"
ok $? "... which are valid shell"
grep -q "^#SBATCH --array=0-2%2$" "$T/sl/array.sbatch" && grep -q "^#SBATCH --time=10:00$" "$T/sl/array.sbatch" &&
  grep -q -- "--shard \"\$SLURM_ARRAY_TASK_ID/3\"" "$T/sl/array.sbatch" &&
  grep -q "^#SBATCH --signal=B:USR1@120$" "$T/sl/array.sbatch" &&
  grep -q -- "--dependency=afterok:\$A --kill-on-invalid-dep=yes" "$T/sl/submit.sh" &&
  grep -q "res/g'.shard-\$i-of-3.sqlite" "$T/sl/merge.sbatch"
ok $? "... with the array, time limit, shard, requeue signal and afterok merge"
"$NB" slurm "$T/g.yaml" --shards 7 --out "$T/sl7" >"$T/so" 2>"$T/se"
[ $? -eq 2 ] && [ ! -e "$T/sl7" ]; ok $? "more shards than distinct runs: exit 2, nothing written"
sed -e 's/\[rns, dns\]/[rns, dnss]/' "$T/g.yaml" > "$T/bad.yaml"
"$NB" slurm "$T/bad.yaml" --out "$T/slb" >"$T/so" 2>"$T/se"
[ $? -eq 2 ] && [ ! -e "$T/slb" ] && grep -q "^$T/bad.yaml:[0-9]*:[0-9]*: " "$T/se"
ok $? "an invalid grid: file:line:col, exit 2, nothing written"

tap_done
