#!/bin/sh
# e2e-store-safety.sh - one store shared by several processes, signals in
# every phase, data no sampler can train on, a damaged store and a store on
# read-only media, end to end. Counted: runs lost or trained twice (goal 0).
#  - two `negbench run` of one configuration at once: the second waits for
#    the first and exits 0, the run is trained once;
#  - two sweeps of one grid at once: both exit 0, every run done, each
#    trained by one process only;
#  - a run killed with SIGKILL is taken over by the next `negbench run`;
#  - SIGTERM while loading data: exit 75 within a second, nothing written;
#  - SIGTERM in a sweep: exit 75 within a second, runs marked interrupted;
#  - SIGTERM during a merge: exit 75 within a second, the output whole;
#  - a user with every item: exit 2 before anything is stored;
#  - a damaged store: exit 2 naming the command that checks it (run, sweep);
#  - negbench grid on a read-only file system (where unshare can mount one).
# TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbsafe
q() { sqlite3 "$1" "$2" 2>/dev/null; }
now() { date +%s.%N; }
# wait_for DB SQL: poll (50 ms) until the query returns non-empty, non-zero (20 s at most)
wait_for() { i=0; while [ $i -lt 400 ]; do v=$(q "$1" "$2"); [ -n "$v" ] && [ "$v" != 0 ] && return 0; sleep 0.05; i=$((i + 1)); done; return 1; }
# fast PID: seconds from now until PID exits (its status in $st)
fast() { t0=$(now); wait "$1"; st=$?; secs=$(echo "$(now) - $t0" | bc); }
# term_in_time PID READY WHEN: when the shell command READY holds just before, SIGTERM PID
# and one point: exit 75 within a second; otherwise a skip and status 1 (it came too late)
term_in_time() {
  if ! eval "$2"; then
    wait "$1"
    skip "SIGTERM $3 would come too late"
    return 1
  fi
  kill -TERM "$1"
  fast "$1"
  [ $st -eq 75 ] && [ "$(echo "$secs < 1" | bc)" -eq 1 ]
  ok $? "SIGTERM $3: exit 75 after ${secs} s (status $st)"
}

cat > "$T/one.yaml" <<'Y'
version: 1
name: one
data: {synthetic: {users: 2000, items: 1500, rank: 6, per_user: 30}}
model: {name: mf, dim: 16}
sampler: {name: rns}
train: {epochs: 12, batch_size: 256, threads: 1}
eval: {patience: 100}
Y

# ---- two negbench run of one configuration --------------------------------
"$NB" run "$T/one.yaml" --db "$T/two.sqlite" -q >"$T/a.out" 2>"$T/a.err" &
A=$!
wait_for "$T/two.sqlite" "select count(*) from epoch"
"$NB" run "$T/one.yaml" --db "$T/two.sqlite" -q >"$T/b.out" 2>"$T/b.err"
b=$?
wait $A
a=$?
[ $a -eq 0 ] && [ $b -eq 0 ]; r=$?; ok $r "two runs of one configuration at once both exit 0 ($a, $b)"
[ $r -eq 0 ] || cat "$T/a.err" "$T/b.err" | sed 's/^/# /'
grep -q "being trained by pid $A" "$T/b.err" && grep -q "finished by another process" "$T/b.err"
ok $? "... the second waits for the first and says so"
[ "$(q "$T/two.sqlite" "select count(*) || '/' || sum(status = 'done') || '/' || sum(epochs_run) from run")" = 1/1/12 ] &&
  [ "$(q "$T/two.sqlite" "select count(*) from epoch")" -eq 12 ]
ok $? "... one run, done, 12 epochs stored once (runs lost: 0, trained twice: 0)"
[ "$(q "$T/two.sqlite" "select count(*) from run_owner")" -eq 0 ]; ok $? "... no claim left"

# ---- two sweeps of one grid --------------------------------------------------
cat > "$T/g.yaml" <<'Y'
version: 1
name: g
data: {synthetic: {users: 1200, items: 900, rank: 6, per_user: 25}}
model: {name: mf, dim: 16}
sampler: {name: rns}
train: {epochs: 8, batch_size: 256, threads: 1}
eval: {patience: 100}
grid:
  seeds: [1, 2, 3, 4]
Y
"$NB" run "$T/g.yaml" --db "$T/g.sqlite" -j 1 >"$T/ga.out" 2>"$T/ga.err" &
A=$!
"$NB" run "$T/g.yaml" --db "$T/g.sqlite" -j 1 >"$T/gb.out" 2>"$T/gb.err"
b=$?
wait $A
a=$?
[ $a -eq 0 ] && [ $b -eq 0 ]; r=$?; ok $r "two sweeps of one grid at once both exit 0 ($a, $b)"
[ $r -eq 0 ] || cat "$T/ga.err" "$T/ga.out" "$T/gb.err" "$T/gb.out" "$T"/g.logs/*.log | grep -v '^epoch' | sed 's/^/# /'

[ "$(q "$T/g.sqlite" "select count(*) || '/' || sum(status = 'done') || '/' || sum(epochs_run) from run")" = 4/4/32 ] &&
  [ "$(q "$T/g.sqlite" "select count(*) from epoch")" -eq 32 ]
ok $? "... 4 runs done, 32 epochs stored once (runs lost: 0)"
trained=$(cat "$T"/g.logs/*.log | grep -c ': done, best epoch')
[ "$trained" -eq 4 ]; ok $? "... each run trained by one process ($trained trainings for 4 runs)"
grep -q "4 done" "$T/ga.out" && grep -q "4 done" "$T/gb.out"; ok $? "... both count 4 runs done"

# ---- a killed owner's run is taken over ----------------------------------------
"$NB" run "$T/one.yaml" --db "$T/kill.sqlite" -q >/dev/null 2>&1 &
A=$!
wait_for "$T/kill.sqlite" "select count(*) from epoch where epoch >= 2"
kill -KILL $A
wait $A
"$NB" run "$T/one.yaml" --db "$T/kill.sqlite" -q >"$T/k.out" 2>"$T/k.err"
ok $? "after kill -9 the next run takes the run over and exits 0"
[ "$(q "$T/kill.sqlite" "select count(*) || '/' || sum(status = 'done') || '/' || sum(epochs_run) from run")" = 1/1/12 ] &&
  [ "$(q "$T/kill.sqlite" "select count(*) from epoch")" -eq 12 ]
ok $? "... one run, done, 12 epochs (runs lost: 0, duplicated: 0)"

# ---- SIGTERM while loading data ---------------------------------------------------
awk 'BEGIN { srand(7); for (i = 0; i < 2500000; i++) print int(rand() * 40000) "," int(rand() * 20000) }' > "$T/big.csv"
cat > "$T/big.yaml" <<'Y'
version: 1
data: {train: big.csv, split: ratio}
model: {name: mf, dim: 8}
sampler: {name: rns}
train: {epochs: 1}
Y
"$NB" run "$T/big.yaml" --db "$T/big.sqlite" >/dev/null 2>"$T/big.err" &
A=$!
sleep 0.4
if term_in_time $A '[ ! -e "$T/big.sqlite" ]' "while loading data"; then
  [ ! -e "$T/big.sqlite" ]; ok $? "... nothing written"
else
  skip "the data was loaded before the signal"
fi

# ---- SIGTERM in a sweep -------------------------------------------------------------
rm -rf "$T/g.sqlite"* "$T/g.logs"
"$NB" run "$T/g.yaml" --db "$T/g.sqlite" -j 2 >/dev/null 2>"$T/gt.err" &
A=$!
wait_for "$T/g.sqlite" "select count(*) from epoch"
kill -TERM $A
fast $A
[ $st -eq 75 ] && [ "$(echo "$secs < 1.5" | bc)" -eq 1 ]
ok $? "SIGTERM in a sweep: exit 75 after ${secs} s (status $st)"
[ "$(q "$T/g.sqlite" "select count(*) from run where status = 'running'")" -eq 0 ] &&
  [ "$(q "$T/g.sqlite" "select count(*) from run where status = 'interrupted'")" -ge 1 ]
ok $? "... its runs are marked interrupted, none left running"
"$NB" run "$T/g.yaml" --db "$T/g.sqlite" -j 2 >/dev/null 2>&1
ok $? "... and the sweep resumes to exit 0"

# ---- SIGTERM during a merge ---------------------------------------------------------
# a one-shard "sweep" of 20 runs with 30,000 hit lists each, written with SQL; merge
# checks that each config_hash is the SHA-256 of its config_json, and the grid identity
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
runs=
for i in $(seq 1 20); do
  runs="$runs${runs:+,}($i, 1, '$(sha "{\"i\":$i}")', '{\"i\":$i}', $i, 'mf', 'rns', 'done', 'now', 0)"
done
sqlite3 "$T/m.shard.sqlite" < "$S/../results/schema.sql"
sqlite3 "$T/m.shard.sqlite" "PRAGMA journal_mode = WAL;
INSERT INTO meta VALUES ('shard_index', '0'), ('shard_count', '1'),
  ('grid_identity', '$(sha m-grid)'), ('shard_runs', '20'), ('grid_runs', '20'), ('experiment', 'm');
INSERT INTO experiment VALUES (1, 'm', 'x', 'x', 'now');
INSERT INTO run (id, experiment_id, config_hash, config_json, seed, model, sampler, status,
  started_at, epochs_run) VALUES $runs;
WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i < 29999)
INSERT INTO user_hits SELECT run.id, u.i, 20, randomblob(40) FROM run, u;" >/dev/null
"$NB" merge "$T/m.sqlite" "$T/m.shard.sqlite" >/dev/null 2>"$T/m.err" &
A=$!
wait_for "$T/m.sqlite" "select count(*) from meta"
sleep 0.2
if term_in_time $A '[ "$(q "$T/m.sqlite" "select count(*) from run")" = 0 ]' "during a merge"; then
  [ "$(q "$T/m.sqlite" "pragma quick_check")" = ok ] && [ "$(q "$T/m.sqlite" "select count(*) from run")" -eq 0 ]
  ok $? "... the output is whole, without the shard in progress"
else
  skip "the merge ended before the signal"
fi
"$NB" merge "$T/m.sqlite" "$T/m.shard.sqlite" >/dev/null 2>&1 &&
  [ "$(q "$T/m.sqlite" "select count(*) from user_hits")" -eq 600000 ]
ok $? "... and merging again completes it"

# ---- data on which no negative can be drawn ----------------------------------------
printf '0 0 1 2 3\n1 0 2\n2 1 3\n' > "$T/full.txt"
printf '0 1\n1 1\n2 2\n' > "$T/test.txt"
cat > "$T/full.yaml" <<'Y'
version: 1
data: {train: full.txt, test: test.txt, valid_share: 0}
model: {name: mf, dim: 4}
sampler: {name: rns}
train: {epochs: 2}
Y
"$NB" run "$T/full.yaml" --db "$T/full.sqlite" >/dev/null 2>"$T/full.err"
st=$?
[ $st -eq 2 ]; ok $? "a user with every item is a data error (exit $st)"
grep -q "full.txt: user 0 has every one of the 4 items" "$T/full.err" && [ "$(wc -l < "$T/full.err")" -eq 1 ]
ok $? "... one line naming the file and the user"
[ ! -e "$T/full.sqlite" ]; ok $? "... nothing stored"
# the same data in a sweep (two seeds): exit 2 before the store or its logs exist
sed 's/^train: {epochs: 2}$/train: {epochs: 2}\ngrid: {seeds: [1, 2]}/' "$T/full.yaml" > "$T/fullg.yaml"
"$NB" run "$T/fullg.yaml" --db "$T/fullg.sqlite" -j 2 >/dev/null 2>"$T/fullg.err"
st=$?
[ $st -eq 2 ] && grep -q "full.txt: user 0 has every one of the 4 items" "$T/fullg.err"
ok $? "... and in a sweep: exit $st naming the file and the user"
[ ! -e "$T/fullg.sqlite" ] && [ ! -e "$T/fullg.logs" ]; ok $? "... with nothing stored"

# ---- a damaged store --------------------------------------------------------------------
cp "$T/two.sqlite" "$T/bad.sqlite"
size=$(wc -c < "$T/bad.sqlite")
[ "$size" -gt 40000 ]; ok $? "the store to damage has $size bytes"
printf '%03000d' 0 | dd of="$T/bad.sqlite" bs=1 seek=20580 conv=notrunc 2>/dev/null
"$NB" run "$T/one.yaml" --db "$T/bad.sqlite" -q --force >/dev/null 2>"$T/bad.err"
st=$?
[ $st -eq 2 ] && grep -q "PRAGMA integrity_check" "$T/bad.err"
ok $? "negbench run refuses a damaged store naming the command that checks it (exit $st)"
"$NB" run "$T/g.yaml" --db "$T/bad.sqlite" -q >/dev/null 2>"$T/badg.err"
st=$?
[ $st -eq 2 ] && grep -q "PRAGMA integrity_check" "$T/badg.err"
ok $? "... and so does a sweep (exit $st)"

# ---- negbench grid on read-only media --------------------------------------------------
mkdir "$T/ro"
if command -v unshare >/dev/null 2>&1 && unshare -rm sh -c "mount -t tmpfs tmpfs '$T/ro'" 2>/dev/null; then
  unshare -rm sh -c "mount -t tmpfs -o size=8m tmpfs '$T/ro' && cp '$T/g.sqlite' '$T/g.yaml' '$T/ro/' &&
    mount -o remount,ro '$T/ro' && { touch '$T/ro/x' 2>/dev/null && echo writable; true; } &&
    '$NB' grid '$T/ro/g.yaml' --db '$T/ro/g.sqlite' >'$T/ro.out' 2>'$T/ro.err'"
  st=$?
  [ $st -eq 0 ] && [ "$(grep -c '  done  ' "$T/ro.out")" -eq 4 ] && ! grep -q writable "$T/ro.out"
  r=$?; ok $r "negbench grid reads a store on a read-only file system (exit $st)"
  [ $r -eq 0 ] || cat "$T/ro.out" "$T/ro.err" | sed 's/^/# /'
else
  skip "cannot mount a read-only file system here (unshare -rm)"
fi

tap_done
