#!/bin/sh
# sweep-overhead.sh - `make bench` case sweep-overhead: what a sweep costs per
# run beyond training. A grid of 100 tiny synthetic experiments (one epoch of
# MF + RNS on 60 users x 40 items, one thread each) runs into a fresh store
# with -j 1 and with -j 2, BENCH_REPEATS times each (default 3), side by
# side. Overhead per run = (sweep wall time with -j 1 - the training and
# evaluation seconds recorded in the store) / runs: process start, plugin
# and data load, store open and writes. Also the CPU time (user + sys of the
# sweep and its workers) per run, which depends less on other load of the
# machine than wall time does. Prints the medians as one table.
# Needs no data set (the synthetic generator). Usage: sweep-overhead.sh BUILDDIR
B=${1:-.}
REPEATS=${BENCH_REPEATS:-3}
RUNS=100
T=$(mktemp -d "${TMPDIR:-/tmp}/nbsweep.XXXXXX")
trap 'rm -rf "$T"' EXIT

cat > "$T/g.yaml" <<Y
version: 1
name: sweep-overhead
data:
  synthetic: {users: 60, items: 40, rank: 4, per_user: 8}
model: {name: mf, dim: 8}
sampler: {name: rns}
train: {epochs: 1, batch_size: 256, threads: 1}
eval: {every: 1, topk: [10], metric: recall@10, patience: 10, report_k: 10}
grid:
  repeats: $RUNS
Y

now() { date +%s.%N; }
# user + sys seconds of this shell's finished children so far (`times` must
# run in this shell, not in a $(...) subshell, which has no children yet)
cpu() { times > "$T/times"; awk 'NR == 2 { split($1, a, /[ms]/); split($2, b, /[ms]/); printf "%.3f\n", a[1] * 60 + a[2] + b[1] * 60 + b[2] }' "$T/times" > "$T/cpu.now"; }
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.4f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$T/j1"; : > "$T/j2"; : > "$T/ovh"; : > "$T/train"; : > "$T/cpu"
r=0
while [ $r -lt "$REPEATS" ]; do
  for j in 1 2; do
    db="$T/s$r-$j.sqlite"
    cpu; c0=$(cat "$T/cpu.now")
    t0=$(now)
    if ! "$B/negbench" run "$T/g.yaml" -q -j $j --db "$db" > "$T/out" 2> "$T/err"; then
      echo "| sweep-overhead | failed: $(tail -n 1 "$T/err") |"; exit 0
    fi
    t1=$(now)
    cpu; c1=$(cat "$T/cpu.now")
    wall=$(echo "$t1 $t0" | awk '{ printf "%.6f", $1 - $2 }')
    echo "$wall" >> "$T/j$j"
    if [ $j -eq 1 ]; then
      tr=$(sqlite3 "$db" "select total(train_seconds + eval_seconds) from epoch")
      n=$(sqlite3 "$db" "select count(*) from run where status = 'done'")
      [ "$n" -eq $RUNS ] || { echo "| sweep-overhead | only $n of $RUNS runs done |"; exit 0; }
      echo "$wall $tr" | awk -v n=$RUNS '{ printf "%.6f\n", ($1 - $2) / n * 1000 }' >> "$T/ovh"
      echo "$tr" | awk -v n=$RUNS '{ printf "%.6f\n", $1 / n * 1000 }' >> "$T/train"
      echo "$c1 $c0" | awk -v n=$RUNS '{ printf "%.6f\n", ($1 - $2) / n * 1000 }' >> "$T/cpu"
    fi
  done
  r=$((r + 1))
done
echo "sweep overhead: $RUNS runs, medians of $REPEATS repeats"
echo "| case | wall -j 1 s | wall -j 2 s | -j1/-j2 | train+eval ms/run | overhead ms/run (-j 1) | CPU ms/run (-j 1) |"
echo "|---|---|---|---|---|---|---|"
j1=$(median < "$T/j1"); j2=$(median < "$T/j2")
echo "| sweep-overhead | $j1 | $j2 | $(echo "$j1 $j2" | awk '{ printf "%.2f", $1 / $2 }') | $(median < "$T/train") | $(median < "$T/ovh") | $(median < "$T/cpu") |"
