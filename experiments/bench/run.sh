#!/bin/sh
# run.sh - `make bench`: seconds per epoch (median over several epochs), one
# full evaluation and peak RSS for the configurations of the issues' benchmark
# sections, on ../shared/data (NB_DATA_DIR overrides). Skips what is absent.
# Graph cases also get their floor (tests/bench-floor: the propagation's bytes
# and FLOPs per epoch over this machine's measured bandwidth and SGEMM rate)
# and the ratio s/epoch / floor.
# Usage: run.sh BUILDDIR SRCDIR [FILTER]   (FILTER: substring of the case names)
# Environment: BENCH_EPOCHS (default 5), BENCH_THREADS (default 2).
# The graph-samplers cases (LightGCN-3 with RNS, DENS (M 8) and MixGCF (M
# 16) on dens-beauty and on a fifth of Gowalla's training pairs, 3 epochs
# each (BENCH_GS_EPOCHS), run back to back) end with the ratios DENS / RNS
# and MixGCF / RNS of their median s/epoch: BENCH_FILTER=graph-samplers
# make bench.
B=${1:-.}
S=${2:-.}
FILTER=${3:-${BENCH_FILTER:-}}
DATA=${NB_DATA_DIR:-$S/../shared/data}
EPOCHS=${BENCH_EPOCHS:-5}
THREADS=${BENCH_THREADS:-2}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbbench.XXXXXX")
trap 'rm -rf "$T"' EXIT

# sweep overhead per run (synthetic data: needs no data set)
case "sweep-overhead" in *"$FILTER"*) sh "$S/experiments/bench/sweep-overhead.sh" "$B" ;; esac
[ -d "$DATA" ] || { echo "bench: $DATA not found: nothing more to measure"; exit 0; }
DATA=$(cd "$DATA" && pwd) # the YAMLs are written elsewhere: no relative paths
echo "negbench benchmarks: $("$B/negbench" --version), $THREADS threads, $EPOCHS epochs each, $(date -u +%Y-%m-%d)"
: > "$T/floors"
# the floor is measured only when a case that has one is selected
need_floor=0
for c in gowalla-lightgcn3-rns gowalla-lightgcn3-dns32 gowalla-lightgcn3-mixgcf32 \
         gowalla-ngcf3-rns gowalla-sgl3-rns; do
  case "$c" in *"$FILTER"*) need_floor=1 ;; esac
done
if [ "$need_floor" = 1 ] && [ -x "$B/tests/bench-floor" ]; then
  "$B/tests/bench-floor" "$THREADS" > "$T/floor.out" 2>&1
  grep '^#' "$T/floor.out"
  awk '$1 == "floor" { print $2, $3 }' "$T/floor.out" > "$T/floors"
fi
echo "| case | s/epoch (median) | floor s/epoch | ratio | epochs | eval s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"

# case NAME DATASET-BLOCK MODEL-BLOCK SAMPLER-BLOCK TRAIN-EXTRA
case_run() {
  name=$1; data=$2; model=$3; sampler=$4; extra=$5
  case "$name" in *"$FILTER"*) ;; *) return ;; esac
  cat > "$T/$name.yaml" <<Y
version: 1
name: $name
data: $data
model: $model
sampler: $sampler
train: {epochs: $EPOCHS, batch_size: 2048, lr: 0.001, reg_weight: 1e-4, seed: 2020, threads: $THREADS $extra}
eval: {every: 100000, topk: [20], metric: recall@20, patience: 100}
Y
  db="$T/$name.sqlite"
  if ! "$B/negbench" run -q "$T/$name.yaml" --db "$db" > "$T/$name.out" 2> "$T/$name.err"; then
    echo "| $name | failed: $(tail -n 1 "$T/$name.err") | | | | | |"
    return
  fi
  sqlite3 -separator ' ' "$db" "select train_seconds from epoch order by train_seconds" > "$T/secs"
  n=$(wc -l < "$T/secs")
  med=$(awk -v n="$n" 'NR == int((n + 1) / 2) { printf "%.3f", $1 }' "$T/secs")
  ev=$(sqlite3 "$db" "select printf('%.2f', eval_seconds) from epoch where eval_seconds > 0 order by epoch desc limit 1")
  rss=$(sqlite3 "$db" "select printf('%.0f', peak_rss_bytes / 1048576.0) from run")
  floor=$(awk -v c="$name" '$1 == c { print $2 }' "$T/floors")
  ratio=$([ -n "$floor" ] && awk -v a="$med" -v b="$floor" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
  echo "| $name | $med | ${floor:-} | ${ratio:-} | $n | ${ev:-} | $rss |"
  echo "$name $med" >> "$T/medians"
}

# ratio_line NAME CASE BASE TARGET: CASE's median s/epoch over BASE's
ratio_line() {
  awk -v n="$1" -v a="$2" -v b="$3" -v t="$4" '$1 == a { x = $2 } $1 == b { y = $2 }
    END { if (x > 0 && y > 0) printf "# ratio %s: %.3f / %.3f = %.2f (target <= %s)\n", n, x, y, x / y, t }' \
    "$T/medians"
}
: > "$T/medians"

G="{train: $DATA/gowalla-lightgcn/train.txt, test: $DATA/gowalla-lightgcn/test.txt, valid_share: 0.1}"
ML="{train: $DATA/ml-100k/recbole/ml-100k.inter, split: ratio, ratio: [0.8, 0.1, 0.1]}"
if [ -d "$DATA/gowalla-lightgcn" ]; then
  case_run gowalla-mf-rns-dense "$G" "{name: mf, dim: 64}" "{name: rns}" ""
  case_run gowalla-mf-rns-lazy "$G" "{name: mf, dim: 64}" "{name: rns}" ", adam: lazy"
  case_run gowalla-mf-dns32 "$G" "{name: mf, dim: 64}" "{name: dns, M: 32}" ""
  case_run gowalla-mf-ans32 "$G" "{name: mf, dim: 64}" "{name: ans, M: 32}" ""
  case_run gowalla-lightgcn3-rns "$G" "{name: lightgcn, dim: 64, layers: 3}" "{name: rns}" ""
  case_run gowalla-lightgcn3-dns32 "$G" "{name: lightgcn, dim: 64, layers: 3}" "{name: dns, M: 32}" ""
  case_run gowalla-lightgcn3-mixgcf32 "$G" "{name: lightgcn, dim: 64, layers: 3}" "{name: mixgcf, M: 32}" ""
  case_run gowalla-ngcf3-rns "$G" "{name: ngcf, dim: 64, layers: 3}" "{name: rns}" ""
  case_run gowalla-sgl3-rns "$G" "{name: sgl, dim: 64, layers: 3}" "{name: rns}" ""
else
  echo "bench: $DATA/gowalla-lightgcn absent: gowalla cases skipped"
fi
if [ -d "$DATA/ml-100k" ]; then
  case_run ml100k-mf-dns32 "$ML" "{name: mf, dim: 64}" "{name: dns, M: 32}" ""
  case_run ml100k-mf-ans32 "$ML" "{name: mf, dim: 64}" "{name: ans, M: 32}" ""
fi
# LightGCN-3 with DENS and MixGCF against RNS, side by side:
# dens-beauty (DENS temporal split, 10% validation) and Gowalla with 80% of
# its training pairs held out as validation, so an epoch is 72 steps.
EPOCHS_ALL=$EPOCHS
EPOCHS=${BENCH_GS_EPOCHS:-3}
L3="{name: lightgcn, dim: 64, layers: 3}"
for ds in beauty gowalla; do
  case $ds in
    beauty) dd="$DATA/dens-beauty"; share=0.1 ;;
    gowalla) dd="$DATA/gowalla-lightgcn"; share=0.8 ;;
  esac
  [ -f "$dd/train.txt" ] || continue
  DS="{train: $dd/train.txt, test: $dd/test.txt, valid_share: $share, seed: 2020}"
  case_run graph-samplers-$ds-rns "$DS" "$L3" "{name: rns}" ""
  case_run graph-samplers-$ds-dens8 "$DS" "$L3" "{name: dens, M: 8}" ""
  case_run graph-samplers-$ds-mixgcf16 "$DS" "$L3" "{name: mixgcf, M: 16}" ""
  ratio_line "$ds DENS(8)/RNS" graph-samplers-$ds-dens8 graph-samplers-$ds-rns 3
  ratio_line "$ds MixGCF(16)/RNS" graph-samplers-$ds-mixgcf16 graph-samplers-$ds-rns 2
done
EPOCHS=$EPOCHS_ALL
# the propagation alone of a LightGCN-3 step, each path the plugin runs
# (tests/bench-graph: the whole training file, no validation share)
case "graph-propagation" in *"$FILTER"*)
  if [ -x "$B/tests/bench-graph" ] && [ -f "$DATA/gowalla-lightgcn/train.txt" ]; then
    "$B/tests/bench-graph" "$DATA/gowalla-lightgcn/train.txt" | sed 's/^/# /'
  fi ;;
esac
case "eval" in *"$FILTER"*)
  if [ -x "$B/tests/bench-eval" ]; then "$B/tests/bench-eval"; fi ;;
esac
