#!/bin/sh
# e2e-synthetic-stats.sh - the statistics of the paper's analyses on the
# synthetic set (score histograms before training and at a chosen epoch,
# test metrics at every evaluation), and a non-finite loss that stops the
# run with exit 1 and an error stored on the run. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbe2estats

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

tap_done
