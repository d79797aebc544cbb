#!/bin/sh
# e2e-threads.sh - the default thread count is the CPUs this process may use
# (affinity set with taskset, SLURM_CPUS_PER_TASK), not the machine's cores:
# negbench --version says it, a single run and a sweep store it (run.threads),
# and a sweep divides it among its -j workers. Also the waiting setting
# (GOMP_SPINCOUNT) reaches libgomp (its OMP_DISPLAY_ENV report) unless the
# user set their own, and the run's output names both.
# TAP output; needs a built tree ($NB_BUILDDIR) and sqlite3.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbthreads
# the environment of make check sets OMP_NUM_THREADS; the defaults do not read it
unset SLURM_CPUS_PER_TASK OMP_WAIT_POLICY GOMP_SPINCOUNT OPENBLAS_NUM_THREADS NEGBENCH_SET_ENV
cores=$(getconf _NPROCESSORS_ONLN)
stored() { sqlite3 "$1" "select group_concat(threads) from (select threads from run order by id)"; }

cat > "$T/one.yaml" <<'Y'
version: 1
name: threads
data: {synthetic: {users: 60, items: 40, rank: 4, per_user: 8}}
model: {name: mf, dim: 8}
sampler: {name: rns}
train: {epochs: 1, batch_size: 64, threads: 0}
eval: {every: 1, topk: [10], metric: recall@10}
Y
sed -e 's/^name: threads/name: threads-grid/' "$T/one.yaml" > "$T/grid.yaml"
printf 'grid:\n  seeds: [1, 2]\n' >> "$T/grid.yaml"

# --version: the count and what set it
"$NB" --version > "$T/v" 2>&1
grep -q "^default threads: [0-9]* by " "$T/v"; ok $? "--version prints the default thread count"
SLURM_CPUS_PER_TASK=1 "$NB" --version > "$T/v" 2>&1
grep -q "^default threads: 1 by SLURM_CPUS_PER_TASK" "$T/v"
ok $? "SLURM_CPUS_PER_TASK=1: one thread, and --version says why"
SLURM_CPUS_PER_TASK=bogus "$NB" --version > "$T/v" 2>&1
grep -q "SLURM_CPUS_PER_TASK unset" "$T/v"; ok $? "a SLURM_CPUS_PER_TASK that is not a count is ignored"

if [ "$cores" -lt 2 ]; then
  skip "one CPU: SLURM_CPUS_PER_TASK=1 cannot lower the count"
  skip "one CPU: a sweep's default count cannot be lower than the machine's"
else
  # a single run: threads 0 under Slurm's one CPU per task stores 1 thread
  SLURM_CPUS_PER_TASK=1 "$NB" run "$T/one.yaml" --db "$T/one.sqlite" > "$T/out" 2> "$T/err"
  [ "$(stored "$T/one.sqlite")" = 1 ]
  ok $? "a run under SLURM_CPUS_PER_TASK=1 on $cores CPUs uses and stores 1 thread"
  # a sweep on an allocation of 1 CPU: its runs use only it
  SLURM_CPUS_PER_TASK=1 "$NB" run "$T/grid.yaml" --no-shard --db "$T/grid.sqlite" -j 1 \
    > "$T/out" 2> "$T/err"
  [ "$(stored "$T/grid.sqlite")" = "1,1" ]
  ok $? "a sweep under SLURM_CPUS_PER_TASK=1 on $cores CPUs runs with 1 thread each"
fi

if command -v taskset > /dev/null 2>&1 && taskset -c 0 true 2> /dev/null; then
  taskset -c 0 "$NB" --version > "$T/v" 2>&1
  grep -q "^default threads: 1 by affinity (affinity 1" "$T/v"
  ok $? "taskset -c 0: one thread by affinity"
  taskset -c 0 "$NB" run "$T/one.yaml" --db "$T/aff.sqlite" --force > "$T/out" 2> "$T/err"
  [ "$(stored "$T/aff.sqlite")" = 1 ]; ok $? "a run under taskset -c 0 stores 1 thread"
  grep -q "^threads: 1 = the CPUs this process may use, 1 by affinity" "$T/err"
  ok $? "the run says how many threads and why"
else
  skip "taskset is not available"
  skip "taskset is not available"
  skip "taskset is not available"
fi
if [ "$cores" -ge 2 ]; then
  # -j 2 on the CPUs of the machine: each worker gets half
  "$NB" run "$T/grid.yaml" --no-shard --db "$T/half.sqlite" -j 2 > "$T/out" 2> "$T/err"
  [ "$(stored "$T/half.sqlite")" = "$((cores / 2)),$((cores / 2))" ]
  ok $? "a sweep with -j 2 on $cores CPUs gives each run $((cores / 2))"
else
  skip "one CPU: nothing to divide"
fi

# waiting: negbench's spin count (NB_SPINCOUNT, not libgomp's default of 300000)
# reaches libgomp, and the user's setting wins
OMP_DISPLAY_ENV=verbose "$NB" run "$T/one.yaml" --db "$T/w.sqlite" --force > "$T/out" 2> "$T/err"
spin=$(grep "GOMP_SPINCOUNT = " "$T/err" | tail -n 1 | tr -dc 0-9)
want=$(sed -n 's/^#define NB_SPINCOUNT "\([0-9]*\)".*/\1/p' "$S/../core/thread_env.h")
if [ -z "$spin" ]; then
  skip "this libgomp does not report GOMP_SPINCOUNT under OMP_DISPLAY_ENV"
else
  [ "$spin" = "$want" ]; ok $? "libgomp runs with negbench's GOMP_SPINCOUNT $want (got $spin)"
fi
grep -q "^threads: .*; waiting: GOMP_SPINCOUNT=$want (negbench's default)" "$T/err"
ok $? "the run names the waiting setting"
OMP_DISPLAY_ENV=verbose "$NB" run "$T/grid.yaml" --no-shard --db "$T/wg.sqlite" > "$T/out" 2> "$T/err"
spin=$(grep "GOMP_SPINCOUNT = " "$T/err" | tail -n 1 | tr -dc 0-9)
[ -z "$spin" ] || [ "$spin" = "$want" ]; ok $? "a sweep runs with it too (libgomp: ${spin:-?})"
GOMP_SPINCOUNT=123 OMP_DISPLAY_ENV=verbose "$NB" run "$T/one.yaml" --db "$T/w.sqlite" --force \
  > "$T/out" 2> "$T/err"
spin=$(grep "GOMP_SPINCOUNT = " "$T/err" | tail -n 1 | tr -dc 0-9)
[ -z "$spin" ] || [ "$spin" = 123 ]; ok $? "the user's GOMP_SPINCOUNT wins (libgomp: ${spin:-?})"
grep -q "waiting: GOMP_SPINCOUNT=123 (yours)" "$T/err"; ok $? "... and the run says it is theirs"
OMP_WAIT_POLICY=passive "$NB" run "$T/one.yaml" --db "$T/w.sqlite" --force > "$T/out" 2> "$T/err"
grep -q "waiting: OMP_WAIT_POLICY=passive (yours)" "$T/err"
ok $? "with the user's OMP_WAIT_POLICY negbench sets no spin count"

# OpenBLAS's kernels: when its CPU detection fell back to kernels without
# AVX2 on a CPU with it, runs ask for newer ones (core/blas_core.h), the
# library loads them, and the user's OPENBLAS_CORETYPE wins
choice=$("$NB" --version | sed -n "s/^BLAS kernels: .* runs ask for \([A-Za-z]*\) (negbench's choice)$/\1/p")
if [ -n "$choice" ]; then
  OPENBLAS_VERBOSE=2 "$NB" run "$T/one.yaml" --db "$T/w.sqlite" --force > "$T/out" 2> "$T/err"
  grep -q "^threads: .*; BLAS kernels: $choice (negbench's choice: OpenBLAS detected " "$T/err"
  ok $? "the run names the kernels negbench chose ($choice)"
  [ "$(grep '^Core: ' "$T/err" | tail -n 1)" = "Core: $choice" ]
  ok $? "OpenBLAS loads them ($(grep '^Core: ' "$T/err" | tail -n 1))"
  OPENBLAS_CORETYPE=Prescott OPENBLAS_VERBOSE=2 "$NB" run "$T/one.yaml" --db "$T/w.sqlite" \
    --force > "$T/out" 2> "$T/err"
  grep -q "^threads: .*; BLAS kernels: Prescott (OPENBLAS_CORETYPE, yours)" "$T/err" &&
    [ "$(grep '^Core: ' "$T/err" | tail -n 1)" = "Core: Prescott" ]
  ok $? "the user's OPENBLAS_CORETYPE wins, and the run says it is theirs"
else
  reason="OpenBLAS's own detection stands on this machine ($("$NB" --version | sed -n 's/^BLAS kernels: //p'))"
  skip "$reason"; skip "$reason"; skip "$reason"
fi
tap_done
