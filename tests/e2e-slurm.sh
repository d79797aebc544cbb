#!/bin/sh
# e2e-slurm.sh - the sweep on a real single-node Slurm (tests/hpc.sh starts
# munge, slurmctld and slurmd on localhost and stops them by PID): negbench
# slurm's 4-task array and its afterok merge job on a small synthetic grid,
# submitted with submit.sh --wait under a timeout; the merged store equals a
# local run row for row. A task told that its time limit is near (USR1, as
# --signal=B:USR1@120 does) commits, exits 75, requeues itself and resumes
# to the same result. Also mpirun -np 2 sharding through Open MPI's
# variables when mpirun is there. Skips (TAP) where Slurm cannot run: not
# root, or the packages absent (.ci/run installs them). TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
. "$S/hpc.sh"
. "$S/store-compare.sh"
if ! slurm_possible; then
  echo "1..0 # SKIP Slurm not available here (needs root and slurmctld, slurmd, slurm-client, munge)"
  exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/nbslurm.XXXXXX")
SLURM_DIR=$T/slurm
trap 'slurm_down; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
no_shard_env
unset SLURM_JOB_ID SLURM_CPUS_PER_TASK

cat > "$T/g.yaml" <<'Y'
version: 1
name: e2e-slurm
data:
  synthetic: {users: 300, items: 200, rank: 6, per_user: 15}
model: {name: mf, dim: 16}
sampler: {name: rns}
train: {epochs: 4, lr: 0.01, batch_size: 256, threads: 1}
eval: {every: 1, topk: [10, 20], metric: recall@20, patience: 100}
grid:
  product:
    sampler.name: [rns, dns]
  seeds: [1, 2, 3, 4]
sampler_params:
  dns: {M: 8}
Y
"$NB" run "$T/g.yaml" -j 2 --db "$T/local.sqlite" -q >"$T/out" 2>"$T/err"
ok $? "the local reference sweep (8 runs) exits 0"
store_results "$T/local.sqlite" > "$T/local.txt"

if ! slurm_up 2>"$T/up.err"; then
  sed 's/^/# /' "$T/up.err"
  echo "1..0 # SKIP Slurm could not be started here"
  exit 0
fi
ok 0 "single-node Slurm up ($(sinfo -h -o '%P %D %c %T' | head -n 1))"

(cd "$T" && "$NB" slurm g.yaml --shards 4 --max-parallel 4 --out sl --db merged.sqlite) >"$T/so" 2>"$T/se"
ok $? "negbench slurm writes the array and merge jobs"
timeout 300 sh "$T/sl/submit.sh" --wait >"$T/sub" 2>"$T/sube"
ok $? "submit.sh --wait: the 4-task array and the merge job succeed"
sed 's/^/# /' "$T/sub" "$T/sube"
[ "$(ls "$T"/merged.shard-*-of-4.sqlite 2>/dev/null | wc -l)" -eq 4 ] &&
  [ "$(ls "$T"/sl/logs/shard-*_[0-3].out | wc -l)" -eq 4 ]
ok $? "... one shard store and one log per task"
grep -q "4 of 4 shards, 8 of 8 runs done, 8 runs written; complete" "$T"/sl/logs/merge-*.out
ok $? "... the merge job reports all 4 shards complete"
store_results "$T/merged.sqlite" > "$T/merged.txt" 2>/dev/null
[ "$(grep -c '^run|' "$T/merged.txt")" -eq 8 ] && cmp -s "$T/local.txt" "$T/merged.txt"
ok $? "the merged store equals the local run row for row ($(wc -l < "$T/local.txt") rows)"

# requeue near the time limit: USR1 to the batch shell (what --signal=B:USR1@120
# sends) -> negbench commits its epoch and exits 75 -> the task requeues itself
# and, started again, resumes the shard
# (runs big enough for ~50 ms epochs: with 900 x 500 on a quiet machine a whole
# run took 0.4 s and the poll below could miss it, seen once in CI)
sed -e 's/name: e2e-slurm/name: e2e-requeue/' -e 's/epochs: 4/epochs: 40/' \
  -e 's/users: 300, items: 200, rank: 6, per_user: 15/users: 3000, items: 1500, rank: 6, per_user: 25/' \
  -e 's/seeds: \[1, 2, 3, 4\]/seeds: [1, 2]/' \
  -e 's/sampler.name: \[rns, dns\]/sampler.name: [rns]/' "$T/g.yaml" > "$T/r.yaml"
"$NB" run "$T/r.yaml" --db "$T/rlocal.sqlite" -q >"$T/out" 2>"$T/err"
(cd "$T" && "$NB" slurm r.yaml --shards 1 --out slq --db q.sqlite) >"$T/so" 2>"$T/se"
A=$(sbatch --parsable "$T/slq/array.sbatch")
A=${A%%;*}
i=0
while [ $i -lt 600 ]; do
  # a run in progress with most of its 40 epochs to go: the signal lands inside it
  e=$(sqlite3 "$T/q.shard-0-of-1.sqlite" \
        "select count(*) from run where status = 'running' and epochs_run between 2 and 25" 2>/dev/null)
  [ "${e:-0}" -ge 1 ] && break
  sleep 0.1; i=$((i + 1))
done
polled=$i
scancel --signal=USR1 --batch "${A}_0"
i=0
while [ $i -lt 100 ] && [ "$(squeue -h -j "$A" -o %T)" != PENDING ]; do sleep 0.1; i=$((i + 1)); done
grep -q "requeueing ${A}_0" "$T"/slq/logs/shard-*.out &&
  [ "$(sqlite3 "$T/q.shard-0-of-1.sqlite" "select count(*) from run where status = 'interrupted'")" -eq 1 ]
ok $? "USR1 near the time limit: the run is marked interrupted and the task requeues itself" ||
  echo "# signalled after $polled polls of 0.1 s; now job $A $(squeue -h -j "$A" -o '%T %r' | head -n 1); runs:" \
    "$(sqlite3 "$T/q.shard-0-of-1.sqlite" "select group_concat(status || '@' || epochs_run, ' ') from run" 2>&1)"
# a requeued job waits for its begin time; Slurm refuses to relaunch a job id
# killed a moment ago, so make it eligible 3 s from now
scontrol update jobid="${A}_0" starttime=now+3 >/dev/null 2>&1
i=0
while [ $i -lt 600 ] && [ -n "$(squeue -h -j "$A" 2>/dev/null)" ]; do sleep 0.1; i=$((i + 1)); done
scontrol show job "$A" | grep -q "JobState=COMPLETED .*" && scontrol show job "$A" | grep -q "Restarts=1"
ok $? "... it runs again (Restarts=1) and completes" ||
  scontrol show job "$A" | grep -o -E "(JobState|Reason|Restarts|ExitCode)=[^ ]*" | xargs echo "# job:"
"$NB" merge "$T/q.sqlite" "$T/q.shard-0-of-1.sqlite" >"$T/mo" 2>"$T/me" &&
  store_results "$T/rlocal.sqlite" > "$T/rl.txt" && store_results "$T/q.sqlite" > "$T/q.txt" &&
  [ "$(grep -c '^epoch|' "$T/q.txt")" -eq 80 ] && cmp -s "$T/rl.txt" "$T/q.txt"
ok $? "... and its store equals an uninterrupted local run"
sed 's/^/# /' "$T"/slq/logs/shard-*.out | grep -v "^# \[" 

if command -v mpirun >/dev/null 2>&1; then
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
    timeout 120 mpirun -np 2 "$NB" run "$T/g.yaml" --db "$T/mpi.sqlite" -q >"$T/mo" 2>"$T/me"
  ok $? "mpirun -np 2 negbench run: one shard per rank" || tail -n 8 "$T/me" | sed 's/^/# mpirun: /'
  "$NB" merge "$T/mpi.sqlite" "$T"/mpi.shard-*-of-2.sqlite >"$T/mo" 2>"$T/me" &&
    store_results "$T/mpi.sqlite" > "$T/mpi.txt" && cmp -s "$T/local.txt" "$T/mpi.txt"
  ok $? "... merged, equal to the local run" || tail -n 4 "$T/me" | sed 's/^/# merge: /'
else
  ok 0 "# SKIP mpirun absent"
fi

tap_done
