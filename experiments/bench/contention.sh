#!/bin/sh
# contention.sh - `make bench` cases contention-*: how negbench fares beside
# another program's busy threads on the same machine. Each case trains the
# same epochs quiet and with a companion process (tests/bench-busy) that keeps
# as many threads busy as negbench runs, started here before the run and
# stopped after it (it also stops by itself after CONTENTION_LIMIT seconds or
# when this script dies). Reports the seconds per epoch (median over the
# repeats of each run's median epoch) quiet and contended and their ratio;
# one companion thread per negbench thread is a fair share of half the
# machine, i.e. a ratio of 2. Cases: MF + DNS(32) and LightGCN-3 + RNS on
# Gowalla (d = 64, batches of 2048), and the full evaluation of the
# validation users at the end of the MF + DNS run (its eval seconds).
# Quiet and contended runs alternate, repeat by repeat.
# With a second build directory (BASE), the same runs of that build alternate
# with this one's, and the table adds its figures and the quiet ratio
# this/base (to compare a change's quiet speed, measured side by side).
# Usage: contention.sh BUILDDIR SRCDIR [BASE]
# Environment: BENCH_FILTER (substring of the case names), BENCH_THREADS
# (default 2), CONTENTION_EPOCHS (default 1), CONTENTION_REPEATS (default 3),
# CONTENTION_SHARE (data.valid_share, default 0.1: a larger share leaves fewer
# training steps per epoch, for a quicker measurement), CONTENTION_LIMIT
# (default 900), NB_DATA_DIR (default SRCDIR/../shared/data).
B=${1:-.}
S=${2:-.}
BASE=${3:-}
FILTER=${BENCH_FILTER:-}
DATA=${NB_DATA_DIR:-$S/../shared/data}
THREADS=${BENCH_THREADS:-2}
EPOCHS=${CONTENTION_EPOCHS:-1}
REPEATS=${CONTENTION_REPEATS:-3}
SHARE=${CONTENTION_SHARE:-0.1}
LIMIT=${CONTENTION_LIMIT:-900}
BUSY="$B/tests/bench-busy"

want() { case "contention-$1" in *"$FILTER"*) return 0 ;; esac; return 1; }
want mf-dns32 || want lightgcn3-rns || want eval || exit 0
G="$DATA/gowalla-lightgcn"
if [ ! -f "$G/train.txt" ]; then
  echo "bench: $G absent: contention cases skipped"
  exit 0
fi
# the experiment files live in a scratch directory, and a relative path in
# one is read from the file's own directory: make the data path absolute
G=$(cd "$G" && pwd)
if [ ! -x "$BUSY" ]; then
  echo "bench: $BUSY not built (make tests/bench-busy): contention cases skipped"
  exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/nbcontend.XXXXXX")
trap 'rm -rf "$T"' EXIT

# yaml NAME MODEL-BLOCK SAMPLER-BLOCK
yaml() {
  cat > "$T/$1.yaml" <<Y
version: 1
name: $1
data: {train: $G/train.txt, test: $G/test.txt, valid_share: $SHARE}
model: $2
sampler: $3
train: {epochs: $EPOCHS, batch_size: 2048, lr: 0.001, reg_weight: 1e-4, seed: 2020, threads: $THREADS}
eval: {every: 100000, topk: [20], metric: recall@20, patience: 100}
Y
}
yaml mf-dns32 "{name: mf, dim: 64}" "{name: dns, M: 32}"
yaml lightgcn3-rns "{name: lightgcn, dim: 64, layers: 3}" "{name: rns}"

# one BUILD CASE BUSY(0/1) REPEAT: train once; appends "train-median eval" to
# $T/BUILD-CASE-BUSY.txt
one() {
  db="$T/run.sqlite"
  rm -f "$db" "$db-wal" "$db-shm"
  pid=
  if [ "$3" = 1 ]; then "$BUSY" "$THREADS" "$LIMIT" & pid=$!; fi
  nb=$B/negbench
  [ "$1" = base ] && nb=$BASE/negbench
  if "$nb" run -q "$T/$2.yaml" --db "$db" > "$T/out" 2> "$T/err"; then
    # one read: each epoch's train seconds beside the run's longest evaluation;
    # no line at all when the read fails (rather than zeros in the medians)
    sqlite3 -cmd ".timeout 10000" "$db" "select train_seconds, (select max(eval_seconds)
        from epoch) from epoch order by train_seconds" |
      awk -F'|' '{ a[NR] = $1; ev = $2 }
        END { if (NR) printf "%.4f %.4f\n", a[int((NR + 1) / 2)], ev }' >> "$T/$1-$2-$3.txt"
  else
    echo "bench: $1 $2 failed: $(tail -n 1 "$T/err")" >&2
  fi
  if [ -n "$pid" ]; then kill "$pid" 2> /dev/null; wait "$pid" 2> /dev/null; fi
}

# med FILE COLUMN: the median of a column (the lower middle of an even count)
med() {
  [ -s "$1" ] || return 0
  sort -g -k "$2,$2" "$1" | awk -v c="$2" '{ a[NR] = $c } END { printf "%.3f", a[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b }'; }

builds=new
[ -n "$BASE" ] && builds="new base"
echo "contention: $("$B/negbench" --version | head -n 1), $THREADS threads and $THREADS busy" \
     "companion threads, $EPOCHS epochs, $REPEATS repeats, valid_share $SHARE, load" \
     "$(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null), $(date -u '+%Y-%m-%d %H:%M')"
"$B/negbench" --version | sed -n '2s/^/# /p'
[ -n "$BASE" ] && echo "# base: $("$BASE/negbench" --version | head -n 1)"
r=0
while [ "$r" -lt "$REPEATS" ]; do
  r=$((r + 1))
  for c in mf-dns32 lightgcn3-rns; do
    { [ "$c" = mf-dns32 ] && want eval; } || want "$c" || continue
    for b in $builds; do
      one "$b" "$c" 0
      one "$b" "$c" 1
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null)"
# every repeat, one line per build, case and condition, the repeats in the
# order they ran: "# repeats BUILD CASE quiet|contended: train-s eval-s, ..."
for f in "$T"/*-*-[01].txt; do
  [ -s "$f" ] || continue
  n=$(basename "$f" .txt)
  cond=quiet; case $n in *-1) cond=contended ;; esac
  n=${n%-[01]}
  echo "# repeats ${n%%-*} ${n#*-} $cond: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$f")"
done
if [ -n "$BASE" ]; then
  echo "| case | quiet s | contended s | contended/quiet | base quiet s | base contended s | base contended/quiet | quiet this/base |"
  echo "|---|---|---|---|---|---|---|---|"
else
  echo "| case | quiet s | contended s | contended/quiet |"
  echo "|---|---|---|---|"
fi
# row NAME FILE-STEM COLUMN
row() {
  q=$(med "$T/new-$2-0.txt" "$3"); c=$(med "$T/new-$2-1.txt" "$3")
  line="| $1 | $q | $c | $(ratio "$c" "$q") |"
  if [ -n "$BASE" ]; then
    bq=$(med "$T/base-$2-0.txt" "$3"); bc=$(med "$T/base-$2-1.txt" "$3")
    line="$line $bq | $bc | $(ratio "$bc" "$bq") | $(ratio "$q" "$bq") |"
  fi
  echo "$line"
}
want mf-dns32 && row "contention-mf-dns32 (s/epoch)" mf-dns32 1
want lightgcn3-rns && row "contention-lightgcn3-rns (s/epoch)" lightgcn3-rns 1
want eval && row "contention-eval (s, validation users)" mf-dns32 2
exit 0
