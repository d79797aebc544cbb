#!/bin/sh
# sweep.sh - run a (model x sampler x data set x seed) sweep of the paper's
# protocol into one store, one negbench run per point (finished points are
# skipped on a re-run, so an interrupted sweep resumes).
#
#   experiments/paper/sweep.sh MODELS SAMPLERS DATASETS SEEDS
#   e.g. experiments/paper/sweep.sh "mf" "rns dns srns mixgcf dens ans" \
#          "dens-baby dens-beauty dens-lastfm" "2020 2021 2022"       (Table 2)
#        experiments/paper/sweep.sh "mf lightgcn ngcf sgl" "rns dns ans" \
#          "dens-baby dens-lastfm" "2020 2021 2022"                   (Table 3)
#
# Shared settings (paper §5.1.3, one backbone protocol for every sampler as
# docs/methods/protocol.md explains): d 64, Adam lr 1e-3, 2048 positives per
# step, lambda 1e-4 with RecBole's unsquared-norm regulariser, 10% of train
# as validation, early stopping on valid Recall@20 evaluated every 5 epochs
# with patience 4 (up to 25 epochs without improvement), at most 300 epochs.
# Two-pass samplers use M = 16 candidates (SRNS: S1 = 16, V = 1000); ANS
# gamma 0.1, eps 0.1; DENS gamma 0.3, warmup 100; graph backbones 3 layers.
# Extra sampler parameters for every point: SAMPLER_EXTRA (e.g. "augment: false");
# ANS_M, ANS_GAMMA, ANS_EPS override ANS's M, gamma and eps (sensitivity studies).
# Environment: NEGBENCH (binary, default ./negbench), NEGBENCH_DATA (data
# root, default ../shared/data), DB (default results/paper.sqlite),
# NAME (experiment name, default paper), THREADS (default 1).
set -u
NB=${NEGBENCH:-./negbench}
DATA=${NEGBENCH_DATA:-../shared/data}
DB=${DB:-results/paper.sqlite}
NAME=${NAME:-paper}
THREADS=${THREADS:-1}
EXTRA=${SAMPLER_EXTRA:-}
[ $# -eq 4 ] || { sed -n '2,16p' "$0"; exit 2; }
MODELS=$1 SAMPLERS=$2 DATASETS=$3 SEEDS=$4
T=$(mktemp -d "${TMPDIR:-/tmp}/nbsweep.XXXXXX")
trap 'rm -rf "$T"' EXIT
case "$DATA" in /*) ;; *) DATA="$(pwd)/$DATA" ;; esac

model_block() {
  case "$1" in
    mf) echo "{name: mf, dim: 64}" ;;
    *) echo "{name: $1, dim: 64, layers: 3}" ;;
  esac
}

sampler_block() {
  x=${EXTRA:+, $EXTRA}
  case "$1" in
    rns) echo "{name: rns$x}" ;;
    dns) echo "{name: dns, M: 16$x}" ;;
    srns) echo "{name: srns, S1: 16, V: 1000$x}" ;;
    mixgcf) echo "{name: mixgcf, M: 16$x}" ;;
    dens) echo "{name: dens, M: 16, gamma: 0.3, warmup: 100$x}" ;;
    ans) echo "{name: ans, M: ${ANS_M:-16}, gamma: ${ANS_GAMMA:-0.1}, eps: ${ANS_EPS:-0.1}$x}" ;;
    *) echo "{name: $1$x}" ;;
  esac
}

status=0
for ds in $DATASETS; do
  for m in $MODELS; do
    for s in $SAMPLERS; do
      for seed in $SEEDS; do
        f="$T/$ds-$m-$s-$seed.yaml"
        cat > "$f" <<Y
version: 1
name: $NAME
data:
  train: $DATA/$ds/train.txt
  test: $DATA/$ds/test.txt
  valid_share: 0.1
  seed: 2020
model: $(model_block "$m")
sampler: $(sampler_block "$s")
train: {epochs: 300, batch_size: 2048, lr: 0.001, reg_weight: 1e-4, seed: $seed, threads: $THREADS}
eval: {every: 5, topk: [15, 20], metric: recall@20, patience: 4, report_k: 20}
Y
        echo "== $ds $m $s seed $seed"
        "$NB" run -q "$f" --db "$DB" | tail -n 8 || status=1
      done
    done
  done
done
exit $status
