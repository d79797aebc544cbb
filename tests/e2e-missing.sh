#!/bin/sh
# e2e-missing.sh - runs a sweep planned but never started are visible in
# reports: a sweep records its whole grid in the store (sweep_plan) before
# its first run; half a grid run with --shard 0/2, then reported, lists the
# missing points (counted, with label and short hash) under the Markdown and
# LaTeX tables and in the CSV's left_out section, marks their cells (n=k)
# even where every cell of a column lacks seeds, and averages only the
# finished runs; a sweep killed with SIGKILL leaves its plan whole, lists
# the unfinished and missing runs, and resuming adds no plan row; merged
# shards plan the union; --plan GRID.yaml gives the plan of a store that has
# none; negbench grid --db reads an old store without upgrading it. TAP
# output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbmiss
q() { sqlite3 "$1" "$2"; }
no_shard_env

cat > "$T/g.yaml" <<'Y'
version: 1
name: e2e-missing
data:
  synthetic: {users: 300, items: 200, rank: 4, per_user: 10}
model: {name: mf, dim: 8}
sampler: {name: rns}
train: {epochs: 3, lr: 0.01, batch_size: 512, threads: 1}
eval: {every: 1, topk: [10, 20], metric: recall@20, patience: 100}
grid:
  product:
    sampler.name: [rns, dns]
  seeds: [1, 2, 3]
sampler_params:
  dns: {M: 8}
Y

# ---- half the grid: shard 0/2 runs distinct runs 0, 2, 4 -------------------
"$NB" run "$T/g.yaml" --shard 0/2 --db "$T/m.sqlite" >"$T/out" 2>"$T/err"
ok $? "--shard 0/2 of a 6-run grid exits 0"
S0="$T/m.shard-0-of-2.sqlite"
[ "$(q "$S0" 'pragma user_version')" = 3 ] && [ "$(q "$S0" 'select count(*) from run')" = 3 ] &&
  [ "$(q "$S0" 'select count(*) from sweep_plan')" = 6 ] &&
  [ "$(q "$S0" "select group_concat(label, ';') from (select label from plan_status where status = 'missing' order by position)")" = \
    'sampler.name=rns seed=2;sampler.name=dns seed=1;sampler.name=dns seed=3' ]
ok $? "the shard's store holds its 3 runs and the whole grid's 6 planned points, 3 missing"
q "$S0" "select 'missing: ' || label || ' (' || substr(config_hash, 1, 12) || ')' from plan_status
         where status = 'missing' order by position" > "$T/want"
[ "$(wc -l < "$T/want")" -eq 3 ]; ok $? "... (the expected missing lines, from the store)"

"$NB" report "$S0" --metrics recall --k 20 >"$T/md" 2>"$T/err"
ok $? "negbench report on the half-run store exits 0"
grep -q '^Missing: 3 planned runs never started$' "$T/md"; ok $? "Markdown: the missing runs are counted"
sed -n 's/^- \(missing: [^:]*\):.*/\1/p' "$T/md" > "$T/got"
cmp -s "$T/want" "$T/got"; ok $? "Markdown: every missing point is listed as 'missing: LABEL (HASH12)'"
# rns has 2 of its 3 seeds, dns 1 of 3: both cells are marked, rns too
# although no cell of the column has more than 2 seeds
grep -q '^| rns | .*0\.[0-9]* ± 0\.[0-9]*.* (n=2) |$' "$T/md" && grep -q '^| dns | .* (n=1) |$' "$T/md"
ok $? "Markdown: both cells are marked with their seeds (rns (n=2) under a column whose most is 2)"

"$NB" report "$S0" --metrics recall --k 20 --format latex >"$T/tex" 2>"$T/err"
ok $? "negbench report --format latex exits 0"
grep -q '^% Missing: 3 planned runs never started$' "$T/tex" &&
  [ "$(sed -n 's/^% - \(missing: [^:]*\):.*/\1/p' "$T/tex")" = "$(cat "$T/want")" ] &&
  grep -q '^rns & .* (n=2) \\\\$' "$T/tex" && grep -q '^dns & .* (n=1) \\\\$' "$T/tex"
ok $? "LaTeX: the same list as comments under the tabular, and the same marks"

"$NB" report "$S0" --metrics recall --k 20 --format csv >"$T/csv" 2>"$T/err"
ok $? "negbench report --format csv exits 0"
head -1 "$T/csv" | grep -q ',n_planned,fewer_seeds$' &&
  grep -q '^main,rns,synthetic mf,recall,20,2,.*,3,1$' "$T/csv" &&
  grep -q '^main,dns,synthetic mf,recall,20,1,.*,3,1$' "$T/csv"
ok $? "CSV: each cell has n, n_planned 3 and fewer_seeds 1"
grep -q '^left_out,status,row,col,seed,label,hash,store,epochs_run,error$' "$T/csv" &&
  [ "$(grep -c '^left_out,missing,' "$T/csv")" -eq 3 ] &&
  grep -q "^left_out,missing,dns,synthetic mf,3,sampler.name=dns seed=3,$(q "$S0" "select config_hash from sweep_plan where label = 'sampler.name=dns seed=3'"),m.shard-0-of-2.sqlite,0,$" "$T/csv"
ok $? "CSV: a left_out section lists the 3 missing points with seed, label, hash and store"
# nothing averaged wrongly: the cells are the mean of the finished runs only
want=$(q "$S0" "select printf('%.6f', avg(f.value)) from final_metric f join run r on r.id = f.run_id
                where r.status = 'done' and r.sampler = 'rns' and f.split = 'test'
                and f.metric = 'recall' and f.k = 20")
got=$(awk -F, '$2 == "rns" && $4 == "recall" { printf "%.6f", $7 }' "$T/csv")
[ -n "$want" ] && [ "$want" = "$got" ]; ok $? "the rns cell is the mean of its 2 finished runs ($got)"
"$NB" report "$S0" --metrics recall --k 20 --where sampler.name=dns >"$T/md2" 2>"$T/err" &&
  grep -q '^Missing: 2 planned runs never started$' "$T/md2" && ! grep -q 'sampler.name=rns' "$T/md2"
ok $? "--where keeps only the matching planned points (2 of dns)"

# ---- --plan GRID.yaml: the plan from the grid, for stores without one ----
cp "$S0" "$T/noplan.sqlite"
q "$T/noplan.sqlite" 'delete from sweep_plan'
"$NB" report "$T/noplan.sqlite" --metrics recall --k 20 >"$T/md" 2>"$T/err" && ! grep -q 'issing' "$T/md"
ok $? "a store without a plan (as written before schema version 3) lists nothing missing"
"$NB" report "$T/noplan.sqlite" --metrics recall --k 20 --plan "$T/g.yaml" >"$T/md" 2>"$T/err" &&
  grep -q '^Missing: 3 planned runs never started$' "$T/md" &&
  [ "$(sed -n 's/^- \(missing: [^:]*\):.*(planned in g.yaml)$/\1/p' "$T/md")" = "$(cat "$T/want")" ] &&
  grep -q '^| rns | .* (n=2) |$' "$T/md"
ok $? "--plan GRID.yaml lists the same 3 missing points, planned in the grid, and marks the cells"
"$NB" report "$T/noplan.sqlite" --plan "$T/nope.yaml" >"$T/md" 2>"$T/err"
[ $? -eq 2 ] && grep -q 'nope.yaml' "$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ]
ok $? "--plan with a grid that does not exist: exit 2, one line naming the file"

# ---- the other half, then the merge: nothing is missing --------------------
"$NB" run "$T/g.yaml" --shard 1/2 --db "$T/m.sqlite" >"$T/out" 2>"$T/err"
ok $? "--shard 1/2 exits 0"
"$NB" report "$S0" "$T/m.shard-1-of-2.sqlite" --metrics recall --k 20 >"$T/md" 2>"$T/err" &&
  ! grep -q 'issing' "$T/md" && ! grep -q '(n=[0-9]' "$T/md"
ok $? "both shards reported together: nothing missing, no cell marked"
"$NB" merge "$T/all.sqlite" "$S0" "$T/m.shard-1-of-2.sqlite" >"$T/out" 2>"$T/err"
ok $? "negbench merge of the two shards exits 0"
[ "$(q "$T/all.sqlite" 'select count(*) from sweep_plan')" = 6 ] &&
  [ "$(q "$T/all.sqlite" "select count(*) from plan_status where status = 'done'")" = 6 ]
ok $? "the merged store plans the 6 points once each, all done"
"$NB" merge "$T/half.sqlite" "$S0" >"$T/out" 2>"$T/err"
"$NB" report "$T/half.sqlite" --metrics recall --k 20 >"$T/md" 2>"$T/err" &&
  grep -q '^Missing: 3 planned runs never started$' "$T/md"
ok $? "a merge lacking a shard still lists the absent shard's points as missing"

# ---- a sweep killed outright ------------------------------------------------
sed -e 's/users: 300, items: 200/users: 1500, items: 600/' -e 's/epochs: 3/epochs: 60/' \
  -e 's/name: e2e-missing/name: e2e-killed/' "$T/g.yaml" > "$T/k.yaml"
"$NB" run "$T/k.yaml" -j 1 --db "$T/k.sqlite" >"$T/kout" 2>"$T/kerr" &
pid=$!
i=0
while [ $i -lt 600 ]; do
  d=$(q "$T/k.sqlite" "select count(*) from run where status = 'done'" 2>/dev/null)
  e=$(q "$T/k.sqlite" "select count(*) from run where status = 'running'" 2>/dev/null)
  [ "${d:-0}" -ge 1 ] && [ "${e:-0}" -ge 1 ] && break
  sleep 0.05
  i=$((i + 1))
done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
sleep 0.5 # the worker dies with its parent
runs=$(q "$T/k.sqlite" 'select count(*) from run')
[ "$(q "$T/k.sqlite" 'select count(*) from sweep_plan')" = 6 ] && [ "$runs" -ge 2 ] && [ "$runs" -lt 6 ] &&
  [ "$(q "$T/k.sqlite" 'pragma quick_check')" = ok ]
ok $? "a sweep killed with SIGKILL mid-way leaves a consistent store: 6 planned points, $runs runs"
"$NB" report "$T/k.sqlite" --metrics recall --k 20 >"$T/md" 2>"$T/err"
miss=$((6 - runs))
grep -q "^Missing: $miss planned runs\{0,1\} never started$" "$T/md" &&
  [ "$(grep -c '^- missing: ' "$T/md")" -eq $miss ] && grep -q '^Not in the table: [1-9]' "$T/md" &&
  grep -q 'running after' "$T/md" && grep -q '(n=1)' "$T/md"
ok $? "its report lists the unfinished run and the $miss never started, and marks the cell"
"$NB" run "$T/k.yaml" -j 2 --db "$T/k.sqlite" >"$T/kout" 2>"$T/kerr"
ok $? "resuming the killed sweep exits 0"
[ "$(q "$T/k.sqlite" 'select count(*) from sweep_plan')" = 6 ] &&
  [ "$(q "$T/k.sqlite" "select count(*) from run where status = 'done'")" = 6 ]
ok $? "... with its 6 runs done and no plan row added"
"$NB" report "$T/k.sqlite" --metrics recall --k 20 >"$T/md" 2>"$T/err" && ! grep -q 'issing' "$T/md"
ok $? "... and nothing missing in its report"

# ---- negbench grid --db on older stores: read as they are ------------------
# the fixture stores of schema versions 1 and 2, with the shard's 3 runs added
for v in 1 2; do
  sqlite3 "$T/v$v.sqlite" < "$S/fixtures/stores/store-v$v.sql" &&
    q "$T/v$v.sqlite" "attach '$S0' as s; insert into run (experiment_id, config_hash, config_json,
      seed, model, sampler, status, started_at) select 1, config_hash, config_json, seed, model,
      sampler, status, started_at from s.run"
  before=$(cksum < "$T/v$v.sqlite")
  "$NB" grid "$T/g.yaml" --db "$T/v$v.sqlite" >"$T/dry" 2>"$T/err"
  rc=$?
  [ $rc -eq 0 ] && [ "$(grep -c '  done  ' "$T/dry")" -eq 3 ] && [ "$(grep -c '  new  ' "$T/dry")" -eq 3 ] &&
    [ "$(cksum < "$T/v$v.sqlite")" = "$before" ] && [ "$(q "$T/v$v.sqlite" 'pragma user_version')" = $v ]
  ok $? "negbench grid --db on a schema version $v store exits 0, shows 3 done and 3 new, writes nothing"
done

tap_done
