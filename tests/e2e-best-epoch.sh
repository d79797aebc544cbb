#!/bin/sh
# e2e-best-epoch.sh - a run's stored final results are those of its best
# validation epoch, for every backbone. For MF, LightGCN, NGCF and SGL, a
# run whose best epoch is earlier than its last (high learning rate, no
# regulariser, every epoch evaluated on validation and test) must store as
# final test metrics exactly the test metrics evaluated during training at
# the best epoch, and the same per-user hits as a second run stopped at that
# epoch (the same trajectory: streams depend on seed, epoch and position
# only). Before parameter versions (ABI 1.5) the graph models served the
# final evaluation from the propagation cached at the last epoch, and these
# checks failed. Then the checking mode: NB_CHECK_CACHE=1 trains the same
# runs to the same numbers, and fails a model whose evaluation cache ignores
# the version (tests/fixtures/plugins/stale). TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbbest

# config MODEL EPOCHS NAME: the run's YAML on stdout
config() {
  cat <<Y
version: 1
name: $3
data:
  synthetic: {users: 600, items: 400, rank: 4, per_user: 20}
  valid_share: 0.2
model: {name: $1, dim: 16}
sampler: {name: rns}
train: {epochs: $2, lr: 0.05, batch_size: 256, reg_weight: 0, threads: 1, seed: 7}
eval: {every: 1, topk: [5, 10], metric: recall@10, patience: 100, test_every_eval: true}
Y
}
q() { sqlite3 "$1" "$2"; }

for m in lightgcn ngcf sgl mf; do
  config $m 16 "best-$m" > "$T/$m.yaml"
  "$NB" run -q "$T/$m.yaml" --db "$T/a.sqlite" >/dev/null 2>"$T/err"
  ok $? "$m: 16 epochs train (exit 0)"
  best=$(q "$T/a.sqlite" "select best_epoch from run where model='$m'")
  if [ "$m" != mf ]; then
    [ "${best:-16}" -lt 16 ]; ok $? "$m: the best validation epoch ($best) is earlier than the last"
  fi
  same=$(q "$T/a.sqlite" "select count(*) || '/' || sum(f.value = e.value) from run r
    join final_metric f on f.run_id = r.id and f.split = 'test'
    join epoch_metric e on e.run_id = r.id and e.epoch = r.best_epoch and e.split = 'test'
      and e.metric = f.metric and e.k = f.k where r.model = '$m'")
  [ "$same" = "10/10" ]
  ok $? "$m: final test metrics equal the test metrics evaluated at epoch $best ($same equal)"

  # the same trajectory stopped at the best epoch: its final hits are epoch $best's
  config $m "$best" "stop-$m" > "$T/$m-stop.yaml"
  "$NB" run -q "$T/$m-stop.yaml" --db "$T/b.sqlite" >/dev/null 2>>"$T/err"
  ok $? "$m: the run stopped at epoch $best trains (exit 0)"
  diff=$(q "$T/a.sqlite" "attach '$T/b.sqlite' as b;
    select x.n_users || ' ' || x.n_hits || ' ' || (x.data = y.data)
    from user_ranks x join run r on r.id = x.run_id and r.model = '$m',
         b.user_ranks y join b.run s on s.id = y.run_id and s.model = '$m'
    where x.split = 'test' and y.split = 'test'")
  set -- $diff
  [ "${2:-0}" -gt 0 ] && [ "$3" = 1 ]
  ok $? "$m: per-user test ranks equal those of the run stopped at epoch $best ($1 users, $2 hits, equal: $3)"
  fin=$(q "$T/a.sqlite" "attach '$T/b.sqlite' as b; select count(*) || '/' || sum(f.value = g.value)
    from final_metric f join run r on r.id = f.run_id and r.model = '$m'
    join b.final_metric g join b.run s on s.id = g.run_id and s.model = '$m'
    where g.split = f.split and g.metric = f.metric and g.k = f.k")
  case "$fin" in 20/20|10/10) true;; *) false;; esac
  ok $? "$m: final metrics equal those of the run stopped at epoch $best ($fin)"

  NB_CHECK_CACHE=1 "$NB" run -q "$T/$m.yaml" --db "$T/c.sqlite" >/dev/null 2>"$T/err"
  ok $? "$m: NB_CHECK_CACHE=1 finds every evaluation view fresh (exit 0)"
  sed 's/^/# /' "$T/err" | tail -2
  fin=$(q "$T/a.sqlite" "attach '$T/c.sqlite' as c; select sum(f.value = g.value) || '/' || count(*)
    from final_metric f join run r on r.id = f.run_id and r.model = '$m'
    join c.final_metric g join c.run s on s.id = g.run_id and s.model = '$m'
    where g.split = f.split and g.metric = f.metric and g.k = f.k")
  case "$fin" in 0/*|/*|'') false;; *) [ "${fin%/*}" = "${fin#*/}" ];; esac
  ok $? "$m: ... and stores the same final metrics as without it ($fin)"
done

# a model whose evaluation cache ignores params_version: trains, but its
# final evaluation (after the best epoch's restore) is stale
config stale_model 16 stale | sed 's/lr: 0.05/lr: 0.3/' > "$T/stale.yaml"
P="$B/tests/fixtures/plugins/stale/.libs"
NEGBENCH_PLUGIN_PATH="$P" "$NB" run -q "$T/stale.yaml" --db "$T/s.sqlite" >/dev/null 2>"$T/err"
ok $? "the stale fixture model trains without the checking mode (exit 0)"
best=$(q "$T/s.sqlite" "select best_epoch from run")
[ "${best:-16}" -lt 16 ]; ok $? "stale fixture: the best epoch ($best) is earlier than the last"
NB_CHECK_CACHE=1 NEGBENCH_PLUGIN_PATH="$P" "$NB" run -q "$T/stale.yaml" --db "$T/s2.sqlite" \
  >/dev/null 2>"$T/err"
st=$?
[ $st -ne 0 ] && grep -q "NB_CHECK_CACHE: model stale_model" "$T/err"
ok $? "NB_CHECK_CACHE=1 fails the stale fixture (exit $st) and names the model"
sed 's/^/# /' "$T/err" | tail -2
status=$(q "$T/s2.sqlite" "select status from run")
[ "$status" = failed ]; ok $? "... and its run is stored as failed ($status)"

tap_done
