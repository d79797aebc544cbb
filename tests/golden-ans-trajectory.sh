#!/bin/sh
# golden-ans-trajectory.sh - ANS on MF trained for several epochs against the
# official code's recorded trajectories (golden/ans-trajectory: a fixed split
# of dens-beauty, d 64, Adam 1e-3, EmbLoss 1e-4 unsquared, gamma 0.1, eps 0.1,
# M 32, RecBole batching 2048 // 32 = 64 positives per step). Two regimes, set
# by the sign of the margin bias b_w at initialisation (docs/methods/ans.md):
#   b_w < 0  margin_init negative at seed 2031 (negbench's draw there is
#            -0.117, the official seed 2020 draw is -0.116): the 20-epoch file;
#   b_w > 0  margin_init positive at seed 2020 (+0.00718, the value the
#            official run was forced to): the 5-epoch file.
# Per epoch: loss, validation MRR@10, DNS overlap, mean margin mu and the
# augmentation gain, each within a band (below), and each regime's
# qualitative facts. NB_TRAJ_EPOCHS caps the epochs of each file (make check:
# 2; `make check-golden-trajectory`: 0 = every recorded epoch). SKIPs every
# point when the golden folder is absent (fails them under
# NEGBENCH_REQUIRE_SHARED=1). TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
GD=$GOLDEN/ans-trajectory
CAP=${NB_TRAJ_EPOCHS:-2}

# Bands. The other random draws (embeddings, candidates, noise, epoch order)
# are negbench's own, so the two codes can agree only as two seeds of one
# code in the same regime do. Measured (docs/methods/ans.md, "Two regimes"):
# negbench against itself at another seed with about the same b_w (2025
# against 2020 for b_w > 0, 2021 against 2031 for b_w < 0) differs by up to
# 0.0022 in loss, 0.0040 in MRR@10, 0.0063 in overlap, 0.0007 in mu and
# 0.0002 in aug_gain over epochs 1-5, and by up to 0.012, 0.0062, 0.0070,
# 0.058 and 0.0042 over epochs 6-20 (the late loss and the late rebound of
# mu drift apart); negbench against the official files stays inside both
# (largest gaps 0.0020, 0.0025, 0.0061, 0.0065, 0.0005 over 1-5; 0.0058,
# 0.0039, 0.0018, 0.0058, 0.0009 over 6-20). Each band is that seed spread
# with some margin. What they catch: the other regime or DNS in place of ANS
# moves epoch-1 overlap by 0.75 or more; measured in the b_w < 0 regime,
# 2048 positives per step instead of 64 gives MRR@10 0.0005 after epoch 1
# (official 0.011), and lr 2e-3 instead of 1e-3 moves the epoch-2 loss by
# 0.008 and MRR@10 by 0.0056. MRR@10 is compared after rounding ours to 4 digits as
# RecBole prints it.
# band EPOCH KIND: the band of a quantity (loss mrr ov mu gain) at EPOCH
band() {
  if [ "$1" -le 5 ]; then
    case $2 in loss) echo 0.004 ;; mrr) echo 0.005 ;; ov) echo 0.012 ;; mu) echo 0.02 ;; gain) echo 0.001 ;; esac
  else
    case $2 in loss) echo 0.015 ;; mrr) echo 0.008 ;; ov) echo 0.012 ;; mu) echo 0.1 ;; gain) echo 0.006 ;; esac
  fi
}

# The points the checks give: per file the training run and five per epoch
# (its recorded epochs, 5 and 20, or NB_TRAJ_EPOCHS if fewer), then each
# regime's facts (4 for b_w > 0, 3 for b_w < 0).
points() { ne=$1; [ "$CAP" -gt 0 ] && [ "$CAP" -lt "$ne" ] && ne=$CAP; echo $((1 + 5 * ne + $2)); }
total=$(( $(points 5 4) + $(points 20 3) ))
if [ ! -r "$GD/official-seed2020.jsonl" ] || [ ! -r "$GD/official-seed2020-bw-positive.jsonl" ]; then
  skip_shared "$total" "golden trajectories not found under $GD (NEGBENCH_SHARED or NB_GOLDEN_DIR locate them)"
  tap_done; exit $?
fi
if ! command -v sqlite3 > /dev/null; then
  k=0; while [ $k -lt "$total" ]; do k=$((k + 1)); skip "the sqlite3 command is not installed"; done
  tap_done; exit $?
fi

tap_tmpdir nbtraj

# gold FILE EPOCH KEY: the value of KEY ("loss", "mrr@10", ...) on line EPOCH
gold() {
  awk -v e="$2" -v k="$3" 'NR == e {
    if (match($0, "\"" k "\": *[-0-9.eE+]+")) {
      s = substr($0, RSTART, RLENGTH); sub(/^[^:]*: */, "", s); print s } }' "$GD/$1"
}
# ours DB SQL: one value from the store
ours() { sqlite3 "$1" "$2"; }
# stat DB EPOCH NAME: a sampler statistic of the epoch
stat() { ours "$1" "select value from sampler_stat where epoch = $2 and name = '$3'"; }
# near A B BAND: status 0 when |A - B| <= BAND
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }
# cmp NAME A B BAND: a TAP point, with the gap
cmp() {
  gap=$(awk -v a="$2" -v b="$3" 'BEGIN { d = a - b; printf "%.3g", d < 0 ? -d : d }')
  near "$2" "$3" "$4"
  ok $? "$1: negbench $2, official $3 (gap $gap, band $4)"
}

# (tap.sh counts points in n: the functions below use other names)
# run FILE SEED MARGIN EPOCHS: train; the store is $T/FILE.sqlite
run() {
  cat > "$T/$1.yaml" <<Y
version: 1
name: traj
data: {train: $GD/train.txt, valid: $GD/valid.txt, test: $GD/test.txt, format: lines, split: given}
model: {name: mf, dim: 64}
sampler: {name: ans, M: 32, gamma: 0.1, eps: 0.1, margin_init: $3}
train: {epochs: $4, batch_size: 2048, batch_mode: recbole, lr: 0.001, reg_weight: 1e-4, reg: norm, seed: $2, threads: 1}
eval: {every: 1, topk: [10, 20], metric: mrr@10, patience: 100000}
Y
  start=$(date +%s)
  "$NB" run -q "$T/$1.yaml" --db "$T/$1.sqlite" > /dev/null 2> "$T/$1.err"
  st=$?
  echo "# $1: $4 epochs in $(( $(date +%s) - start )) s"
  [ $st -eq 0 ] || sed 's/^/# /' "$T/$1.err"
  return $st
}

# check FILE SEED MARGIN: train over the file's epochs (capped) and compare
check() {
  ne=$(wc -l < "$GD/$1")
  [ "$CAP" -gt 0 ] && [ "$CAP" -lt "$ne" ] && ne=$CAP
  run "$1" "$2" "$3" "$ne"
  ok $? "$1: $ne epochs of mf + ans (seed $2, margin_init $3) train"
  db="$T/$1.sqlite"
  e=1
  while [ $e -le "$ne" ]; do
    cmp "$1 epoch $e loss" "$(ours "$db" "select loss from epoch where epoch = $e")" \
      "$(gold "$1" $e loss)" "$(band $e loss)"
    mrr=$(ours "$db" "select round(value, 4) from epoch_metric where epoch = $e
      and split = 'valid' and metric = 'mrr' and k = 10")
    cmp "$1 epoch $e valid MRR@10" "$mrr" "$(gold "$1" $e mrr@10)" "$(band $e mrr)"
    cmp "$1 epoch $e dns_overlap" "$(stat "$db" $e dns_overlap)" "$(gold "$1" $e dns_overlap_item)" "$(band $e ov)"
    cmp "$1 epoch $e mu" "$(stat "$db" $e mu)" "$(gold "$1" $e mu)" "$(band $e mu)"
    cmp "$1 epoch $e aug_gain" "$(stat "$db" $e aug_gain)" "$(gold "$1" $e aug_gain)" "$(band $e gain)"
    e=$((e + 1))
  done
}

# ---- b_w > 0: mu stays 1, overlap starts near noise and rises ---------------
check official-seed2020-bw-positive.jsonl 2020 positive
db="$T/official-seed2020-bw-positive.jsonl.sqlite"
bw=$(stat "$db" 1 margin_bias_init)
near "$bw" 0.00718 0.00001
ok $? "b_w > 0: b_w at initialisation $bw (the official forced value +0.00718)"
lo=$(ours "$db" "select min(value) from sampler_stat where name = 'mu'")
near "$lo" 1 0.001
ok $? "b_w > 0: mu stays 1 in every epoch (lowest $lo)"
ov1=$(stat "$db" 1 dns_overlap)
near "$ov1" 0.10 0.05
ok $? "b_w > 0: epoch-1 overlap $ov1 is low (official 0.103)"
up=$(ours "$db" "select count(*) = 0 from sampler_stat a join sampler_stat b
  on b.epoch = a.epoch + 1 and a.name = 'dns_overlap' and b.name = 'dns_overlap'
  where b.value <= a.value")
[ "$up" = 1 ]
ok $? "b_w > 0: the overlap rises every epoch"

# ---- b_w < 0: mu collapses to 0, ANS becomes DNS ----------------------------
check official-seed2020.jsonl 2031 negative
db="$T/official-seed2020.jsonl.sqlite"
bw=$(stat "$db" 1 margin_bias_init)
near "$bw" -0.116 0.005
ok $? "b_w < 0: b_w at initialisation $bw (official -0.116)"
ov1=$(stat "$db" 1 dns_overlap)
near "$ov1" 0.86 0.05
ok $? "b_w < 0: epoch-1 overlap $ov1 is high (official 0.858): ANS starts close to DNS"
last=$(ours "$db" "select max(epoch) from epoch")
if [ "$last" -ge 4 ]; then
  to=$(( last < 17 ? last : 17 ))
  off=$(ours "$db" "select count(*) from sampler_stat where epoch between 4 and $to and
    ((name = 'mu' and value > 1e-3) or (name = 'dns_overlap' and value < 0.999)
     or (name = 'aug_gain' and abs(value) > 1e-4))")
  [ "$off" = 0 ]
  ok $? "b_w < 0: epochs 4-$to have mu < 1e-3, overlap >= 0.999, |aug_gain| < 1e-4 ($off exceptions)"
else
  skip "b_w < 0: the collapse (mu 0, overlap 1 from epoch 4) needs 4 epochs (NB_TRAJ_EPOCHS=$CAP; make check-golden-trajectory runs them)"
fi
tap_done
