#!/bin/sh
# e2e-protocols.sh - the evaluation schedule, the warm-up guard, dropping the
# last partial batch, and the protocol presets, on small data sets:
#   - eval.first / eval.every: exactly the scheduled epochs (and the last)
#     store validation metrics;
#   - eval.min_epochs: a run that stops at epoch S without the guard goes on
#     past S with min_epochs S, and both stop exactly where the rule, replayed
#     on their stored validation metrics, says;
#   - train.drop_last: a fixture sampler counts the positives and steps the
#     host feeds it per epoch (whole batches only, or every pair);
#   - experiments/protocols/dens.yaml and recbole.yaml resolve to the settings
#     docs/methods/protocol.md gives, the including file's keys win, and the
#     DENS protocol with validation = test stores as final test metrics the
#     validation metrics of its best epoch.
# TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbproto
q() { sqlite3 "$T/$1.sqlite" "$2"; }

# exp NAME EVAL [TRAIN]: a run on synthetic data into $T/NAME.yaml
exp() {
  cat > "$T/$1.yaml" <<Y
version: 1
name: $1
data:
  synthetic: {users: 300, items: 200, rank: 4, per_user: 15}
  valid_share: 0.2
model: {name: mf, dim: 8}
sampler: {name: ${SAMPLER:-rns}}
train: {epochs: ${EPOCHS:-12}, lr: 0.05, batch_size: 256, reg_weight: 0, threads: 1, seed: 7${3:+, $3}}
eval: {topk: [10], metric: recall@10, $2}
Y
}
# valid_epochs NAME: the epochs with validation metrics, space-separated
valid_epochs() {
  q "$1" "select group_concat(epoch, ' ') from (select distinct epoch from epoch_metric
          where split = 'valid' order by epoch)"
}

# ---- the evaluation schedule ----------------------------------------------
exp every5 "every: 5, patience: 100"
exp first1 "first: 1, every: 5, patience: 100"
exp first3 "first: 3, every: 4, patience: 100"
for r in every5 first1 first3; do
  "$NB" run -q "$T/$r.yaml" --db "$T/$r.sqlite" >/dev/null 2>"$T/err"
  ok $? "schedule $r: trains 12 epochs (exit 0)"
done
e=$(valid_epochs every5); [ "$e" = "5 10 12" ]
ok $? "without eval.first, every 5: epochs 5 10 and the last, 12 ($e)"
e=$(valid_epochs first1); [ "$e" = "1 6 11 12" ]
ok $? "first 1, every 5: epochs 1 6 11 and the last ($e)"
e=$(valid_epochs first3); [ "$e" = "3 7 11 12" ]
ok $? "first 3, every 4: epochs 3 7 11 and the last ($e)"
rows=$(q first1 "select count(*) from epoch"); [ "$rows" = 12 ]
ok $? "... every epoch is stored, evaluated or not ($rows rows)"

# ---- the warm-up guard ----------------------------------------------------
# replay NAME MIN: where early stopping (ties refresh the best; stop when
# more than `patience` misses in a row, misses after epochs <= MIN not
# counted) ends the run, from its stored validation recall@10
replay() {
  q "$1" "select epoch, printf('%.17g', value) from epoch_metric where split = 'valid'
          and metric = 'recall' and k = 10 order by epoch" |
    awk -F'|' -v min="$2" -v pat=0 -v E=40 '
      BEGIN { best = -1; miss = 0; stop = E }
      { v = $2 + 0
        if (v >= best) { best = v; miss = 0 }
        else if ($1 > min) miss++
        if (miss > pat) { stop = $1; exit } }
      END { print stop }'
}
EPOCHS=40 exp guard0 "every: 1, patience: 0"
"$NB" run -q "$T/guard0.yaml" --db "$T/guard0.sqlite" >/dev/null 2>"$T/err"
ok $? "patience 0 without a guard: trains (exit 0)"
s0=$(q guard0 "select epochs_run from run")
[ "${s0:-40}" -lt 40 ]
ok $? "... and stops early, at epoch $s0 of 40"
[ "$s0" = "$(replay guard0 0)" ]
ok $? "... where the rule replayed on its validation metrics stops ($(replay guard0 0))"
EPOCHS=40 exp guard1 "every: 1, patience: 0, min_epochs: ${s0:-1}"
"$NB" run -q "$T/guard1.yaml" --db "$T/guard1.sqlite" >/dev/null 2>"$T/err"
ok $? "the same run with min_epochs $s0: trains (exit 0)"
s1=$(q guard1 "select epochs_run from run")
[ "${s1:-0}" -gt "${s0:-40}" ]
ok $? "... and goes on past epoch $s0, to epoch $s1"
[ "$s1" = "$(replay guard1 "$s0")" ]
ok $? "... where the rule with the guard, replayed, stops ($(replay guard1 "$s0"))"
same=$(sqlite3 "$T/guard1.sqlite" "attach '$T/guard0.sqlite' as a;
  select count(*) || '/' || sum(x.value = y.value) from epoch_metric x join a.epoch_metric y
  on x.epoch = y.epoch and x.split = y.split and x.metric = y.metric and x.k = y.k")
case "$same" in 0/*|/*) false;; *) [ "${same%/*}" = "${same#*/}" ];; esac
ok $? "... on the same trajectory up to epoch $s0 ($same metrics equal)"

# ---- dropping the last partial batch ----------------------------------------
P="$B/tests/fixtures/plugins/ok/.libs"
SAMPLER=count_sampler EPOCHS=2 exp keep "every: 1, patience: 100"
SAMPLER=count_sampler EPOCHS=2 exp drop "every: 1, patience: 100" "drop_last: true"
for r in keep drop; do
  NEGBENCH_PLUGIN_PATH="$P" "$NB" run -q "$T/$r.yaml" --db "$T/$r.sqlite" >/dev/null 2>"$T/err"
  ok $? "drop_last $r: trains with the counting sampler (exit 0)"
done
stat() { q "$1" "select group_concat(cast(value as int), ' ') from sampler_stat
                 where name = '$2' order by epoch"; }
npairs=$(stat keep positives | cut -d' ' -f1)
rest=$((${npairs:-0} % 256)); whole=$((${npairs:-0} / 256))
[ "${npairs:-0}" -gt 256 ] && [ "$rest" -gt 0 ]
ok $? "the training split ($npairs pairs) is not a whole number of 256-positive batches"
[ "$(stat keep positives)" = "$npairs $npairs" ] && [ "$(stat keep steps)" = "$((whole + 1)) $((whole + 1))" ] &&
  [ "$(stat keep min_batch)" = "$rest $rest" ]
ok $? "kept: every pair each epoch, $((whole + 1)) steps, the last of $rest positives"
[ "$(stat drop positives)" = "$((whole * 256)) $((whole * 256))" ] &&
  [ "$(stat drop steps)" = "$whole $whole" ] && [ "$(stat drop min_batch)" = "256 256" ]
ok $? "dropped: $((whole * 256)) positives in $whole whole batches each epoch ($(stat drop positives))"
SAMPLER=count_sampler EPOCHS=2 exp tiny "every: 1" "drop_last: true, batch_size: 100000"
sed -i 's/batch_size: 256, //' "$T/tiny.yaml"
NEGBENCH_PLUGIN_PATH="$P" "$NB" run -q "$T/tiny.yaml" --db "$T/tiny.sqlite" >/dev/null 2>"$T/err"
st=$?
err=$(q tiny "select error from run")
[ $st -eq 1 ] && case "$err" in *"train.drop_last: the training split has $npairs pairs, fewer than one batch of 100000"*) true;; *) false;; esac
ok $? "drop_last with less than one batch: the run fails (exit $st) and says why ($err)"

# ---- the warm-up guard in optimizer steps ----------------------------------------
# with 256-positive batches an epoch here is $spe steps, so eval.min_steps
# s0 * spe + 1 passes after epoch s0 exactly: guard1's run (min_epochs s0),
# by the step count, not the epoch count
spe=$((whole + 1))
EPOCHS=40 exp guard2 "every: 1, patience: 0, min_steps: $(( ${s0:-1} * spe + 1 ))"
"$NB" run -q "$T/guard2.yaml" --db "$T/guard2.sqlite" >/dev/null 2>"$T/err"
ok $? "the same run with min_steps $(( ${s0:-1} * spe + 1 )) ($spe steps per epoch): trains (exit 0)"
s2=$(q guard2 "select epochs_run from run")
[ "${s2:-0}" = "${s1:-x}" ]
ok $? "... and stops where min_epochs $s0 stops it, at epoch $s2 ($s1)"
EPOCHS=40 exp guard3 "every: 1, patience: 0, min_steps: $(( ${s0:-1} * spe ))"
"$NB" run -q "$T/guard3.yaml" --db "$T/guard3.sqlite" >/dev/null 2>"$T/err"
s3=$(q guard3 "select epochs_run from run")
[ "${s3:-x}" = "${s0:-y}" ]
ok $? "min_steps $(( ${s0:-1} * spe )), reached at the end of epoch $s0: its miss counts, stop at $s3 ($s0)"
EPOCHS=40 exp guard4 "every: 1, patience: 0, min_steps: 1000000"
"$NB" run -q "$T/guard4.yaml" --db "$T/guard4.sqlite" >/dev/null 2>"$T/err"
[ "$(q guard4 "select epochs_run from run")" = 40 ]
ok $? "min_steps beyond the run: no miss counts, all 40 epochs run"
q guard4 "select config_json from run" | grep -q '"min_steps": *1000000'
ok $? "min_steps is part of the run identity"
[ -z "$(q guard0 "select config_json from run" | grep min_steps)" ]
ok $? "... and absent from it when 0 (older identities unchanged)"

# ---- the presets -------------------------------------------------------------
# an experiment next to a protocols/ directory includes a preset by relative path
mkdir "$T/x"
ln -s "$TOP/experiments/protocols" "$T/x/protocols"
# preset NAME PRESET SAMPLER EXTRA: $T/x/NAME.yaml
preset() {
  cat > "$T/x/$1.yaml" <<Y
version: 1
name: $1
include: protocols/$2.yaml
data: {synthetic: {users: 300, items: 200, rank: 4, per_user: 15}}
model: {name: mf, dim: 8}
sampler: $3
$4
Y
}
j() { q "$1" "select json_extract(config_json, '\$.$2') from run"; }
preset dens1 dens "{name: dens}" "train: {epochs: 1, threads: 1}"
preset dens2 dens "{name: dens, M: 4}" "train: {epochs: 1, threads: 1, lr: 0.01}"
preset rb1 recbole "{name: dns, M: 16}" "train: {epochs: 1, threads: 1}"
preset rb2 recbole "{name: dns, M: 16}" "train: {epochs: 1, threads: 1}
eval: {patience: 3}"
for r in dens1 dens2 rb1 rb2; do
  "$NB" run -q "$T/x/$r.yaml" --db "$T/$r.sqlite" >/dev/null 2>"$T/err"
  ok $? "preset $r: runs (exit 0)"
  sed 's/^/# /' "$T/err" | tail -2
done
# settings RUN WANT DESCRIPTION PATH...: the run's config JSON at the paths
settings() {
  run=$1 want=$2 desc=$3 got=
  shift 3
  for p in "$@"; do got="$got $(j "$run" "$p")"; done
  got=${got# }
  [ "$got" = "$want" ]
  ok $? "$desc ($got)"
}
settings dens1 "1 5 9 recall@20 [20] " \
  "dens.yaml: first 1, every 5, patience 9, recall@20, topk [20], no guard" \
  eval.first eval.every eval.patience eval.metric eval.topk eval.min_epochs
settings dens1 "1 positives 2048 squared 0.0001 0.001" \
  "dens.yaml: last partial batch dropped, 2048 positives, squared reg 1e-4, lr 1e-3" \
  train.drop_last train.batch_mode train.batch_size train.reg train.reg_weight train.lr
settings dens1 "2 1 1" "dens.yaml: the official runs' DENS settings M 2, gamma 1.0 (epochs 1: the file's)" \
  sampler.M sampler.gamma train.epochs
settings dens2 "4 1 0.01 5" "dens.yaml: the including file's M and lr win, the rest stays" \
  sampler.M sampler.gamma train.lr eval.every
settings rb1 "recbole 2048  norm 1 " \
  "recbole.yaml: 2048 // M positives per step, last batch kept, EmbLoss, every epoch" \
  train.batch_mode train.batch_size train.drop_last train.reg eval.every eval.first
settings rb1 "mrr@10 10 10 [10,15,20] 1" \
  "recbole.yaml: MRR@10, patience 10, guard 10 epochs, topk 10 15 20 (epochs 1: the file's)" \
  eval.metric eval.patience eval.min_epochs eval.topk train.epochs
settings rb2 "3 mrr@10 10" "recbole.yaml: the including file's eval.patience wins, key by key" \
  eval.patience eval.metric eval.min_epochs

# the DENS protocol on files, validation = test
awk 'BEGIN { for (u = 0; u < 200; u++) { printf "%d", u
             for (k = 0; k < 12; k++) printf " %d", (u * 7 + 13 * k) % 150; print "" } }' \
  > "$T/x/train.txt"
awk 'BEGIN { for (u = 0; u < 200; u++) { printf "%d", u
             for (k = 12; k < 15; k++) printf " %d", (u * 7 + 13 * k) % 150; print "" } }' \
  > "$T/x/test.txt"
preset densvt dens "{name: dens}" "train: {epochs: 12, threads: 1}"
sed -i 's|^data: .*|data: {train: train.txt, valid: test.txt, test: test.txt}|' "$T/x/densvt.yaml"
"$NB" run -q "$T/x/densvt.yaml" --db "$T/densvt.sqlite" >/dev/null 2>"$T/err"
ok $? "dens.yaml with data.valid = the test file: 12 epochs train (exit 0)"
sed 's/^/# /' "$T/err" | tail -2
e=$(valid_epochs densvt); [ "$e" = "1 6 11 12" ]
ok $? "... evaluated after epochs 1 6 11 and the last ($e)"
same=$(q densvt "select count(*) || '/' || sum(f.value = e.value) from run r
  join final_metric f on f.run_id = r.id and f.split = 'test'
  join epoch_metric e on e.run_id = r.id and e.epoch = r.best_epoch and e.split = 'valid'
    and e.metric = f.metric and e.k = f.k")
case "$same" in 0/*|/*) false;; *) [ "${same%/*}" = "${same#*/}" ];; esac
ok $? "... and its final test metrics are the validation metrics of its best epoch ($same)"

tap_done
