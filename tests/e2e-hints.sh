#!/bin/sh
# e2e-hints.sh - the performance hints cannot train silently wrong:
# `negbench plugins --check NAME` passes for every shipped model (samplers:
# e2e-hints-samplers.sh, run beside this script by make -j2 check) and fails
# for fixture samplers that break a hint (tests/fixtures/plugins/hints:
# nosync reads a row it did not sync, stale_reg regularises one, layers
# reads the per-layer stack under FINAL_ONLY, stack_nosync reads a stack row
# it did not sync, which ABI 1.6's SYNCS_ROWS covers); NB_CHECK_HINTS=1 fails a
# plain run of the broken sampler with a message naming it, and without it
# the same run trains (the hint is wrong silently: what the check is for).
# Limits that used to drop data: 40 sampler statistics are all stored, 70
# sampler parameter blocks are an error naming the sampler. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbhints
FX="$B/tests/fixtures/plugins/hints/.libs"

# every shipped model passes (the samplers: e2e-hints-samplers.sh)
check_shipped model

# the broken fixtures fail it, each with the reason
check_fails() { # name, pattern, label
  NEGBENCH_PLUGIN_PATH="$FX" "$NB" plugins --check "$1" >"$T/out" 2>"$T/err"
  st=$?
  sed 's/^/# /' "$T/out"
  [ $st -eq 1 ] && grep -q "$2" "$T/out"
  ok $? "plugins --check $1 fails: $3 (exit $st)"
}
check_fails nosync "FAILED with the hints: sampler nosync: hint check: .*not finite" \
  "a row read without a sync is NaN"
check_fails stale_reg "sampler stale_reg: hint check: regularised item [0-9]* was never synced" \
  "a regularised row never synced"
check_fails layers "lightgcn + layers.*FAILED.*per-layer stack" \
  "the per-layer stack read under FINAL_ONLY"
grep -q "mf + layers.*: ok" "$T/out"; ok $? "... while on mf, where the stack is the final rows, layers passes"
check_fails stack_nosync "lightgcn + stack_nosync.*FAILED.*sampler stack_nosync: hint check: .*not finite" \
  "a stack row read without a sync is NaN (layers on demand)"
NEGBENCH_PLUGIN_PATH="$FX" "$NB" plugins --check no_such_plugin >"$T/out" 2>"$T/err"
[ $? -eq 2 ] && grep -q 'no plugin "no_such_plugin"' "$T/err"
ok $? "plugins --check of an unknown name: exit 2 with a message"

# NB_CHECK_HINTS=1 on a plain run
cat > "$T/x.yaml" <<Y
version: 1
name: hints
data: {synthetic: {users: 200, items: 150, per_user: 10}}
model: {name: mf, dim: 8}
sampler: {name: nosync}
train: {epochs: 2, lr: 0.01, batch_size: 128, adam_defer: on}
eval: {every: 2, topk: [10], metric: recall@10}
Y
NEGBENCH_PLUGIN_PATH="$FX" NB_CHECK_HINTS=1 "$NB" run -q "$T/x.yaml" --db "$T/r.sqlite" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "sampler nosync: hint check" "$T/err"
ok $? "NB_CHECK_HINTS=1: the run of a sampler breaking SYNCS_ROWS fails naming it"
NEGBENCH_PLUGIN_PATH="$FX" NB_CHECK_HINTS=0 "$NB" run -q "$T/x.yaml" --db "$T/r.sqlite" --force >"$T/out" 2>"$T/err"
ok $? "without checking mode the same run trains on stale rows without an error"
sed 's/name: nosync/name: rns/' "$T/x.yaml" > "$T/rns.yaml"
NB_CHECK_HINTS=1 "$NB" run -q "$T/rns.yaml" --db "$T/r.sqlite" >"$T/out" 2>"$T/err"
ok $? "NB_CHECK_HINTS=1: mf + rns trains"

# limits: 40 statistics stored, 70 blocks refused
sed 's/name: nosync/name: many_stats/' "$T/x.yaml" > "$T/stats.yaml"
NEGBENCH_PLUGIN_PATH="$FX" "$NB" run -q "$T/stats.yaml" --db "$T/s.sqlite" >"$T/out" 2>"$T/err"
ok $? "a sampler with 40 statistics trains"
stored=$(sqlite3 "$T/s.sqlite" "select count(*) || ':' || max(value) from sampler_stat where epoch = 2")
[ "$stored" = "40:39.0" ]; ok $? "all 40 statistics of an epoch are stored ($stored)"
sed 's/name: nosync/name: many_blocks/' "$T/x.yaml" > "$T/blocks.yaml"
NEGBENCH_PLUGIN_PATH="$FX" "$NB" run -q "$T/blocks.yaml" --db "$T/b.sqlite" >"$T/out" 2>"$T/err"
st=$?
[ $st -eq 1 ] && grep -q "sampler many_blocks: 70 parameter blocks" "$T/err"
ok $? "70 sampler parameter blocks: the run fails naming the sampler (exit $st)"
sed 's/^/# /' "$T/err" | tail -2

tap_done
