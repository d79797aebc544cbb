#!/bin/bash
# run.sh - train every artefact of the ANS study (docs/reproducing.md).
#
#   experiments/paper/run.sh [ARTEFACT...]     # default: all, in the order below
#
# Run from the top of the checkout with ../shared/data present (or
# NEGBENCH_DATA pointing at the data sets). Each artefact is one sweep,
# experiments/paper/ARTEFACT.yaml, into its own store results/ARTEFACT.sqlite
# (stores stay out of git). Sweeps resume: running this again skips the runs
# already done, so a killed study is continued by the same command. For each
# sweep it appends a line to results/study-times.tsv: artefact, start and end
# (UTC), wall seconds, runs done, failed and not started, negbench's version,
# the machine (CPUs, load average at the start, OpenBLAS's kernels: see
# docs/performance.md#blas-kernels) - the figures results/README.md
# quotes. JOBS (default 2) sets the parallel runs; NEGBENCH (default
# ./negbench) the binary.
set -u
cd "$(dirname "$0")/../.." || exit 2
NEGBENCH=${NEGBENCH:-./negbench}
JOBS=${JOBS:-2}
ALL="table2 fig2 fig1 table3 table3-gamma0.01 table3-official protocol-dens-heldout protocol-recbole-positives fig5 table5 sens-gamma sens-eps sens-M table2-dens"
[ $# -gt 0 ] && ALL="$*"
times=results/study-times.tsv
[ -f "$times" ] || printf 'artefact\tstart\tend\twall_s\tsummary\tversion\tmachine\n' > "$times"
version=$("$NEGBENCH" --version | head -1)
# the kernels runs use: what negbench asks for, else what OpenBLAS detected
blas=$("$NEGBENCH" --version | sed -n 's/^BLAS kernels: //p')
case $blas in *"runs ask for "*) blas=${blas#*runs ask for }; blas="${blas%% *} (negbench's choice)" ;; esac
[ -n "${OPENBLAS_CORETYPE:-}" ] && blas="$OPENBLAS_CORETYPE (OPENBLAS_CORETYPE)"
# SIGTERM or SIGINT (Ctrl-C) stops the running sweep the way negbench stops
# (runs interrupted at their next step, exit 75; the same command resumes
# them), logs its segment and starts no further artefact. The sweep runs in
# the background so that the signal reaches this script at once.
status=0 stop=0 pid=
trap 'stop=1; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null' TERM INT
for a in $ALL; do
    [ "$stop" -eq 0 ] || break
    yaml=experiments/paper/$a.yaml
    [ -f "$yaml" ] || { echo "run.sh: $yaml: no such artefact" >&2; status=2; continue; }
    machine="$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), BLAS kernels ${blas:-unknown}"
    start=$(date -u +%FT%TZ); t0=$(date +%s)
    log=$(mktemp)
    "$NEGBENCH" run "$yaml" -j "$JOBS" --db "results/$a.sqlite" > "$log" 2>&1 &
    pid=$!
    tail -n +1 -f --pid="$pid" "$log" &
    shown=$!
    while :; do # a trapped signal ends wait early: wait again for the sweep's status
        wait "$pid"; rc=$?
        [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null && continue
        break
    done
    pid=
    wait "$shown"
    summary=$(grep "^sweep $a: .* done" "$log" | tail -1 | sed 's/; store .*//')
    rm -f "$log"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$a" "$start" "$(date -u +%FT%TZ)" \
        "$(( $(date +%s) - t0 ))" "${summary:-exit $rc}" "$version" "$machine" >> "$times"
    [ "$rc" -eq 0 ] || status=$rc
done
[ "$stop" -eq 0 ] || echo "run.sh: stopped; the same command resumes the study" >&2
exit $status
