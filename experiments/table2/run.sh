#!/bin/sh
# run.sh - paper Table 2 on the DENS temporal splits: MF-BPR with RNS, DNS,
# SRNS, MixGCF, DENS and ANS, three seeds each, trained to early stopping,
# into one store; then prints the table (mean and spread over seeds).
#
#   experiments/table2/run.sh [SAMPLERS] [DATASETS] [SEEDS]
#   defaults: "rns dns srns mixgcf dens ans" "dens-baby dens-beauty dens-lastfm" "2020 2021 2022"
#
# Shared settings (paper §5.1.3 and specs/samplers.md §0, one backbone for
# every sampler): d 64, Adam lr 1e-3, 2048 positives per step, lambda 1e-4
# with RecBole's unsquared-norm regulariser, 10% of train as validation,
# early stopping on valid Recall@20 evaluated every 5 epochs with patience 4
# (up to 25 epochs without improvement), at most 300 epochs. Two-pass
# samplers use M = 16 candidates (SRNS: S1 = 16, V = 1000); ANS gamma 0.1,
# eps 0.1; DENS gamma 0.3, warmup 100.
# Environment: NEGBENCH (binary, default ./negbench), NEGBENCH_DATA (data
# root, default ../shared/data), DB (default results/table2.sqlite), THREADS (1).
set -u
NB=${NEGBENCH:-./negbench}
DATA=${NEGBENCH_DATA:-../shared/data}
DB=${DB:-results/table2.sqlite}
THREADS=${THREADS:-1}
SAMPLERS=${1:-"rns dns srns mixgcf dens ans"}
DATASETS=${2:-"dens-baby dens-beauty dens-lastfm"}
SEEDS=${3:-"2020 2021 2022"}
T=$(mktemp -d "${TMPDIR:-/tmp}/nbtable2.XXXXXX")
trap 'rm -rf "$T"' EXIT
case "$DATA" in /*) ;; *) DATA="$(pwd)/$DATA" ;; esac

sampler_block() {
  case "$1" in
    rns) echo "{name: rns}" ;;
    dns) echo "{name: dns, M: 16}" ;;
    srns) echo "{name: srns, S1: 16, V: 1000}" ;;
    mixgcf) echo "{name: mixgcf, M: 16}" ;;
    dens) echo "{name: dens, M: 16, gamma: 0.3, warmup: 100}" ;;
    ans) echo "{name: ans, M: 16, gamma: 0.1, eps: 0.1}" ;;
    *) echo "{name: $1}" ;;
  esac
}

status=0
for ds in $DATASETS; do
  for s in $SAMPLERS; do
    for seed in $SEEDS; do
      f="$T/$ds-$s-$seed.yaml"
      cat > "$f" <<Y
version: 1
name: table2
data:
  train: $DATA/$ds/train.txt
  test: $DATA/$ds/test.txt
  valid_share: 0.1
  seed: 2020
model: {name: mf, dim: 64}
sampler: $(sampler_block "$s")
train: {epochs: 300, batch_size: 2048, lr: 0.001, reg_weight: 1e-4, seed: $seed, threads: $THREADS}
eval: {every: 5, topk: [15, 20], metric: recall@20, patience: 4, report_k: 20}
Y
      echo "== $ds $s seed $seed"
      "$NB" run -q "$f" --db "$DB" | tail -n 8 || status=1
    done
  done
done
exit $status
