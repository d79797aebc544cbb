#!/bin/sh
# e2e-synthetic-defer.sh - train.adam_defer end to end on the synthetic set:
# auto trains as off on a small catalogue and as on on a large one, digit
# for digit, and NB_PROFILE names the choice. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbe2edefer

# train.adam_defer, MF's dense Adam on its embedding tables: auto defers a
# table's idle rows only where a step reads few of them (optim_defer_pays,
# share <= 0.03). A small catalogue (a step reads most rows): auto trains as
# off, digit for digit; a large one with small batches (a step reads 2.1% of
# the user rows, 0.8% of the item rows): as on. on and off agree to float
# rounding only.
defer_run() { # NAME USERS ITEMS BATCH MODE: "losses metrics" of the stored run
  cat > "$T/df-$1-$5.yaml" <<Y
version: 1
name: e2e-defer-$1
data: {synthetic: {users: $2, items: $3, per_user: 10}}
model: {name: mf, dim: 16}
sampler: {name: dns, M: 4}
train: {epochs: 2, lr: 0.01, batch_size: $4, threads: 2, adam_defer: $5}
eval: {every: 2, topk: [20], patience: 5}
Y
  NB_PROFILE=1 "$NB" run -q "$T/df-$1-$5.yaml" --db "$T/df-$1-$5.sqlite" 2>"$T/df-$1-$5.err" >/dev/null &&
    sqlite3 "$T/df-$1-$5.sqlite" "select group_concat(loss, ' ') from epoch; select group_concat(value, ' ') from epoch_metric"
}
for case in "small 300 200 256 off" "large 3000 40000 64 on"; do
  set -- $case
  auto=$(defer_run $1 $2 $3 $4 auto); on=$(defer_run $1 $2 $3 $4 on); off=$(defer_run $1 $2 $3 $4 off)
  if [ $5 = on ]; then same=$on; other=$off; else same=$off; other=$on; fi
  [ -n "$auto" ] && [ "$auto" = "$same" ]
  ok $? "adam_defer auto on the $1 catalogue trains as $5, digit for digit ($(echo $auto | cut -c1-30)...)"
  [ -n "$other" ] && [ "$auto" != "$other" ]
  ok $? "... and not as the other choice, which differs in rounding ($(echo $other | cut -c1-30)...)"
  want="deferred"; [ $5 = off ] && want="every step"
  grep -q "profile: item table: .* dense Adam $want" "$T/df-$1-auto.err"
  ok $? "... NB_PROFILE names the item table's choice: $want ($(grep 'item table' "$T/df-$1-auto.err"))"
done

tap_done
