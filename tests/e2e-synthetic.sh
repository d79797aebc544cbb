#!/bin/sh
# e2e-synthetic.sh - end to end on the synthetic set: MF + RNS and MF + DNS
# train, every epoch is stored, Recall@20 is far above a random ranking's,
# a second run of the same configuration is skipped, a run re-executes itself
# with OPENBLAS_THREAD_TIMEOUT=4, a run stopped by SIGTERM is marked
# interrupted (exit 75) and resumes. The other synthetic end-to-end checks
# are in e2e-synthetic-stats.sh, e2e-synthetic-graph.sh and
# e2e-synthetic-defer.sh (separate scripts, so that make -j2 check runs them
# side by side). TAP output.

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
  skip "not built with OpenBLAS"
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

tap_done
