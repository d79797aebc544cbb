#!/bin/sh
# e2e-synthetic.sh - end to end on the synthetic set: MF + RNS and MF + DNS
# train, every epoch is stored, Recall@20 is far above a random ranking's,
# a second run of the same configuration is skipped, a run re-executes itself
# with OPENBLAS_THREAD_TIMEOUT=4, a run stopped by SIGTERM is marked
# interrupted (exit 75) and resumes; LightGCN + ANS per
# layer trains without NaN; final rows on demand train exactly as the full
# last product; train.adam_defer auto trains as off on a small catalogue and
# as on on a large one. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbe2e
q() { sqlite3 "$T/r.sqlite" "$1"; }

for s in rns dns; do
cat > "$T/$s.yaml" <<Y
version: 1
name: e2e-$s
data:
  synthetic: {users: 1500, items: 800, rank: 6, per_user: 25}
model: {name: mf, dim: 24}
sampler: {name: $s}
train: {epochs: 12, lr: 0.01, batch_size: 1024, threads: 2}
eval: {every: 2, topk: [10, 20], metric: recall@20, patience: 10}
Y
  "$NB" run "$T/$s.yaml" --db "$T/r.sqlite" >"$T/out" 2>"$T/err"
  ok $? "mf + $s trains (exit 0)"
  sed 's/^/# /' "$T/err" | tail -3
  recall=$(q "select value from final_metric f join run r on r.id=f.run_id where r.sampler='$s' and split='test' and metric='recall' and k=20")
  # random ranking: E[recall@20] = 20 / (unmasked items), about 20/780
  awk -v r="$recall" 'BEGIN { exit !(r > 5 * 20 / 780) }'
  ok $? "mf + $s: test recall@20 = $recall is more than 5x a random ranking's"
  epochs=$(q "select count(*) from epoch e join run r on r.id=e.run_id where r.sampler='$s'")
  [ "$epochs" -eq 12 ]; ok $? "mf + $s: all 12 epochs stored ($epochs)"
  status=$(q "select status from run where sampler='$s'")
  [ "$status" = done ]; ok $? "mf + $s: run status done"
done
rates=$(q "select count(*) from sampler_stat where name='reject_rate' and value > 0")
[ "$rates" -ge 24 ]; ok $? "every epoch stored its positive-rejection rate ($rates)"
mm=$(q "select count(*) from sampler_stat where name='cand_max_norm'")
[ "$mm" -eq 12 ]; ok $? "dns stored its first-pass max/min statistics ($mm epochs)"
hits=$(q "select sum(n_hits) from user_ranks where split='test'")
[ "$hits" -gt 100 ]; ok $? "per-user test ranks stored ($hits hits)"
vr=$(q "select count(*) from user_ranks where split='valid'")
[ "$vr" -eq 2 ]; ok $? "per-user validation ranks stored for both runs ($vr)"

"$NB" run "$T/dns.yaml" --db "$T/r.sqlite" >"$T/out" 2>"$T/err"
ok $? "running a finished configuration again exits 0"
grep -q "already done" "$T/err"; ok $? "... and says it is already done"
[ "$(q 'select count(*) from run')" -eq 2 ]; ok $? "... without a new run"

# SIGTERM mid-run: interrupted (75), no half epoch, then resumed to done
sed -e 's/epochs: 12/epochs: 400/' -e 's/patience: 10/patience: 1000/' -e 's/e2e-dns/e2e-long/' \
  "$T/dns.yaml" > "$T/long.yaml"
env -u OPENBLAS_THREAD_TIMEOUT "$NB" run "$T/long.yaml" --db "$T/r.sqlite" >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 100 ]; do
  c=$(q "select count(*) from epoch e join run r on r.id=e.run_id where r.config_json like '%\"epochs\":400%'" 2>/dev/null)
  [ "${c:-0}" -ge 2 ] && break
  sleep 0.1; i=$((i + 1))
done
# with OpenBLAS, a run re-executes itself once with OPENBLAS_THREAD_TIMEOUT=4
# (the same pid), unless the variable was set
if "$NB" --version | grep -q "BLAS openblas"; then
  tr '\0' '\n' < "/proc/$pid/environ" | grep -qx "OPENBLAS_THREAD_TIMEOUT=4"
  ok $? "a run started without OPENBLAS_THREAD_TIMEOUT runs with it set to 4"
else
  echo "ok $((n = n + 1)) - # SKIP not built with OpenBLAS"
fi
kill -TERM $pid
wait $pid
st=$?
[ $st -eq 75 ]; ok $? "SIGTERM: exit status 75 ($st)"
[ "$(q "select status from run where config_json like '%\"epochs\":400%'")" = interrupted ]
ok $? "SIGTERM: the run is marked interrupted"
half=$(q "select count(*) from epoch e where e.epoch % 2 = 0 and not exists (select 1 from epoch_metric m where m.run_id=e.run_id and m.epoch=e.epoch)")
[ "$half" -eq 0 ]; ok $? "no evaluated epoch without its metrics"
sed -i 's/epochs: 400/epochs: 4/; s/epochs":400/epochs":4/' "$T/long.yaml"
"$NB" run "$T/long.yaml" --db "$T/r.sqlite" >"$T/out" 2>"$T/err"
ok $? "a shorter configuration runs after the interrupted one"

# statistics of the paper's analyses: score histograms, test metrics per evaluation
cat > "$T/hist.yaml" <<'Y'
version: 1
name: e2e-hist
data: {synthetic: {users: 400, items: 300, per_user: 20}}
model: {name: mf, dim: 16}
sampler: {name: dns, M: 8}
train: {epochs: 4, lr: 0.01, batch_size: 512}
eval: {every: 2, topk: [20], patience: 5, test_every_eval: true, histogram_epochs: [0, 4], histogram_pairs: 3000, histogram_bins: 12}
Y
"$NB" run -q "$T/hist.yaml" --db "$T/h.sqlite" >/dev/null 2>"$T/err"
ok $? "a run with histograms and per-evaluation test metrics"
h=$(sqlite3 "$T/h.sqlite" "select group_concat(epoch || ':' || (length(counts) / 8)) from score_histogram")
[ "$h" = "0:12,4:12" ]; ok $? "score histograms stored before training and at epoch 4 ($h)"
tot=$(sqlite3 "$T/h.sqlite" "select count(*) from epoch_metric where split = 'test'")
[ "$tot" -eq 10 ]; ok $? "test metrics stored at both evaluations ($tot rows)"

# a NaN loss stops the run with a stored error, exit 1
sed -e 's/name: dns, M: 8/name: nan_sampler/' -e 's/e2e-hist/e2e-nan/' "$T/hist.yaml" > "$T/nan.yaml"
NEGBENCH_PLUGIN_PATH="$B/tests/fixtures/plugins/ok/.libs" "$NB" run -q "$T/nan.yaml" --db "$T/h.sqlite" >/dev/null 2>"$T/err"
[ $? -eq 1 ]; ok $? "a non-finite loss fails the run (exit 1)"
grep -q "non-finite loss at epoch 1 step 2" "$T/err"; ok $? "... with a clear message"
e=$(sqlite3 "$T/h.sqlite" "select status || ': ' || error from run where config_json like '%nan_sampler%'")
case "$e" in failed:*non-finite*) r=0 ;; *) r=1 ;; esac; ok $r "... stored on the run ($e)"

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
