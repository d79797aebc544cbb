#!/bin/sh
# e2e-synthetic-graph.sh - graph models end to end on the synthetic set:
# LightGCN (mean, concat) + ANS per layer trains without NaN, and final rows
# on demand (LightGCN + RNS, SGL + PNS) train exactly as the full last
# product, digit for digit, and so does the stack on demand (LightGCN with
# MixGCF, DENS and ANS per layer). TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbe2egraph

# ANS per layer on a 2-layer LightGCN (mean; concat = the official BPR score): no NaN
for pool in mean concat; do
cat > "$T/ans-$pool.yaml" <<Y
version: 1
name: e2e-ans-$pool
data: {synthetic: {users: 400, items: 300, per_user: 20}}
model: {name: lightgcn, dim: 16, layers: 2, pool: $pool}
sampler: {name: ans, M: 8, gamma: 0.3, eps: 0.5, layers: per_layer}
train: {epochs: 3, lr: 0.01, batch_size: 512}
eval: {every: 3, topk: [20], patience: 5}
Y
  "$NB" run -q "$T/ans-$pool.yaml" --db "$T/g.sqlite" >/dev/null 2>"$T/err"
  ok $? "lightgcn ($pool, 2 layers) + ans per_layer trains 3 epochs"
  fin=$(sqlite3 "$T/g.sqlite" "select count(*) from epoch e join run r on r.id=e.run_id join experiment x on x.id=r.experiment_id where x.name='e2e-ans-$pool' and typeof(e.loss)='real' and e.loss > 0 and e.loss < 100")
  [ "$fin" -eq 3 ]; ok $? "... with a finite loss at every epoch ($fin)"
done

# final rows on demand (RNS, PNS on LightGCN and SGL) train exactly as the full
# last product does (NB_ON_DEMAND=0): the same loss and metrics, digit for digit
for case in "lightgcn rns" "sgl pns"; do
  set -- $case
cat > "$T/od-$1.yaml" <<Y
version: 1
name: e2e-od-$1-$2
data: {synthetic: {users: 300, items: 200, per_user: 15}}
model: {name: $1, dim: 64, layers: 2}
sampler: {name: $2}
train: {epochs: 3, lr: 0.01, batch_size: 256, threads: 2}
eval: {every: 3, topk: [20], patience: 5}
Y
  od=$("$NB" run -q "$T/od-$1.yaml" --db "$T/od1-$1.sqlite" 2>"$T/err" >/dev/null &&
       sqlite3 "$T/od1-$1.sqlite" "select group_concat(loss, ' ') from epoch; select group_concat(value, ' ') from epoch_metric")
  full=$(NB_ON_DEMAND=0 "$NB" run -q "$T/od-$1.yaml" --db "$T/od0-$1.sqlite" 2>>"$T/err" >/dev/null &&
         sqlite3 "$T/od0-$1.sqlite" "select group_concat(loss, ' ') from epoch; select group_concat(value, ' ') from epoch_metric")
  [ -n "$od" ] && [ "$od" = "$full" ]
  ok $? "$1 + $2: rows on demand train exactly as the full last product ($(echo $od | cut -c1-40)...)"
  sed 's/^/# /' "$T/err" | tail -2
done

# the stack on demand (MixGCF, DENS and ANS per layer read the per-layer
# stack of the rows they sync; LightGCN fills a row's stack and final row when
# synced): exactly as the full stack, digit for digit; 2000 items, so most
# rows are never synced in a step
for sampler in "mixgcf, M: 8" "dens, M: 4" "ans, M: 4, layers: per_layer"; do
  name=${sampler%%,*}
cat > "$T/lod-$name.yaml" <<Y
version: 1
name: e2e-lod-$name
data: {synthetic: {users: 300, items: 2000, per_user: 15}}
model: {name: lightgcn, dim: 64, layers: 3}
sampler: {name: $sampler}
train: {epochs: 2, lr: 0.01, batch_size: 256, threads: 2}
eval: {every: 2, topk: [20], patience: 5}
Y
  q="select group_concat(loss, ' ') from epoch; select group_concat(value, ' ') from epoch_metric"
  od=$(NB_PROFILE=1 "$NB" run -q "$T/lod-$name.yaml" --db "$T/lod1-$name.sqlite" 2>"$T/err" >/dev/null &&
       sqlite3 "$T/lod1-$name.sqlite" "$q")
  full=$(NB_ON_DEMAND=0 "$NB" run -q "$T/lod-$name.yaml" --db "$T/lod0-$name.sqlite" 2>>"$T/err" >/dev/null &&
         sqlite3 "$T/lod0-$name.sqlite" "$q")
  [ -n "$od" ] && [ "$od" = "$full" ] && grep -q "^profile: on demand: stack rows" "$T/err"
  ok $? "lightgcn + $name: the stack on demand (as NB_PROFILE says) trains exactly as the full stack ($(echo $od | cut -c1-40)...)"
  sed 's/^/# /' "$T/err" | grep -v "^# profile" | tail -2
done

# ANS's subnormal flush (sampler.subnormals, default flush) against keep, on
# the per-layer run above: the same losses and metrics (a short run makes
# few subnormals; docs/methods/ans.md has the dens-beauty comparison)
sed 's/layers: per_layer}/layers: per_layer, subnormals: keep}/' "$T/lod-ans.yaml" > "$T/keep.yaml"
keep=$("$NB" run -q "$T/keep.yaml" --db "$T/keep.sqlite" 2>"$T/err" >/dev/null &&
       sqlite3 "$T/keep.sqlite" "$q")
[ -n "$keep" ] && [ "$keep" = "$od" ]
ok $? "lightgcn + ans: subnormals keep trains as flush ($(echo $keep | cut -c1-40)...)"
sed 's/^/# /' "$T/err" | tail -2

# model.eval_rows ego (the official ANS code's layer-0 evaluation): the same
# training losses as the default, other metrics (layer 0 ranks differently),
# a fresh instance's evaluation view under NB_CHECK_CACHE, and the default
# left out of the run's identity (runs stored before the option stay done)
sed 's/layers: 3}/layers: 3, eval_rows: ego}/' "$T/lod-ans.yaml" > "$T/ego.yaml"
ql="select group_concat(loss, ' ') from epoch"
qm="select group_concat(value, ' ') from epoch_metric"
ego_l=$(NB_CHECK_CACHE=1 "$NB" run -q "$T/ego.yaml" --db "$T/ego.sqlite" 2>"$T/err" >/dev/null &&
        sqlite3 "$T/ego.sqlite" "$ql")
[ -n "$ego_l" ] && [ "$ego_l" = "$(sqlite3 "$T/lod1-ans.sqlite" "$ql")" ] &&
  [ "$(sqlite3 "$T/ego.sqlite" "$qm")" != "$(sqlite3 "$T/lod1-ans.sqlite" "$qm")" ]
ok $? "lightgcn eval_rows ego: the default's losses ($(echo $ego_l | cut -c1-30)...), other metrics, NB_CHECK_CACHE passes"
sed 's/^/# /' "$T/err" | tail -2
sed 's/layers: 3}/layers: 3, eval_rows: pooled}/' "$T/lod-ans.yaml" > "$T/pooled.yaml"
"$NB" run "$T/pooled.yaml" --db "$T/lod1-ans.sqlite" > "$T/out" 2>&1
grep -q "is already done" "$T/out"
ok $? "lightgcn eval_rows pooled (the default) is the run stored without it: found done"

tap_done
