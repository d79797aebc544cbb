# tap.sh - sourced by the shell tests (tests/e2e-*.sh): TAP output helpers.
#   ok STATUS DESCRIPTION   prints "ok N - ..." when STATUS is 0, else "not ok N - ..."
#   skip REASON             prints "ok N # SKIP REASON" (a point that cannot run here)
#   tap_done                prints the plan "1..N"; its status is 0 only if every point passed
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
tap_done() { echo "1..$n"; [ $fails -eq 0 ]; }
